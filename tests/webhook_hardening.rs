//! Webhooks as an attacker meets them: behind a proxy, replayed, and what
//! reaches the logs (issue 11, items 5, 6 and 11).

mod support;

use std::sync::{Mutex, OnceLock};

use pintu::config::Config;
use pintu_channels::Secret;
use support::*;

/// Everything this test binary logs (debug and up for Pintu). Installed
/// before any gateway starts, so `init_logging` finds it and stays out.
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        struct Sink(&'static Mutex<Vec<u8>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,pintu=debug"))
            .with_ansi(false)
            .with_writer(move || Sink(buf))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
        buf
    })
}

fn log_text() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

const KANNEL_TOKEN: &str = "kN-5tB8yU1oP3aS6dF9g";
const GENERIC_TOKEN: &str = "gN-8mN1bV4cX7zL0kJ3h";
const OPS_TOKEN: &str = "0pS-7hJ2vQ9xR4mK8wLz";

/// Real secrets on a test config, so it may also be exposed.
fn strong_config(cfg: &mut Config) {
    cfg.replies.enabled = false;
    cfg.http.ops_token = Some(Secret::new(OPS_TOKEN));
    cfg.channels.kannel.auth.token = Some(Secret::new(KANNEL_TOKEN));
    cfg.channels.kannel.password = Some(Secret::new("sendsms-h4J7kL0zX"));
    cfg.channels.jasmin.auth.token = Some(Secret::new("jS-2qW5eR8tY1uI4oP7a"));
    cfg.channels.jasmin.password = Some(Secret::new("jasmin-z3X6cV9b"));
    cfg.channels.generic.auth.token = Some(Secret::new(GENERIC_TOKEN));
}

async fn kannel(c: &reqwest::Client, addr: std::net::SocketAddr, id: &str, xff: Option<&str>) -> u16 {
    let url = format!(
        "http://{addr}/sms/kannel?token={KANNEL_TOKEN}&id={id}&from=%2B6281234567001&to=1708&text=Jalan+rusak+di+Kota+Bandung"
    );
    let mut req = c.get(url);
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlists_see_the_client_behind_a_trusted_proxy_only() {
    logs();
    let gw = spawn_app(|cfg| {
        strong_config(cfg);
        cfg.channels.kannel.auth.allow_ips = vec!["198.51.100.7".into()];
        cfg.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    })
    .await;
    let c = reqwest::Client::new();
    // The proxy on this host forwards the SMS gateway's request.
    assert_eq!(kannel(&c, gw.addr, "p-1", Some("198.51.100.7")).await, 200);
    // A client claiming the gateway's address: the proxy appends the real one.
    assert_eq!(kannel(&c, gw.addr, "p-2", Some("198.51.100.7, 203.0.113.9")).await, 403);
    // Forwarded without a header: not attributed to the (local) proxy.
    assert_eq!(kannel(&c, gw.addr, "p-3", None).await, 403);
    // Behind a proxy loopback is public: the ops endpoints want the token.
    let ready = format!("http://{}/readyz", gw.addr);
    assert_eq!(c.get(&ready).send().await.unwrap().status(), 401);
    let with_token = c.get(&ready).bearer_auth(OPS_TOKEN).send().await.unwrap();
    assert_ne!(with_token.status(), 401);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_from_anyone_else_is_ignored() {
    logs();
    let gw = spawn_app(|cfg| {
        strong_config(cfg);
        cfg.channels.kannel.auth.allow_ips = vec!["198.51.100.7".into()];
    })
    .await;
    let c = reqwest::Client::new();
    assert_eq!(kannel(&c, gw.addr, "q-1", Some("198.51.100.7")).await, 403);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_keep_tokens_out_and_citizens_apart_from_their_codes() {
    logs();
    let gw = spawn_app(|cfg| {
        strong_config(cfg);
        cfg.http.access_log = true;
    })
    .await;
    let c = reqwest::Client::new();
    let url = format!(
        "http://{}/sms/kannel?token={KANNEL_TOKEN}&id=log-1&from=%2B6281299887766&to=1708&text=Pungli+di+kantor+kelurahan+Kota+Bandung",
        gw.addr
    );
    let resp = c.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    let code = body.trim().strip_prefix("OK ").expect("a tracking code").to_string();
    // A wrong token is logged too, masked as well.
    let bad = format!("http://{}/sms/kannel?token=wrong-{KANNEL_TOKEN}&id=log-2", gw.addr);
    assert_eq!(c.get(bad).send().await.unwrap().status(), 403);
    gw.stop().await;

    let text = log_text();
    let access: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("pintu::access") && l.contains("/sms/kannel"))
        .collect();
    assert!(access.len() >= 2, "no access log lines: {text}");
    assert!(access.iter().all(|l| l.contains("token=***")), "{access:?}");
    assert!(!text.contains(KANNEL_TOKEN), "the token reached the logs");
    // The number appears nowhere in full, and its masked form never beside the code.
    assert!(!text.contains("6281299887766") && !text.contains("99887"), "{text}");
    for line in text.lines().filter(|l| l.contains(&code)) {
        assert!(!line.contains("+62"), "tracking code beside the sender: {line}");
    }
}

async fn generic(c: &reqwest::Client, addr: std::net::SocketAddr, id: &str, from: &str) -> (String, bool) {
    let body =
        serde_json::json!({"id": id, "from": from, "to": "1708", "text": "Puskesmas tutup di jam kerja, Kab. Bogor"});
    let r = c
        .post(format!("http://{addr}/sms/generic"))
        .bearer_auth(GENERIC_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let a = &v["accepted"][0];
    (
        a["tracking"].as_str().unwrap_or("").to_string(),
        a["duplicate"].as_bool().unwrap(),
    )
}

/// A captured request replayed after the dedupe window is still recognised
/// (same code, nothing new published); the sender is part of the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_after_the_dedupe_window_is_not_a_new_complaint() {
    logs();
    let gw = spawn_app(|cfg| {
        strong_config(cfg);
        cfg.dedupe.window_secs = 1;
    })
    .await;
    let prefix = gw.prefix().to_string();
    let c = reqwest::Client::new();
    let (code, dup) = generic(&c, gw.addr, "rp-1", "081234567001").await;
    assert!(code.starts_with("LPR-") && !dup);
    // Inside the dedupe window: the ordinary duplicate.
    assert_eq!(generic(&c, gw.addr, "rp-1", "081234567001").await, (code.clone(), true));
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    // After it: the replay store answers, with the original code.
    assert_eq!(generic(&c, gw.addr, "rp-1", "081234567001").await, (code.clone(), true));
    // Another citizen whose gateway reused the id is not a replay.
    let (other, dup) = generic(&c, gw.addr, "rp-1", "081234567002").await;
    assert!(!dup && other != code);
    let got = take(&format!("{prefix}.intake"), 3, std::time::Duration::from_secs(5)).await;
    let ids: std::collections::HashSet<&str> = got.iter().map(|g| g.message_id.as_str()).collect();
    assert_eq!(ids.len(), 2, "exactly two complaints published");
    gw.stop().await;
}

/// X signs the tweet's creation time (it is in the signed body): a signed
/// event far older than any delivery delay is a replay, never ingested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_signed_x_event_is_refused() {
    logs();
    let secret = "x-consumer-5tB8yU1oP3aS6dF9gH2j";
    let gw = spawn_app(|cfg| {
        strong_config(cfg);
        cfg.channels.x.user_id = "1708170817081708".into();
        cfg.channels.x.username = "lapor1708".into();
        cfg.channels.x.webhook.enabled = true;
        cfg.channels.x.webhook.consumer_secret = Some(Secret::new(secret));
    })
    .await;
    let prefix = gw.prefix().to_string();
    let post = |event: serde_json::Value| {
        let body = serde_json::to_vec(&event).unwrap();
        let sig = pintu_tools::sim::client::x_signature(secret, &body);
        let url = format!("http://{}/webhooks/x", gw.addr);
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .header("x-twitter-webhooks-signature", sig)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let fresh = pintu_tools::sim::client::x_mention_event(
        "1708170817081708",
        "lapor1708",
        "1800000000000000001",
        "42",
        "budi",
        "Jalan rusak di Depok",
    );
    let (status, body) = post(fresh.clone()).await;
    assert_eq!(status, 200);
    assert!(body.contains("LPR-"), "{body}");
    let mut stale = pintu_tools::sim::client::x_mention_event(
        "1708170817081708",
        "lapor1708",
        "1800000000000000002",
        "43",
        "ani",
        "Lampu jalan mati di Depok",
    );
    let two_hours_ago = chrono::Utc::now() - chrono::Duration::hours(2);
    stale["tweet_create_events"][0]["created_at"] =
        two_hours_ago.format("%a %b %d %H:%M:%S +0000 %Y").to_string().into();
    let (status, body) = post(stale).await;
    assert_eq!(status, 200, "answered, so X does not retry");
    assert!(!body.contains("LPR-"), "a stale event was ingested: {body}");
    let got = take(&format!("{prefix}.intake"), 2, std::time::Duration::from_secs(4)).await;
    assert_eq!(got.len(), 1, "only the fresh mention is a complaint");
    gw.stop().await;
}
