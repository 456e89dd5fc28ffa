//! Shared setup of the ops tests: a config from `config/pintu.toml` with a
//! unique broker prefix and a temp data dir, the gateway in-process, helpers
//! to send SMS through the generic webhook and to clean the broker up.
#![allow(dead_code)]

pub mod browser;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use pintu::config::Config;
use pintu::ops::Summary;

pub const OPS_TOKEN: &str = "ops-test-token";

pub fn config(data_dir: &Path) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/pintu.toml");
    let mut cfg = Config::load(&path).unwrap();
    cfg.data_dir = data_dir.to_path_buf();
    cfg.amqp.prefix = format!("t-{:016x}", rand::random::<u64>());
    cfg.http.addr = "127.0.0.1:0".parse().unwrap();
    cfg.http.ops_token = Some(OPS_TOKEN.into());
    cfg.ops.refresh_ms = 250;
    // Without a reply transport for the generic provider every reply would be
    // dead-lettered; the figures under test are the intake ones.
    cfg.replies.enabled = false;
    cfg
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

/// Remove every exchange and queue of the test's prefix.
pub async fn cleanup(cfg: &Config) {
    let Ok(conn) = pintu::broker::connect(&cfg.amqp, "pintu-test-cleanup").await else {
        return;
    };
    let topo = pintu::broker::Topology::new(&cfg.amqp);
    for q in &topo.queues {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .queue_delete(q.name.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
    for e in &topo.exchanges {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .exchange_delete(e.name.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
    // The node's reservation queue and exchange (pintu::node).
    if let Ok(ch) = conn.create_channel().await {
        let p = &cfg.amqp.prefix;
        let _ = ch
            .queue_delete(
                pintu::node::codes_queue(p, cfg.node.id()).into(),
                QueueDeleteOptions::default(),
            )
            .await;
        let _ = ch
            .exchange_delete(pintu::node::exchange(p).into(), ExchangeDeleteOptions::default())
            .await;
    }
    let _ = conn.close(200, "bye".into()).await;
}

/// Deletes the test's broker objects when dropped, also when the test panics
/// (the broker is shared with other engineers' test runs).
pub struct BrokerCleanup(pub Config);

impl Drop for BrokerCleanup {
    fn drop(&mut self) {
        let cfg = self.0.clone();
        // A runtime cannot be started inside the test's runtime thread.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(cleanup(&cfg));
            }
        })
        .join();
    }
}
