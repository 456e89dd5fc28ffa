//! Test support shared by the integration tests: a gateway on an ephemeral
//! port with its own broker prefix and data directory, and broker helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use pintu::broker::{connect_url as connect, Topology};
use pintu::config::Config;

pub const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

pub fn unique_prefix() -> String {
    format!("t-{:016x}", rand::random::<u64>())
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The default config with this test's prefix, data dir and an ephemeral port.
pub fn test_config(prefix: &str, data_dir: &Path) -> Config {
    pintu::obs::init_logging("pretty", "warn");
    let mut cfg = Config::load(&repo().join("config/pintu.toml")).expect("default config loads");
    cfg.data_dir = data_dir.to_path_buf();
    cfg.amqp.prefix = prefix.to_string();
    cfg.amqp.url = AMQP.into();
    cfg.http.addr = "127.0.0.1:0".parse().unwrap();
    cfg.log.format = "pretty".into();
    cfg
}

/// Delete every queue and exchange of a prefix (best effort).
pub async fn cleanup(cfg: &Config) {
    let Ok(conn) = connect(AMQP, "pintu-test-cleanup").await else {
        return;
    };
    let Ok(ch) = conn.create_channel().await else { return };
    let topo = Topology::new(&cfg.amqp);
    for q in &topo.queues {
        let _ = ch
            .queue_delete(q.name.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    for e in &topo.exchanges {
        let _ = ch
            .exchange_delete(e.name.as_str().into(), ExchangeDeleteOptions::default())
            .await;
    }
    // The node's reservation queue and exchange (pintu::node).
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
    let _ = conn.close(200, "bye".into()).await;
}

/// A message taken off a queue.
#[derive(Debug, Clone)]
pub struct Got {
    pub message_id: String,
    pub body: Vec<u8>,
    pub json: serde_json::Value,
}

/// Consume until `n` distinct message ids arrived or `timeout` passed (acking
/// them). Redeliveries (same id, at-least-once) are returned but not counted.
pub async fn take(queue: &str, n: usize, timeout: Duration) -> Vec<Got> {
    let conn = connect(AMQP, "pintu-test-take").await.expect("broker");
    let deadline = Instant::now() + timeout;
    // The gateway's relay declares the topology once it has connected, which
    // on a loaded machine can come after the test's first request: until
    // then the queue does not exist (NOT_FOUND closes the channel; retry on
    // a new one).
    let mut consumer = loop {
        let ch = conn.create_channel().await.expect("channel");
        ch.basic_qos(1000, Default::default()).await.expect("qos");
        match ch
            .basic_consume(
                queue.into(),
                "pintu-test".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
        {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline && e.to_string().contains("NOT_FOUND") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("consume {queue}: {e}"),
        }
    };
    let mut out = Vec::new();
    let mut distinct: std::collections::HashSet<String> = std::collections::HashSet::new();
    while distinct.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, consumer.next()).await {
            Ok(Some(Ok(d))) => {
                let message_id = d
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                let json = serde_json::from_slice(&d.data).unwrap_or(serde_json::Value::Null);
                distinct.insert(message_id.clone());
                out.push(Got {
                    message_id,
                    body: d.data.clone(),
                    json,
                });
                d.acker.ack(BasicAckOptions::default()).await.expect("ack");
            }
            _ => break,
        }
    }
    let _ = conn.close(200, "bye".into()).await;
    out
}

/// Validate a published complaint against `schema/complaint-v1.json`.
pub fn assert_valid_complaint(v: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schema/complaint-v1.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "complaint does not match schema v1: {errors:?}\n{v:#}"
    );
}

pub async fn wait_until<F: FnMut() -> bool>(timeout: Duration, mut f: F) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// Deletes a test's queues and exchanges when dropped, also when the test
/// panics half-way (a leftover quorum queue holds broker resources for good).
pub struct CleanupGuard(pub Config);

impl Drop for CleanupGuard {
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

/// Start the gateway again on `cfg`'s data directory after a stop. Under a
/// loaded machine the previous gateway's store can still hold sled's lock
/// for a while after `stop()` returned (seen in CI: "could not acquire
/// lock"; the cause is not yet found), so a start refused for that reason is
/// retried for up to 30 s and reported on stderr.
pub async fn restart(cfg: &Config) -> pintu::serve::Gateway {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match pintu::serve::start(cfg.clone()).await {
            Ok(gw) => return gw,
            Err(e) if Instant::now() < deadline && format!("{e:?}").contains("could not acquire lock") => {
                eprintln!("restart: store still locked, retrying: {e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("gateway did not restart: {e:?}"),
        }
    }
}
