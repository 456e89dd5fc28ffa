//! The broker side of a test: the one cleanup of a prefix's objects (also
//! on drop, when a test panics half-way: a leftover quorum queue holds
//! broker resources for good), and reading queues.
//!
//! Everything here connects to [`AMQP`] itself, not to the config's URL:
//! outage tests point the gateway at a proxy that may be down.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use pintu::broker::{connect_url, Topology};
use pintu::config::Config;

use super::AMQP;

/// Every durable queue and every exchange a gateway, the router and the
/// status loop declare under `cfg`'s prefix: the topology, the status
/// objects and this node's reservation queue and exchange.
fn objects(cfg: &Config) -> (Vec<String>, Vec<String>) {
    let p = &cfg.amqp.prefix;
    let topo = Topology::new(&cfg.amqp);
    let mut queues: Vec<String> = topo.queues.into_iter().map(|q| q.name).collect();
    queues.push(pintu::status::topology::updates_queue(p));
    queues.push(pintu::status::topology::routed_queue(p));
    queues.push(pintu::node::codes_queue(p, cfg.node.id()));
    let mut exchanges: Vec<String> = topo.exchanges.into_iter().map(|e| e.name).collect();
    exchanges.push(pintu::status::topology::exchange(p));
    exchanges.push(pintu::node::exchange(p));
    (queues, exchanges)
}

/// Delete every queue and exchange of `cfg`'s prefix (best effort: what
/// does not exist or cannot be deleted is passed over).
pub async fn cleanup(cfg: &Config) {
    let Ok(conn) = connect_url(AMQP, "pintu-test-cleanup").await else {
        return;
    };
    let (queues, exchanges) = objects(cfg);
    // A refused delete closes its channel: go on with a new one.
    let mut ch: Option<Channel> = None;
    for (name, is_queue) in queues
        .iter()
        .map(|q| (q, true))
        .chain(exchanges.iter().map(|e| (e, false)))
    {
        if !ch.as_ref().is_some_and(|c| c.status().connected()) {
            ch = conn.create_channel().await.ok();
        }
        let Some(c) = &ch else { break };
        let done = if is_queue {
            c.queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                .await
                .map(drop)
        } else {
            c.exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default())
                .await
        };
        if done.is_err() {
            ch = None;
        }
    }
    let _ = conn.close(200, "bye".into()).await;
}

/// Run the future `f` makes to its end from a synchronous context (a
/// `Drop`), on a thread and runtime of its own: a runtime cannot be started
/// inside the test's runtime thread.
pub fn block_on_own_thread<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            rt.block_on(f());
        }
    })
    .join();
}

/// [`cleanup`] from a synchronous context (a `Drop`).
pub fn cleanup_blocking(cfg: &Config) {
    let cfg = cfg.clone();
    block_on_own_thread(move || async move { cleanup(&cfg).await });
}

/// Deletes a config's broker objects when dropped, for tests that manage
/// their configs themselves ([`super::TestEnv`] does this on its own).
pub struct CleanupGuard(pub Config);

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        cleanup_blocking(&self.0);
    }
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
    let conn = connect_url(AMQP, "pintu-test-take").await.expect("broker");
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
    let mut distinct: HashSet<String> = HashSet::new();
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

/// Messages ready in `queue`, read with a passive declare on `ch` (creates
/// nothing; a missing queue panics).
pub async fn depth(ch: &Channel, queue: &str) -> u32 {
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    ch.queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .unwrap_or_else(|e| panic!("queue {queue}: {e}"))
        .message_count()
}

/// [`depth`] on a connection of its own.
pub async fn queue_depth(queue: &str) -> u32 {
    let conn: Connection = connect_url(AMQP, "pintu-test-depth").await.expect("broker");
    let ch = conn.create_channel().await.expect("channel");
    let n = depth(&ch, queue).await;
    let _ = conn.close(200, "bye".into()).await;
    n
}
