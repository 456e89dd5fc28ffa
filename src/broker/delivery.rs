//! What every consumer does with a delivery it cannot keep: requeue it, or
//! dead-letter it with the reason — one copy for the router, the status
//! consumers and the SLA clock.
//!
//! Dead-lettering is a confirmed publish to `<prefix>.dlx` with the reason in
//! [`REASON_HEADER`], and only then an ack: a message leaves its queue only
//! once the dead-letter queue holds it. A refused publish requeues it instead
//! (redelivery, then the queue's delivery limit), and a lost connection is
//! the caller's error, since nothing can be acked or requeued on it.

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use tracing::warn;

use super::publisher::Outgoing;
use super::{ConfirmedPublisher, Names, PublishError};

/// Header of a dead letter that says why it was set aside.
pub const REASON_HEADER: &str = "x-pintu-reason";

/// What became of a delivery handed to [`dead_letter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLettered {
    /// The dead-letter queue confirmed it; the delivery is acked.
    Kept,
    /// The publish was refused; the delivery is back on its queue.
    Requeued,
}

/// The delivery's `message_id`, or "" when the publisher set none.
pub fn message_id(d: &Delivery) -> String {
    d.properties
        .message_id()
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default()
}

/// Give the delivery back to its queue for another attempt.
pub async fn requeue(d: &Delivery) -> Result<(), lapin::Error> {
    d.acker
        .nack(BasicNackOptions {
            multiple: false,
            requeue: true,
        })
        .await?;
    Ok(())
}

/// Set the delivery aside on `<prefix>.dlx` with `reason`, then ack it.
pub async fn dead_letter(
    publisher: &ConfirmedPublisher,
    names: &Names,
    d: &Delivery,
    reason: String,
) -> Result<DeadLettered, lapin::Error> {
    warn!(reason = %reason, "dead-lettering");
    let id = message_id(d);
    let msg = Outgoing {
        exchange: &names.dlx(),
        routing_key: "",
        message_id: &id,
        body: &d.data,
        headers: vec![(REASON_HEADER, reason)],
    };
    match publisher.publish(&msg).await {
        Ok(()) => {
            d.acker.ack(BasicAckOptions::default()).await?;
            Ok(DeadLettered::Kept)
        }
        Err(PublishError::Broker(e)) => Err(e),
        Err(e) => {
            warn!(error = %e, "dead-letter publish refused, requeued");
            requeue(d).await?;
            Ok(DeadLettered::Requeued)
        }
    }
}
