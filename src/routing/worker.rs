//! `pintu route`: consume complaints from `<prefix>.intake`, decide, publish
//! each to `<prefix>.agency` under `agency.<code>`, ack after the confirm.
//!
//! Each delivery is handled by its own task, so up to `routing.prefetch`
//! complaints are in flight at once: publishes and their confirms overlap
//! instead of costing one broker round trip each. A delivery is acked only
//! after its routed message was confirmed (and not returned); if publishing
//! fails the delivery is rejected with requeue, and the intake queue's
//! delivery limit dead-letters a message that keeps failing. A message that is
//! not a complaint at all goes straight to `<prefix>.dead` with the reason.
//! Every routed message carries `message_id` = complaint id, and the decision
//! is a pure function of the complaint (plus the optional decision store), so
//! a redelivery republishes the same decision under the same id.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use thiserror::Error;
use tokio::task::JoinSet;
use tracing::{debug, info, info_span, warn, Instrument};

use super::store::{DecisionStore, StoreError};
use super::{Engine, RouteOptions, RoutingError};
use crate::broker::delivery::{self, message_id, DeadLettered};
use crate::broker::publisher::Outgoing;
use crate::broker::{connect, ConfirmedPublisher, Names, PublishError, Topology};
use crate::complaint::Complaint;
use crate::config::Config;

/// Header of a dead letter that says why (kept here for the tests and tools
/// that read it through the router).
pub use crate::broker::delivery::REASON_HEADER;

#[derive(Debug, Error)]
pub enum RouteError {
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("publish: {0}")]
    Publish(#[from] PublishError),
    #[error("the broker cancelled the consumer of {0}")]
    ConsumerCancelled(String),
}

/// Counters of a running worker (load tool, ops).
#[derive(Debug, Default)]
pub struct RouteStats {
    pub consumed: AtomicU64,
    pub routed: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub requeued: AtomicU64,
    pub acked: AtomicU64,
}

/// What every delivery task needs.
struct Ctx {
    engine: Arc<Engine>,
    options: RouteOptions,
    store: Option<DecisionStore>,
    publisher: ConfirmedPublisher,
    names: Names,
    stats: Arc<RouteStats>,
    /// Announce each disposition to the SLA clock (`sla.enabled`).
    sla: bool,
}

/// `pintu route` with everything from the config: loads the tables, opens
/// the decision store, runs until `shutdown` resolves.
pub async fn run_route(cfg: Config, shutdown: impl Future<Output = ()>) -> Result<(), RouteError> {
    let engine = Arc::new(Engine::from_config(&cfg)?);
    info!(version = engine.version(), "routing tables loaded");
    let store = if cfg.routing.remember_decisions {
        let s = DecisionStore::open(&cfg.router_data_dir())?;
        let pruned = s.prune(Duration::from_secs(u64::from(cfg.routing.remember_days) * 86_400))?;
        debug!(pruned, "old decisions pruned");
        Some(s)
    } else {
        None
    };
    run_worker(&cfg, engine, store, Arc::new(RouteStats::default()), shutdown).await
}

/// The worker loop with injected parts (tests and the load tool share one
/// engine and watch the counters).
pub async fn run_worker(
    cfg: &Config,
    engine: Arc<Engine>,
    store: Option<DecisionStore>,
    stats: Arc<RouteStats>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RouteError> {
    let conn = connect(&cfg.amqp, "pintu-route").await?;
    let consume_ch = conn.create_channel().await?;
    Topology::new(&cfg.amqp).declare(&consume_ch).await?;
    let publisher = ConfirmedPublisher::new(conn.create_channel().await?).await?;
    consume_ch
        .basic_qos(cfg.routing.prefetch.max(1), BasicQosOptions::default())
        .await?;
    let names = Names::new(&cfg.amqp.prefix);
    let mut consumer = consume_ch
        .basic_consume(
            names.intake_queue().into(),
            "pintu-route".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    info!(queue = %names.intake_queue(), prefetch = cfg.routing.prefetch, "routing");
    let ctx = Arc::new(Ctx {
        engine,
        options: RouteOptions::from_config(cfg),
        store: store.clone(),
        publisher,
        names,
        stats,
        sla: cfg.sla.enabled,
    });

    let mut tasks: JoinSet<Result<(), RouteError>> = JoinSet::new();
    tokio::pin!(shutdown);
    let mut result = Ok(());
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = flatten(done) {
                    result = Err(e);
                    break;
                }
            }
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    ctx.stats.consumed.fetch_add(1, Ordering::Relaxed);
                    let ctx = ctx.clone();
                    let span = info_span!("route", complaint = %message_id(&delivery));
                    tasks.spawn(handle(ctx, delivery).instrument(span));
                }
                Some(Err(e)) => {
                    result = Err(e.into());
                    break;
                }
                // Not asked to stop, yet no more deliveries (queue deleted,
                // channel closed): fail so a supervisor restarts the worker.
                None => {
                    result = Err(RouteError::ConsumerCancelled(ctx.names.intake_queue()));
                    break;
                }
            },
        }
    }
    // Stop taking new work, finish what is in flight; whatever is unacked is
    // redelivered by the broker when the channel closes.
    let _ = consume_ch
        .basic_cancel(consumer.tag().as_str().into(), BasicCancelOptions::default())
        .await;
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = flatten(done) {
            warn!(error = %e, "while draining");
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    if let Some(s) = &store {
        s.flush()?;
    }
    let _ = conn.close(200, "route worker stopping".into()).await;
    result
}

fn flatten(done: Result<Result<(), RouteError>, tokio::task::JoinError>) -> Result<(), RouteError> {
    match done {
        Ok(r) => r,
        // A panicking task leaves its delivery unacked; the broker redelivers it
        // and the delivery limit stops a loop. Not a reason to stop the worker.
        Err(e) => {
            warn!(error = %e, "delivery task failed");
            Ok(())
        }
    }
}

/// One delivery: route and publish, or dead-letter; then ack. Broker errors
/// on ack/nack end the worker (the connection is gone).
async fn handle(ctx: Arc<Ctx>, delivery: Delivery) -> Result<(), RouteError> {
    let complaint: Complaint = match serde_json::from_slice(&delivery.data) {
        Ok(c) => c,
        Err(e) => return dead_letter(&ctx, delivery, format!("not a complaint: {e}")).await,
    };
    let routed = match route(&ctx, &complaint) {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "cannot route, requeued");
            return requeue(&ctx, delivery).await;
        }
    };
    let agency = routed.routing.as_ref().map(|r| r.agency.clone()).unwrap_or_default();
    let body = match serde_json::to_vec(&routed) {
        Ok(b) => b,
        Err(e) => return dead_letter(&ctx, delivery, format!("cannot serialise: {e}")).await,
    };
    let key = Names::agency_key(&agency);
    let msg = Outgoing {
        exchange: &ctx.names.agency_exchange(),
        routing_key: &key,
        message_id: &complaint.id,
        body: &body,
        headers: Vec::new(),
    };
    let mut published = ctx.publisher.publish(&msg).await;
    if let (Ok(()), true) = (&published, ctx.sla) {
        // The clock starts at disposition; confirmed before the ack like the
        // routed message itself (a requeue republishes both, same ids).
        published = announce_disposition(&ctx, &routed).await;
    }
    match published {
        Ok(()) => {
            ctx.stats.routed.fetch_add(1, Ordering::Relaxed);
            debug!(agency = %agency, "routed");
            delivery.acker.ack(BasicAckOptions::default()).await?;
            ctx.stats.acked.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(PublishError::Broker(e)) => Err(e.into()),
        Err(e) => {
            warn!(error = %e, agency = %agency, "publish refused, requeued");
            requeue(&ctx, delivery).await
        }
    }
}

async fn announce_disposition(ctx: &Ctx, routed: &Complaint) -> Result<(), PublishError> {
    let Some(ev) = crate::sla::StageEvent::disposition(routed) else {
        return Ok(());
    };
    let Ok(body) = serde_json::to_vec(&ev) else {
        // Strings and a timestamp: cannot fail; if it ever did, say so.
        warn!("disposition not announced to the SLA clock: not serialisable");
        return Ok(());
    };
    let msg = Outgoing {
        exchange: &ctx.names.sla_exchange(),
        routing_key: &ev.routing_key(),
        message_id: &ev.message_id(),
        body: &body,
        headers: Vec::new(),
    };
    ctx.publisher.publish(&msg).await
}

/// The decision: remembered if this complaint was routed before, else new.
fn route(ctx: &Ctx, c: &Complaint) -> Result<Complaint, StoreError> {
    let mut routed = ctx.engine.route_with(c, Utc::now(), &ctx.options);
    if let (Some(store), Some(r)) = (&ctx.store, &routed.routing) {
        let kept = store.remember(&c.id, r)?;
        if &kept != r {
            debug!("redelivery: republishing the remembered decision");
            routed.routing = Some(kept);
        }
    }
    Ok(routed)
}

async fn dead_letter(ctx: &Ctx, delivery: Delivery, reason: String) -> Result<(), RouteError> {
    match delivery::dead_letter(&ctx.publisher, &ctx.names, &delivery, reason).await? {
        DeadLettered::Kept => {
            ctx.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
            ctx.stats.acked.fetch_add(1, Ordering::Relaxed);
        }
        DeadLettered::Requeued => {
            ctx.stats.requeued.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

async fn requeue(ctx: &Ctx, delivery: Delivery) -> Result<(), RouteError> {
    ctx.stats.requeued.fetch_add(1, Ordering::Relaxed);
    delivery::requeue(&delivery).await?;
    Ok(())
}
