//! The broker side of the ops view: a background task that reads every Pintu
//! queue's depth and consumers every `ops.refresh_ms`, exports them as
//! Prometheus gauges, and runs the routed-complaints tap.
//!
//! One reading is shared by every viewer of `/ops` and by `/metrics`, so the
//! broker's load does not grow with the number of open pages, and alerts have
//! data even when nobody looks.
//!
//! ## The tap
//! A private, non-durable, exclusive, auto-delete classic queue
//! (`<prefix>.ops-tap.<ulid>`, bounded with `x-max-length`, consumed with
//! auto-ack) sees a copy of every routed complaint. It is bound to the agency
//! exchange with exactly the keys of the real agency queues, plus to the
//! unbound (alternate) exchange. Binding it with `#` would be wrong: the agency
//! exchange hands a message to its alternate exchange only when no queue
//! matches, so a catch-all tap would make every message "routed" and silently
//! starve `<prefix>.unbound`. For the same reason the tap is not bound to the
//! intake exchange: it would defeat the relay's mandatory/NO_ROUTE safety net
//! if the intake queue were ever missing. Losing a tap message (overflow,
//! reconnect) only makes the statistics approximate; no complaint depends on it.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::Connection;
use parking_lot::RwLock;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::queues::{self, Management, QueueStat, Role};
use super::OpsError;
use crate::broker::{connect, Topology};
use crate::config::Config;
use crate::stats::{now_ms, Stats};
use crate::store::Store;

/// Tap messages kept when the tap consumer falls behind (oldest dropped first).
const TAP_MAX_LENGTH: i64 = 10_000;

/// The last reading of the broker.
#[derive(Debug, Clone, Default)]
pub struct BrokerView {
    /// When it was taken (ms since epoch); 0 before the first reading.
    pub as_of_ms: u64,
    /// `management`, `amqp` or `none`.
    pub source: &'static str,
    pub queues: Vec<QueueStat>,
    /// Why the reading is missing or degraded.
    pub error: Option<String>,
    pub tap_connected: bool,
}

pub struct Monitor {
    cfg: Arc<Config>,
    store: Store,
    view: RwLock<BrokerView>,
    management: Option<Management>,
    management_error: Option<String>,
    /// The gateway's recorder (intake counts into it; routed complaints are
    /// recorded here).
    stats: Arc<Stats>,
}

impl Monitor {
    /// The recorder the ops summary reads.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn new(cfg: Arc<Config>, store: Store, stats: Arc<Stats>) -> Monitor {
        let (management, management_error) = match cfg.amqp.management_url.as_ref().map(pintu_channels::Secret::expose)
        {
            Some(url) => match Management::new(url, cfg.amqp.url.expose()) {
                Ok(m) => (Some(m), None),
                Err(e) => (None, Some(e.to_string())),
            },
            None => (None, None),
        };
        let queues = queues::pintu_queues(&cfg.amqp)
            .into_iter()
            .map(|(name, role)| QueueStat::failed(name, role, "not read yet".into()))
            .collect();
        Monitor {
            cfg,
            store,
            view: RwLock::new(BrokerView {
                source: "none",
                queues,
                ..Default::default()
            }),
            management,
            management_error,
            stats,
        }
    }

    pub fn view(&self) -> BrokerView {
        self.view.read().clone()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let period = Duration::from_millis(self.cfg.ops.refresh_ms.max(200));
        let mut conn: Option<Connection> = None;
        let mut conn_error: Option<String> = None;
        let mut tap_task: Option<tokio::task::JoinHandle<()>> = None;
        loop {
            if !matches!(&conn, Some(c) if c.status().connected()) {
                if let Some(t) = tap_task.take() {
                    t.abort();
                }
                match self.open(&shutdown).await {
                    Ok((c, tap)) => {
                        conn = Some(c);
                        tap_task = tap;
                        conn_error = None;
                    }
                    Err(e) => {
                        if conn_error.is_none() {
                            warn!(error = %e, "ops: broker unavailable");
                        }
                        conn = None;
                        conn_error = Some(e.to_string());
                    }
                }
            }
            let tap_connected = tap_task.as_ref().is_some_and(|t| !t.is_finished());
            // Outbox first: an entry published while the queues are being read is
            // then counted twice (harmless) instead of not at all, which would make
            // reconciliation forget a complaint that is still unrouted.
            let started = now_ms();
            let outbox_before = self.store.outbox_depth();
            let view = self.read(conn.as_ref(), conn_error.as_deref(), tap_connected).await;
            self.publish(view, outbox_before, started);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(period) => {}
            }
        }
        if let Some(t) = tap_task {
            t.abort();
        }
        if let Some(c) = conn {
            let _ = c.close(200, "bye".into()).await;
        }
    }

    /// Connect; with the tap enabled, also declare the topology (idempotent, the
    /// tap binds to its exchanges) and start the tap consumer.
    async fn open(
        &self,
        shutdown: &CancellationToken,
    ) -> Result<(Connection, Option<tokio::task::JoinHandle<()>>), OpsError> {
        let conn = connect(&self.cfg.amqp, "pintu-ops").await?;
        if !self.cfg.ops.tap {
            return Ok((conn, None));
        }
        let ch = conn.create_channel().await?;
        let topology = Topology::new(&self.cfg.amqp);
        topology.declare(&ch).await?;
        let names = &topology.names;
        let tap = format!(
            "{}.ops-tap.{}",
            names.prefix,
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from("classic")),
        );
        args.insert("x-max-length".into(), AMQPValue::LongLongInt(TAP_MAX_LENGTH));
        ch.queue_declare(
            tap.as_str().into(),
            QueueDeclareOptions {
                durable: false,
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            args,
        )
        .await?;
        for b in topology
            .bindings
            .iter()
            .filter(|b| b.exchange == names.agency_exchange())
        {
            ch.queue_bind(
                tap.as_str().into(),
                b.exchange.as_str().into(),
                b.key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
        ch.queue_bind(
            tap.as_str().into(),
            names.unbound_exchange().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        let mut consumer = ch
            .basic_consume(
                tap.as_str().into(),
                "pintu-ops-tap".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        info!(queue = %tap, "ops: routed-complaints tap started");
        let stop = shutdown.clone();
        let stats = self.stats.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    next = consumer.next() => match next {
                        Some(Ok(d)) => record_routed(&stats, &d),
                        Some(Err(e)) => { debug!(error = %e, "ops: tap ended"); return }
                        None => return,
                    }
                }
            }
        });
        Ok((conn, Some(task)))
    }

    async fn read(&self, conn: Option<&Connection>, conn_error: Option<&str>, tap_connected: bool) -> BrokerView {
        let wanted = queues::pintu_queues(&self.cfg.amqp);
        let mut error = self.management_error.clone().map(|e| format!("{e}; using AMQP"));
        if let Some(m) = &self.management {
            match m.queues(&wanted).await {
                Ok(q) => {
                    return BrokerView {
                        as_of_ms: now_ms(),
                        source: "management",
                        queues: q,
                        error: conn_error.map(|e| format!("AMQP: {e}")),
                        tap_connected,
                    }
                }
                Err(e) => error = Some(format!("{e}; using AMQP")),
            }
        }
        let result = match conn {
            Some(c) => queues::via_amqp(c, &wanted).await,
            None => Err(OpsError::Unreachable(conn_error.unwrap_or("not connected").to_string())),
        };
        match result {
            Ok(q) => BrokerView {
                as_of_ms: now_ms(),
                source: "amqp",
                queues: q,
                error,
                tap_connected,
            },
            Err(e) => {
                let text = e.chain();
                BrokerView {
                    as_of_ms: now_ms(),
                    source: "none",
                    queues: wanted
                        .into_iter()
                        .map(|(name, role)| QueueStat::failed(name, role, text.clone()))
                        .collect(),
                    error: Some(match error {
                        Some(m) => format!("{m}; {text}"),
                        None => text,
                    }),
                    tap_connected: false,
                }
            }
        }
    }

    /// Store the reading, reconcile the unrouted set with it, export gauges.
    fn publish(&self, view: BrokerView, outbox_before: u64, started_ms: u64) {
        let stats = &self.stats;
        let intake = view.queues.iter().find(|q| q.role == Role::Intake);
        if let Some(depth) = intake.and_then(|q| q.messages) {
            let dropped = stats.reconcile_unrouted(depth + outbox_before, started_ms);
            if dropped > 0 {
                debug!(dropped, "ops: complaints left intake without being seen routed");
            }
        }
        for q in &view.queues {
            let labels = [("queue", q.name.clone())];
            match (q.messages, q.consumers) {
                (Some(m), c) => {
                    metrics::gauge!("pintu_queue_messages", &labels).set(m as f64);
                    if let Some(c) = c {
                        metrics::gauge!("pintu_queue_consumers", &labels).set(c as f64);
                    }
                }
                // Unknown is not zero: NaN keeps "consumers == 0" alerts from firing
                // on a monitoring outage (broker-down alerts cover that).
                (None, _) => {
                    metrics::gauge!("pintu_queue_messages", &labels).set(f64::NAN);
                    metrics::gauge!("pintu_queue_consumers", &labels).set(f64::NAN);
                }
            }
        }
        metrics::gauge!("pintu_ops_broker_readable").set(if view.source == "none" { 0.0 } else { 1.0 });
        *self.view.write() = view;
        let snap = stats.snapshot(0);
        let age = snap
            .oldest_unrouted_ms
            .map(|t| now_ms().saturating_sub(t) as f64 / 1000.0)
            .unwrap_or(0.0);
        metrics::gauge!("pintu_oldest_unrouted_seconds").set(age);
        metrics::gauge!("pintu_unrouted_tracked").set(snap.unrouted_tracked as f64);
    }
}

#[derive(Debug, Deserialize)]
struct TapMessage {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    routing: Option<TapRouting>,
}

#[derive(Debug, Deserialize)]
struct TapRouting {
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    agency: Option<String>,
}

fn record_routed(stats: &Stats, d: &Delivery) {
    let msg_id = d.properties.message_id().as_ref().map(|s| s.to_string());
    match serde_json::from_slice::<TapMessage>(&d.data) {
        Ok(m) => {
            let id = msg_id.or(m.id);
            let r = m.routing.as_ref();
            stats.routed(
                id.as_deref(),
                r.and_then(|r| r.category.as_deref()),
                r.and_then(|r| r.region.as_deref()),
                r.and_then(|r| r.agency.as_deref()),
            );
        }
        Err(e) => {
            // Still routed (it is on the agency exchange); just not readable here.
            debug!(error = %e, "ops: unreadable routed message");
            stats.routed(msg_id.as_deref(), None, None, None);
        }
    }
}
