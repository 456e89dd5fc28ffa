//! The outbox relay: publishes durable outbox entries to RabbitMQ with
//! confirms, many in flight, and deletes an entry only after its ack.
//!
//! On start (and after every failure) it scans the outbox from the beginning,
//! so leftovers from a crash or an outage are published first; after the scan
//! it publishes the keys intake announces on the [`OutboxFeed`]. (A scan cursor
//! alone would miss entries that commit out of key order under concurrency.) A nack, a
//! returned (unroutable) message or a lost connection puts the relay back to
//! "reconnect with backoff, rescan": entries are only ever removed on success,
//! so at worst a message is published twice, always with the same `message_id`.

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::broker::publisher::Outgoing;
use crate::broker::{connect, ConfirmedPublisher, Names, PublishError, Topology};
use crate::config::AmqpConfig;
use crate::store::outbox::{Envelope, Target};
use crate::store::Store;

/// What `/readyz` and the ops page need to know about the relay.
#[derive(Debug, Default)]
pub struct RelayStatus {
    pub connected: AtomicBool,
    pub published: AtomicU64,
    pub failures: AtomicU64,
}

/// Keys of outbox entries committed by intake, in commit order.
pub type FeedTx = mpsc::UnboundedSender<sled::IVec>;
pub type FeedRx = mpsc::UnboundedReceiver<sled::IVec>;

pub fn outbox_feed() -> (FeedTx, FeedRx) {
    mpsc::unbounded_channel()
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("outbox read: {0}")]
    Outbox(#[from] sled::Error),
}

pub struct Relay {
    store: Store,
    amqp: AmqpConfig,
    names: Names,
    feed: tokio::sync::Mutex<FeedRx>,
    pub status: Arc<RelayStatus>,
}

type Confirm =
    std::pin::Pin<Box<dyn std::future::Future<Output = (sled::IVec, Instant, Result<(), PublishError>)> + Send>>;

impl Relay {
    pub fn new(store: Store, amqp: AmqpConfig, feed: FeedRx) -> Relay {
        let names = Names::new(&amqp.prefix);
        Relay {
            store,
            amqp,
            names,
            feed: tokio::sync::Mutex::new(feed),
            status: Arc::new(RelayStatus::default()),
        }
    }

    /// Forget announced keys: the scan at the next session start covers them,
    /// and the feed must not grow while the broker is away.
    async fn drain_feed(&self) {
        let mut rx = self.feed.lock().await;
        while rx.try_recv().is_ok() {}
    }

    /// Run until cancelled: connect, publish, and on any failure back off and retry.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match self.session(&shutdown).await {
                Ok(()) => return,
                Err(e) => {
                    self.status.connected.store(false, Ordering::Relaxed);
                    self.status.failures.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("pintu_relay_failures_total").increment(1);
                    warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "relay: broker unavailable, retrying");
                }
            }
            self.drain_feed().await;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One connection's life. Returns Ok only on shutdown.
    async fn session(&self, shutdown: &CancellationToken) -> Result<(), RelayError> {
        let conn = connect(&self.amqp.url, "pintu-relay").await?;
        let ch = conn.create_channel().await?;
        Topology::new(&self.amqp).declare(&ch).await?;
        let publisher = ConfirmedPublisher::new(ch).await?;
        self.drain_feed().await;
        self.status.connected.store(true, Ordering::Relaxed);
        info!(
            "relay: connected, draining outbox ({} entries)",
            self.store.outbox_depth()
        );
        let result = self.pump(&publisher, shutdown).await;
        let _ = conn.close(200, "bye").await;
        result
    }

    async fn pump(&self, publisher: &ConfirmedPublisher, shutdown: &CancellationToken) -> Result<(), RelayError> {
        let window = self.amqp.publish_window.max(1);
        let mut feed = self.feed.lock().await;
        let mut in_flight: HashSet<sled::IVec> = HashSet::new();
        let mut pending: FuturesUnordered<Confirm> = FuturesUnordered::new();
        let mut cursor: Option<sled::IVec> = None;
        let mut scanning = true;
        let mut announced: Option<sled::IVec> = None;
        loop {
            while in_flight.len() < window {
                let (key, value) = if scanning {
                    let next = match &cursor {
                        None => self.store.outbox.iter().next(),
                        Some(c) => self
                            .store
                            .outbox
                            .range::<&[u8], _>((Bound::Excluded(c.as_ref()), Bound::Unbounded))
                            .next(),
                    };
                    match next {
                        Some(entry) => {
                            let (k, v) = entry?;
                            cursor = Some(k.clone());
                            (k, v)
                        }
                        None => {
                            scanning = false;
                            continue;
                        }
                    }
                } else {
                    let key = match announced.take() {
                        Some(k) => k,
                        None => match feed.try_recv() {
                            Ok(k) => k,
                            Err(_) => break,
                        },
                    };
                    // Already published and removed (e.g. by the scan): nothing to do.
                    match self.store.outbox.get(&key)? {
                        Some(v) => (key, v),
                        None => continue,
                    }
                };
                if in_flight.contains(&key) {
                    continue;
                }
                let env = match Envelope::decode(&value) {
                    Ok(env) => env,
                    Err(e) => {
                        // Never dropped: it stays in the outbox (and the backlog
                        // figure) for an operator to inspect.
                        warn!(error = %e, "relay: undecodable outbox entry left in place");
                        continue;
                    }
                };
                let exchange = match env.target {
                    Target::Intake => self.names.intake_exchange(),
                    Target::Outbound => self.names.outbound_exchange(),
                };
                let started = Instant::now();
                in_flight.insert(key.clone());
                // Sending is part of the pending future too: awaiting each send
                // before the next capped the relay well below the broker's pace.
                // Order between complaints does not matter; each is independent.
                let publisher = publisher.clone();
                pending.push(Box::pin(async move {
                    let msg = Outgoing {
                        exchange: &exchange,
                        routing_key: &env.routing_key,
                        message_id: &env.message_id,
                        body: &env.body,
                        headers: Vec::new(),
                    };
                    let result = match publisher.send(&msg).await {
                        Ok(confirm) => confirm.await,
                        Err(e) => Err(e),
                    };
                    (key, started, result)
                }));
            }
            if pending.is_empty() {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    key = feed.recv() => match key {
                        Some(k) => announced = Some(k),
                        // Intake is gone (shutdown): nothing more will arrive.
                        None => return Ok(()),
                    },
                }
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                done = pending.next() => {
                    if let Some((key, started, result)) = done {
                        in_flight.remove(&key);
                        result?;
                        metrics::histogram!("pintu_publish_latency_seconds").record(started.elapsed().as_secs_f64());
                        self.remove(&key);
                    }
                }
            }
        }
    }

    fn remove(&self, key: &sled::IVec) {
        match self.store.outbox.remove(key) {
            Ok(Some(_)) => {
                let depth = self
                    .store
                    .outbox_depth
                    .fetch_sub(1, Ordering::Relaxed)
                    .saturating_sub(1);
                metrics::gauge!("pintu_outbox_depth").set(depth as f64);
                metrics::counter!("pintu_published_total").increment(1);
                self.status.published.fetch_add(1, Ordering::Relaxed);
            }
            Ok(None) => {}
            // The entry stays and is published again later: a duplicate with the
            // same message_id, which consumers tolerate.
            Err(e) => warn!(error = %e, "relay: could not remove a confirmed entry"),
        }
    }
}
