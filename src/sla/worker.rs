//! The clock on the broker: consumes stage events from `<prefix>.sla.stage`
//! (acked once applied durably), and every tick — or when poked — publishes
//! what is due to `<prefix>.sla` with confirms, removing a timer only after
//! its events were confirmed. Runs inside `pintu serve` when `sla.enabled`;
//! reconnects with backoff when the broker goes away.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use thiserror::Error;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use super::engine::{Engine, Firing, SlaError};
use super::event::StageEvent;
use super::summary::{Summary, SummaryCell};
use crate::broker::delivery;
use crate::broker::publisher::Outgoing;
use crate::broker::{connect, ConfirmedPublisher, Names, PublishError, Topology};
use crate::config::Config;

#[derive(Debug, Error)]
pub enum SlaWorkerError {
    #[error(transparent)]
    Sla(#[from] SlaError),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("publish: {0}")]
    Publish(#[from] PublishError),
    #[error("the broker cancelled the consumer of {0}")]
    Cancelled(String),
    /// The blocking look for due timers did not finish (it panicked).
    #[error("`tick`: {0}")]
    Tick(#[source] tokio::task::JoinError),
}

/// A running clock: the engine (shared with ops) and a way to make it look
/// for due timers now (tests that moved the clock, ops).
#[derive(Debug, Clone)]
pub struct SlaHandle {
    pub engine: Engine,
    pub poke: Arc<Notify>,
    pub summary: SummaryCell,
    /// Agencies named in the gauges (`sla.metric_agencies`).
    pub metric_agencies: Arc<Vec<String>>,
    /// Completed looks for due timers (tests wait for one after moving the clock).
    pub ticks: Arc<AtomicU64>,
}

impl SlaHandle {
    pub fn new(engine: Engine) -> SlaHandle {
        SlaHandle {
            poke: Arc::new(Notify::new()),
            metric_agencies: Arc::new(engine.planner.cfg.metric_agencies.clone()),
            summary: SummaryCell::default(),
            ticks: Arc::default(),
            engine,
        }
    }
    pub fn tick_now(&self) {
        self.poke.notify_one();
    }
}

/// Run until `shutdown`, reconnecting after broker failures.
pub async fn run(cfg: Config, handle: SlaHandle, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(500);
    loop {
        match session(&cfg, &handle, &shutdown).await {
            Ok(()) => return,
            Err(e) => warn!(error = %e, "sla clock: broker session ended, reconnecting"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// One connection's life.
pub async fn session(cfg: &Config, h: &SlaHandle, shutdown: &CancellationToken) -> Result<(), SlaWorkerError> {
    let conn = connect(&cfg.amqp, "pintu-sla").await?;
    let ch = conn.create_channel().await?;
    Topology::new(&cfg.amqp).declare(&ch).await?;
    let publisher = ConfirmedPublisher::new(conn.create_channel().await?).await?;
    ch.basic_qos(256, BasicQosOptions::default()).await?;
    let names = Names::new(&cfg.amqp.prefix);
    let mut consumer = ch
        .basic_consume(
            names.sla_stage_queue().into(),
            "pintu-sla".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    info!(queue = %names.sla_stage_queue(), "sla clock running");
    refresh_summary(h, &h.metric_agencies).await;
    let mut tick = tokio::time::interval(Duration::from_secs(cfg.sla.tick_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break Ok(()),
            next = consumer.next() => match next {
                Some(Ok(d)) => {
                    let id = d.properties.message_id().as_ref().map(|m| m.to_string()).unwrap_or_default();
                    stage(h, &publisher, &names, d).instrument(info_span!("sla_stage", message = %id)).await?;
                }
                Some(Err(e)) => break Err(e.into()),
                None => break Err(SlaWorkerError::Cancelled(names.sla_stage_queue())),
            },
            _ = tick.tick() => fire_due(h, &publisher, &names).await?,
            _ = h.poke.notified() => fire_due(h, &publisher, &names).await?,
        }
    };
    let _ = h.engine.index.flush();
    let _ = conn.close(200, "sla clock stopping".into()).await;
    result
}

/// Apply one stage event, then ack; a message that is not one goes to
/// `<prefix>.dead` with the reason.
async fn stage(
    h: &SlaHandle,
    publisher: &ConfirmedPublisher,
    names: &Names,
    d: lapin::message::Delivery,
) -> Result<(), SlaWorkerError> {
    let ev = match StageEvent::from_wire(&d.data) {
        Ok(ev) => ev,
        Err(reason) => {
            delivery::dead_letter(publisher, names, &d, reason).await?;
            return Ok(());
        }
    };
    let span = info_span!("sla", complaint = %ev.complaint, agency = %ev.agency, kind = ev.kind.as_str());
    let engine = h.engine.clone();
    let applied = tokio::task::spawn_blocking(move || span.in_scope(|| engine.on_stage(&ev))).await;
    match applied {
        Ok(Ok(_)) => {
            d.acker.ack(BasicAckOptions::default()).await?;
        }
        // The store failed: leave the event to the broker (redelivery, then
        // the delivery limit) rather than acknowledge what was not kept.
        Ok(Err(e)) => {
            warn!(error = %e, "stage event not applied, requeued");
            delivery::requeue(&d).await?;
            return Err(e.into());
        }
        Err(e) => {
            warn!(error = %e, "stage task failed, requeued");
            delivery::requeue(&d).await?;
        }
    }
    Ok(())
}

/// Publish everything due, batch by batch; a timer is completed only after
/// all its events were confirmed.
async fn fire_due(h: &SlaHandle, publisher: &ConfirmedPublisher, names: &Names) -> Result<(), SlaWorkerError> {
    let exchange = names.sla_exchange();
    loop {
        let engine = h.engine.clone();
        let batch: Vec<Firing> = tokio::task::spawn_blocking(move || engine.due_now())
            .await
            .map_err(SlaWorkerError::Tick)??;
        if batch.is_empty() {
            break;
        }
        for f in &batch {
            let bodies: Vec<(String, String, Vec<u8>)> = f
                .events
                .iter()
                .filter_map(|e| match serde_json::to_vec(e) {
                    Ok(b) => Some((e.routing_key(), e.event_id.clone(), b)),
                    Err(err) => {
                        warn!(error = %err, "sla event not serialisable, skipped");
                        None
                    }
                })
                .collect();
            let sends = bodies.iter().zip(&f.events).map(|((key, id, body), e)| {
                let msg = Outgoing {
                    exchange: &exchange,
                    routing_key: key,
                    message_id: id,
                    body,
                    headers: vec![("x-pintu-sla", e.kind.as_str().to_string())],
                };
                async move { publisher.publish(&msg).await }
            });
            for r in futures_util::future::join_all(sends).await {
                r?;
            }
            for e in &f.events {
                info!(complaint = %e.complaint, agency = %e.agency, kind = e.kind.as_str(), target = ?e.target, "sla event");
            }
            h.engine.fired(f)?;
        }
    }
    refresh_summary(h, &h.metric_agencies).await;
    h.ticks.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// Recount open and overdue clocks per agency for ops and metrics.
pub async fn refresh_summary(h: &SlaHandle, named: &[String]) {
    let engine = h.engine.clone();
    let now = h.engine.clock.now();
    match tokio::task::spawn_blocking(move || Summary::collect(&engine.index, now)).await {
        Ok(Ok(s)) => h.summary.publish(s, named),
        Ok(Err(e)) => warn!(error = %e, "sla summary"),
        Err(e) => warn!(error = %e, "sla summary task"),
    }
}
