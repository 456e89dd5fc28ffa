//! The outbox relay: publishes durable outbox entries to RabbitMQ with
//! confirms, many in flight, and deletes an entry only after its ack.
//!
//! Intake hands every committed entry to the relay on a bounded in-memory
//! [`Feed`], so in the steady state the relay publishes straight from memory
//! and touches sled only to delete what the broker confirmed. The outbox on
//! disk stays the source of truth: at session start, and whenever the feed
//! overflowed (the relay fell behind, or the broker was away), the relay drops
//! what the feed holds and scans the outbox from the beginning up to its last
//! key at that moment. Feed entries above that key cannot have been seen by
//! the scan and are published from memory; the few at or below it (committed
//! while the scan began) are checked against sled first. A nack, a returned
//! (unroutable) message or a lost connection puts the relay back to
//! "reconnect with backoff, rescan": entries are only ever removed on success,
//! so at worst a message is published twice, always with the same `message_id`.
//!
//! As a safety net the relay also rescans every `outbox.rescan_secs` while
//! connected, so an entry that was committed but never announced (a bug, a
//! path that forgot) is published within that time rather than at the next
//! reconnect. In the steady state the outbox holds only what is in flight, so
//! the rescan reads little.

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
use crate::broker::AmqpConfig;
use crate::broker::{connect, ConfirmedPublisher, Names, PublishError, Topology};
use crate::store::outbox::{Committed, Envelope, Key, Target};
use crate::store::Store;

/// What `/readyz` and the ops page need to know about the relay.
#[derive(Debug, Default)]
pub struct RelayStatus {
    pub connected: AtomicBool,
    pub published: AtomicU64,
    pub failures: AtomicU64,
}

/// Entries the feed holds before intake stops handing them over (and the
/// relay rescans the outbox instead): a few MiB of complaints at most.
pub const FEED_CAPACITY: usize = 4096;

/// One committed outbox entry, as intake wrote it.
pub struct Announced {
    pub key: Key,
    pub envelope: Envelope,
}

/// Intake's end of the feed. Handing over never waits: when the feed is full
/// (or the relay gone) the entry is left to the next outbox scan.
#[derive(Clone)]
pub struct FeedTx {
    tx: mpsc::Sender<Announced>,
    overflowed: Arc<AtomicBool>,
}

impl Committed for FeedTx {
    /// Called only after the entry is committed to the outbox.
    fn announce(&self, key: Key, envelope: Envelope) {
        if self.tx.try_send(Announced { key, envelope }).is_err() {
            self.overflowed.store(true, Ordering::Release);
        }
    }
}

/// The relay's end of the feed.
pub struct FeedRx {
    rx: mpsc::Receiver<Announced>,
    overflowed: Arc<AtomicBool>,
}

impl FeedRx {
    /// Drop everything queued; the scan that follows covers it.
    fn discard(&mut self) {
        while self.rx.try_recv().is_ok() {}
    }
}

pub fn outbox_feed() -> (FeedTx, FeedRx) {
    let (tx, rx) = mpsc::channel(FEED_CAPACITY);
    let overflowed = Arc::new(AtomicBool::new(false));
    (
        FeedTx {
            tx,
            overflowed: overflowed.clone(),
        },
        FeedRx { rx, overflowed },
    )
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("outbox read: {0}")]
    Outbox(#[from] sled::Error),
    #[error("broker connection lost ({0})")]
    ConnectionLost(String),
}

/// How often an idle relay looks at its connection's state, besides lapin's
/// error events (a broker-initiated close does not always raise one).
const CONNECTION_CHECK: Duration = Duration::from_millis(250);

/// The relay's view of its broker connection: lapin's error event (an I/O
/// error, a missed heartbeat) wakes it at once, and a short periodic check
/// of the connection and channel state catches a close the broker initiated.
/// Without this an idle relay noticed a dead broker only at its next publish,
/// and `/readyz` said connected meanwhile.
struct Liveness {
    lost: Arc<tokio::sync::Notify>,
    check: tokio::time::Interval,
    /// Forwards the connection's error events; it ends with the session.
    events: tokio::task::JoinHandle<()>,
}

impl Drop for Liveness {
    fn drop(&mut self) {
        self.events.abort();
    }
}

impl Liveness {
    fn watch(conn: &lapin::Connection) -> Liveness {
        let lost = Arc::new(tokio::sync::Notify::new());
        let wake = lost.clone();
        let mut events = conn.events_listener();
        let events = tokio::spawn(async move {
            while let Some(event) = events.next().await {
                if let lapin::Event::Error(e) = event {
                    warn!(error = %e, "relay: broker connection failed");
                    // A stored permit: a failure between two waits is not missed.
                    wake.notify_one();
                }
            }
        });
        let mut check = tokio::time::interval(CONNECTION_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Liveness { lost, check, events }
    }

    /// Resolves when the connection or the publishing channel is no longer usable.
    async fn lost(&mut self, conn: &lapin::Connection, publisher: &ConfirmedPublisher) -> RelayError {
        loop {
            tokio::select! {
                _ = self.lost.notified() => {}
                _ = self.check.tick() => {}
            }
            let (c, ch) = (conn.status(), publisher.channel().status());
            if !c.connected() || !ch.connected() {
                return RelayError::ConnectionLost(format!("connection {c:?}, channel {ch:?}"));
            }
        }
    }
}

pub struct Relay {
    store: Store,
    amqp: AmqpConfig,
    names: Names,
    feed: tokio::sync::Mutex<FeedRx>,
    /// Rescan the outbox this often while connected; `None`: only after a
    /// session start or an overflow.
    rescan: Option<Duration>,
    pub status: Arc<RelayStatus>,
}

type Confirm = std::pin::Pin<Box<dyn std::future::Future<Output = (Key, Instant, Result<(), PublishError>)> + Send>>;

impl Relay {
    pub fn new(store: Store, amqp: AmqpConfig, feed: FeedRx) -> Relay {
        let names = Names::new(&amqp.prefix);
        Relay {
            store,
            amqp,
            names,
            feed: tokio::sync::Mutex::new(feed),
            rescan: None,
            status: Arc::new(RelayStatus::default()),
        }
    }

    /// Rescan the outbox every `every` as a safety net (zero: never).
    pub fn with_rescan(mut self, every: Duration) -> Relay {
        self.rescan = (!every.is_zero()).then_some(every);
        self
    }

    /// Run until cancelled: connect, publish, and on any failure back off and retry.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let ended = self.session(&shutdown).await;
            self.store.flow.set_relay_connected(false);
            match ended {
                Ok(()) => return,
                Err(e) => {
                    self.status.connected.store(false, Ordering::Relaxed);
                    self.status.failures.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("pintu_relay_failures_total").increment(1);
                    warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "relay: broker unavailable, retrying");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One connection's life. Returns Ok only on shutdown.
    async fn session(&self, shutdown: &CancellationToken) -> Result<(), RelayError> {
        // The prefix tells an operator (and a test) whose relay a connection is.
        let conn = connect(&self.amqp, &format!("pintu-relay {}", self.amqp.prefix)).await?;
        let mut liveness = Liveness::watch(&conn);
        let ch = conn.create_channel().await?;
        Topology::new(&self.amqp).declare(&ch).await?;
        let publisher = ConfirmedPublisher::new(ch).await?;
        self.status.connected.store(true, Ordering::Relaxed);
        self.store.flow.set_relay_connected(true);
        info!(
            "relay: connected, draining outbox ({} entries)",
            self.store.outbox_depth()
        );
        let result = tokio::select! {
            r = self.pump(&publisher, shutdown) => r,
            e = liveness.lost(&conn, &publisher) => Err(e),
        };
        let _ = conn.close(200, "bye".into()).await;
        result
    }

    async fn pump(&self, publisher: &ConfirmedPublisher, shutdown: &CancellationToken) -> Result<(), RelayError> {
        let window = self.amqp.publish_window.max(1);
        let mut feed = self.feed.lock().await;
        let mut in_flight: HashSet<Key> = HashSet::new();
        let mut pending: FuturesUnordered<Confirm> = FuturesUnordered::new();
        // A new session starts like an overflow: the feed may have missed entries.
        let mut resync = true;
        let mut cursor: Option<sled::IVec> = None;
        // Last outbox key when the current scan began; `None` before the first
        // scan of a session and when the outbox was empty.
        let mut scan_end: Option<sled::IVec> = None;
        let mut scanning = false;
        let mut announced: Option<Announced> = None;
        let mut feed_open = true;
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        let next_rescan = |from: tokio::time::Instant| self.rescan.map_or(far, |every| from + every);
        let mut rescan_at = next_rescan(tokio::time::Instant::now());
        loop {
            if !scanning && tokio::time::Instant::now() >= rescan_at {
                metrics::counter!("pintu_relay_rescans_total").increment(1);
                resync = true;
            }
            // `|`, not `||`: a session start also clears an overflow left from
            // before it (the scan covers it), instead of scanning twice.
            if !scanning && (std::mem::take(&mut resync) | feed.overflowed.swap(false, Ordering::AcqRel)) {
                rescan_at = next_rescan(tokio::time::Instant::now());
                feed.discard();
                announced = None;
                scan_end = self.store.outbox.last()?.map(|(k, _)| k);
                cursor = None;
                scanning = scan_end.is_some();
            }
            while in_flight.len() < window {
                let (key, env) = if scanning {
                    let lower = match &cursor {
                        None => Bound::Unbounded,
                        Some(c) => Bound::Excluded(c.as_ref()),
                    };
                    let upper = match &scan_end {
                        Some(e) => Bound::Included(e.as_ref()),
                        None => Bound::Unbounded,
                    };
                    let Some(entry) = self.store.outbox.range::<&[u8], _>((lower, upper)).next() else {
                        scanning = false;
                        break;
                    };
                    let (k, v) = entry?;
                    cursor = Some(k.clone());
                    let Ok(key) = Key::try_from(k.as_ref()) else {
                        warn!("relay: outbox key of unexpected length left in place");
                        continue;
                    };
                    if in_flight.contains(&key) {
                        continue;
                    }
                    match Envelope::decode(&v) {
                        Ok(env) => (key, env),
                        Err(e) => {
                            // Never dropped: it stays in the outbox (and the backlog
                            // figure) for an operator to inspect.
                            warn!(error = %e, "relay: undecodable outbox entry left in place");
                            continue;
                        }
                    }
                } else {
                    let item = match announced.take() {
                        Some(a) => a,
                        None => match feed.rx.try_recv() {
                            Ok(a) => a,
                            Err(_) => break,
                        },
                    };
                    // At or below the scan's end the scan may have published it
                    // already (and removed it once confirmed).
                    let seen_by_scan = scan_end.as_ref().is_some_and(|e| item.key[..] <= e[..]);
                    if in_flight.contains(&item.key) || (seen_by_scan && !self.store.outbox.contains_key(item.key)?) {
                        continue;
                    }
                    (item.key, item.envelope)
                };
                let exchange = match env.target {
                    Target::Intake => self.names.intake_exchange(),
                    Target::Outbound => self.names.outbound_exchange(),
                };
                let started = Instant::now();
                in_flight.insert(key);
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
            if scanning && in_flight.len() < window {
                continue;
            }
            if pending.is_empty() {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep_until(rescan_at) => {}
                    item = feed.rx.recv() => match item {
                        Some(a) => announced = Some(a),
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
                // Room in the window and the feed has more: take it now rather
                // than after the next confirm.
                item = feed.rx.recv(), if feed_open && !scanning && announced.is_none() && in_flight.len() < window => {
                    match item {
                        Some(a) => announced = Some(a),
                        None => feed_open = false,
                    }
                }
            }
        }
    }

    fn remove(&self, key: &Key) {
        match self.store.outbox.remove(key) {
            Ok(Some(_)) => {
                self.store.backlog.remove(1);
                metrics::counter!("pintu_published_total").increment(1);
                self.status.published.fetch_add(1, Ordering::Relaxed);
                self.store.flow.progressed();
            }
            Ok(None) => {}
            // The entry stays and is published again later: a duplicate with the
            // same message_id, which consumers tolerate.
            Err(e) => {
                self.store.health.note(&e);
                warn!(error = %e, "relay: could not remove a confirmed entry");
            }
        }
    }
}
