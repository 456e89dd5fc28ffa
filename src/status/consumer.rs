//! The two status consumers of the gateway:
//!
//! - `<prefix>.status.routed`: every routed complaint becomes a record at its
//!   first stage (`terdisposisi`, or `belum_terverifikasi` at triage);
//! - `<prefix>.status`: agencies' updates. The routing key must be
//!   `status.<agency>` of the update's own `agency` (the broker's topic
//!   permissions let each agency user write only its own key, see
//!   `deploy/rabbitmq/status-users.example.json`), and the complaint must be
//!   routed to that agency; anything else is dead-lettered with the reason
//!   and counted. A delivery is acked only after its change is flushed.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use super::contract::StatusUpdate;
use super::service::{StatusService, Submitted};
use super::topology;
use super::StatusError;
use crate::broker::delivery::{self, message_id};
use crate::broker::{connect, ConfirmedPublisher, Names};
use crate::complaint::Complaint;

/// Pause before a delivery for a complaint not (yet) on record is requeued:
/// the routed copy may still be on its way; the delivery limit ends it.
const UNKNOWN_RETRY: Duration = Duration::from_millis(500);

pub async fn run(svc: Arc<StatusService>, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match session(&svc, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                warn!(error = %e, "status consumers: broker session ended");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

async fn session(svc: &Arc<StatusService>, shutdown: &CancellationToken) -> Result<(), StatusError> {
    let amqp = &svc.cfg.amqp;
    let conn = connect(amqp, "pintu-status").await?;
    let ch = conn.create_channel().await?;
    topology::declare(amqp, &ch).await?;
    ch.basic_qos(64, BasicQosOptions::default()).await?;
    let dl = ConfirmedPublisher::new(conn.create_channel().await?).await?;
    let mut routed = ch
        .basic_consume(
            topology::routed_queue(&amqp.prefix).into(),
            "pintu-status-routed".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut updates = ch
        .basic_consume(
            topology::updates_queue(&amqp.prefix).into(),
            "pintu-status-updates".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    svc.set_connected(true);
    info!("status: consuming routed complaints and agency updates");
    let names = Names::new(&amqp.prefix);
    let result = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            next = routed.next() => match next {
                Some(Ok(d)) => {
                    let span = info_span!("status_routed", complaint = %message_id(&d));
                    on_routed(svc, &dl, &names, d).instrument(span).await?
                }
                Some(Err(e)) => break Err(e.into()),
                None => break Err(StatusError::Setup("routed consumer cancelled".into())),
            },
            next = updates.next() => match next {
                Some(Ok(d)) => {
                    let span = info_span!("status_update", key = %d.routing_key.as_str());
                    on_update(svc, &dl, &names, d).instrument(span).await?
                }
                Some(Err(e)) => break Err(e.into()),
                None => break Err(StatusError::Setup("update consumer cancelled".into())),
            },
        }
    };
    svc.set_connected(false);
    let _ = conn.close(200, "status consumers stopping".into()).await;
    result
}

async fn on_routed(
    svc: &StatusService,
    dl: &ConfirmedPublisher,
    names: &Names,
    d: Delivery,
) -> Result<(), StatusError> {
    let c: Complaint = match serde_json::from_slice(&d.data) {
        Ok(c) => c,
        Err(e) => return dead_letter(dl, names, d, format!("not a complaint: {e}")).await,
    };
    match svc.store.record_routed(&c).await {
        Ok(_) => {}
        Err(StatusError::NotRouted) => return dead_letter(dl, names, d, "complaint without routing".into()).await,
        Err(e) => {
            warn!(error = %e, "cannot record routed complaint; requeued");
            delivery::requeue(&d).await?;
            return Ok(());
        }
    }
    d.acker.ack(BasicAckOptions::default()).await?;
    Ok(())
}

async fn on_update(
    svc: &StatusService,
    dl: &ConfirmedPublisher,
    names: &Names,
    d: Delivery,
) -> Result<(), StatusError> {
    let u = match StatusUpdate::parse(&d.data) {
        Ok(u) => u,
        Err(e) => {
            svc.counters.invalid("(amqp)");
            return dead_letter(dl, names, d, e.to_string()).await;
        }
    };
    if d.routing_key.as_str() != topology::key(&u.agency) {
        svc.counters.forbidden(&u.agency);
        let reason = format!("routing key {} is not status.{}", d.routing_key.as_str(), u.agency);
        return dead_letter(dl, names, d, reason).await;
    }
    match svc.submit(&u).await {
        Ok(Submitted::Applied { .. } | Submitted::Duplicate { .. }) => {
            d.acker.ack(BasicAckOptions::default()).await?;
        }
        Ok(Submitted::Forbidden) => {
            dead_letter(dl, names, d, format!("complaint not routed to {}", u.agency)).await?;
        }
        Ok(Submitted::Unknown) => {
            tokio::time::sleep(UNKNOWN_RETRY).await;
            delivery::requeue(&d).await?;
        }
        Err(e) => {
            warn!(error = %e, "cannot apply update; requeued");
            delivery::requeue(&d).await?;
        }
    }
    Ok(())
}

async fn dead_letter(dl: &ConfirmedPublisher, names: &Names, d: Delivery, reason: String) -> Result<(), StatusError> {
    delivery::dead_letter(dl, names, &d, reason).await?;
    Ok(())
}
