//! Drains the status outbox: every message a committed change produced
//! (citizen notices to `pintu.outbound`, re-routed and reopened complaints to
//! `pintu.agency`) is published with confirms and removed only after its
//! confirm. While the broker is away entries wait in sled; after a restart
//! they are published then — so a notice committed before a crash reaches
//! the citizen once it is back, and exactly once into the outbound queue
//! unless the crash fell between the confirm and the removal (then twice,
//! with the same `message_id`).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::apply::Exchange;
use super::store::{decode_pending, StatusStore};
use super::StatusError;
use crate::broker::publisher::Outgoing;
use crate::broker::{connect, ConfirmedPublisher, Names, PublishError};
use crate::config::AmqpConfig;

/// Longest pause between reconnects.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

pub async fn run(store: StatusStore, amqp: AmqpConfig, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match session(&store, &amqp, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                warn!(error = %e, "status outbox: broker session ended");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn session(store: &StatusStore, amqp: &AmqpConfig, shutdown: &CancellationToken) -> Result<(), StatusError> {
    let conn = connect(amqp, "pintu-status-outbox").await?;
    let publisher = ConfirmedPublisher::new(conn.create_channel().await?).await?;
    let names = Names::new(&amqp.prefix);
    loop {
        drain(store, &publisher, &names).await?;
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = conn.close(200, "status outbox stopping".into()).await;
                return Ok(());
            }
            _ = store.wake.notified() => {}
            // A safety net: an entry whose wake-up was missed.
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Publish everything waiting, oldest first.
async fn drain(store: &StatusStore, publisher: &ConfirmedPublisher, names: &Names) -> Result<(), StatusError> {
    for kv in store.outbox.iter() {
        let (key, value) = kv?;
        let p = match decode_pending(&value) {
            Ok(p) => p,
            Err(e) => {
                // Cannot be published in any form; keep it out of the way
                // but on record in the log (it is our own write, not input).
                warn!(error = %e, "status outbox: unreadable entry removed");
                store.outbox.remove(&key)?;
                continue;
            }
        };
        let exchange = match p.exchange {
            Exchange::Agency => names.agency_exchange(),
            Exchange::Outbound => names.outbound_exchange(),
            Exchange::Sla => names.sla_exchange(),
        };
        let msg = Outgoing {
            exchange: &exchange,
            routing_key: &p.routing_key,
            message_id: &p.message_id,
            body: &p.body,
            headers: p.headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect(),
        };
        match publisher.publish(&msg).await {
            Ok(()) => {
                store.outbox.remove(&key)?;
                metrics::counter!("pintu_status_published_total", "exchange" => exchange.clone()).increment(1);
                debug!(message_id = %p.message_id, %exchange, "status outbox: published");
            }
            Err(PublishError::Broker(e)) => return Err(e.into()),
            Err(e) => return Err(StatusError::Publish(e)),
        }
    }
    Ok(())
}
