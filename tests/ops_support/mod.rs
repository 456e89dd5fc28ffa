//! Shared setup of the ops tests, on `crate::support` (the test binary
//! declares `mod support;`): the ops settings of a test config, helpers to
//! send SMS through the generic webhook and to read `/ops/api/summary`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pintu::config::Config;
use pintu::ops::Summary;

pub const OPS_TOKEN: &str = "ops-test-token";

/// The ops settings, on a test config (`spawn_app(ops_config)`).
pub fn ops_config(cfg: &mut Config) {
    cfg.http.ops_token = Some(OPS_TOKEN.into());
    cfg.ops.refresh_ms = 250;
    // Without a reply transport for the generic provider every reply would be
    // dead-lettered; the figures under test are the intake ones.
    cfg.replies.enabled = false;
}

pub fn generic_token(cfg: &Config) -> String {
    cfg.channels.generic.auth.token.clone().unwrap().expose().to_string()
}

/// POST one SMS to the generic webhook; returns the HTTP status.
pub async fn send_sms(http: &reqwest::Client, addr: SocketAddr, token: &str, id: &str, text: &str) -> u16 {
    http.post(format!("http://{addr}/sms/generic"))
        .bearer_auth(token)
        .json(&serde_json::json!({"id": id, "from": "081234567890", "to": "1708", "text": text}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub async fn summary(http: &reqwest::Client, addr: SocketAddr) -> Summary {
    http.get(format!("http://{addr}/ops/api/summary"))
        .bearer_auth(OPS_TOKEN)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub fn queue_messages(s: &Summary, name: &str) -> Option<u64> {
    s.queues.iter().find(|q| q.name == name).and_then(|q| q.messages)
}

/// Poll the summary until `ok` holds; panics with the last summary after `secs`.
pub async fn wait_for(
    http: &reqwest::Client,
    addr: SocketAddr,
    secs: u64,
    what: &str,
    ok: impl Fn(&Summary) -> bool,
) -> Summary {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let s = summary(http, addr).await;
        if ok(&s) {
            return s;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}; last summary: {}",
                serde_json::to_string_pretty(&s).unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
