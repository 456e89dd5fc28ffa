//! The reply sender: consumes `pintu.outbound` and sends each reply through the
//! transport of its provider.
//!
//! Acks only after the provider accepted the reply. A temporary failure is
//! retried with exponential backoff (the message is held, then requeued; the
//! quorum queue's delivery limit bounds the attempts and dead-letters the rest);
//! a permanent failure or an unreadable message goes to `pintu.dead` with the
//! reason at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use super::{OutboundReply, ReplyTransport, SendError};
use crate::broker::publisher::Outgoing;
use crate::broker::AmqpConfig;
use crate::broker::{connect, ConfirmedPublisher, Names, Topology};
use crate::stats::Stats;

pub struct ReplySender {
    amqp: AmqpConfig,
    names: Names,
    transports: HashMap<String, Arc<dyn ReplyTransport>>,
    concurrency: u16,
    max_backoff: Duration,
    stats: Arc<Stats>,
}

impl ReplySender {
    pub fn new(
        amqp: AmqpConfig,
        transports: Vec<Arc<dyn ReplyTransport>>,
        concurrency: usize,
        max_backoff: Duration,
    ) -> Self {
        let names = Names::new(&amqp.prefix);
        let transports = transports.into_iter().map(|t| (t.provider().to_string(), t)).collect();
        ReplySender {
            amqp,
            names,
            transports,
            concurrency: concurrency.clamp(1, 1000) as u16,
            max_backoff,
            stats: Arc::new(Stats::new()),
        }
    }

    /// Count sent and failed replies in the gateway's recorder.
    pub fn with_stats(mut self, stats: Arc<Stats>) -> Self {
        self.stats = stats;
        self
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let me = Arc::new(self);
        let mut backoff = Duration::from_millis(200);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            if let Err(e) = me.clone().session(&shutdown).await {
                warn!(error = %e, "reply sender: broker unavailable, retrying");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn session(self: Arc<Self>, shutdown: &CancellationToken) -> Result<(), lapin::Error> {
        let conn = connect(&self.amqp, "pintu-replies").await?;
        let ch = conn.create_channel().await?;
        Topology::new(&self.amqp).declare(&ch).await?;
        ch.basic_qos(self.concurrency, BasicQosOptions::default()).await?;
        let dead = ConfirmedPublisher::new(conn.create_channel().await?).await?;
        let mut consumer = ch
            .basic_consume(
                self.names.outbound_queue().into(),
                "pintu-replies".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        info!("reply sender: consuming {}", self.names.outbound_queue());
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => { let _ = conn.close(200, "bye".into()).await; return Ok(()) }
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        let me = self.clone();
                        let dead = dead.clone();
                        tokio::spawn(async move { me.handle(delivery, &dead).await });
                    }
                    Some(Err(e)) => return Err(e),
                    None => return Ok(()),
                }
            }
        }
    }

    async fn handle(&self, delivery: Delivery, dead: &ConfirmedPublisher) {
        let reply: OutboundReply = match serde_json::from_slice(&delivery.data) {
            Ok(r) => r,
            Err(e) => {
                return self
                    .dead_letter(delivery, dead, &format!("unreadable reply: {e}"))
                    .await
            }
        };
        // No tracking code in the span: transports log the (masked) address,
        // and the two side by side tie a complaint to a person.
        let span = info_span!("reply", complaint_id = %reply.complaint_id, provider = %reply.provider);
        async {
            let Some(transport) = self.transports.get(&reply.provider) else {
                let reason = format!("no reply transport configured for provider `{}`", reply.provider);
                return self.dead_letter(delivery, dead, &reason).await;
            };
            let labels = [
                ("channel", reply.channel.as_str().to_string()),
                ("provider", reply.provider.clone()),
            ];
            match transport.send(&reply).await {
                Ok(()) => {
                    metrics::counter!("pintu_replies_sent_total", &labels).increment(1);
                    self.stats.reply(true);
                    if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
                        warn!(error = %e, "reply sent but ack failed; it may be sent again");
                    }
                }
                Err(SendError::Permanent { reason, .. }) => {
                    metrics::counter!("pintu_replies_failed_total", &labels).increment(1);
                    self.stats.reply(false);
                    self.dead_letter(delivery, dead, &reason).await;
                }
                Err(SendError::Transient { reason, .. }) => {
                    metrics::counter!("pintu_replies_failed_total", &labels).increment(1);
                    self.stats.reply(false);
                    let attempt = delivery_count(&delivery);
                    let wait = backoff(attempt, self.max_backoff);
                    let reason = crate::obs::sanitize(&reason);
                    warn!(%reason, attempt, wait_ms = wait.as_millis() as u64, "reply failed, will retry");
                    tokio::time::sleep(wait).await;
                    // Requeue: the quorum queue counts it and dead-letters past the limit.
                    requeue(&delivery).await;
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn dead_letter(&self, delivery: Delivery, dead: &ConfirmedPublisher, reason: &str) {
        // Transports sanitize provider answers; this is the last line of defence
        // before a log line and a header that operators copy around.
        let reason = &crate::obs::sanitize(reason);
        warn!(%reason, "reply dead-lettered");
        let id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let dlx = self.names.dlx();
        let msg = Outgoing {
            exchange: &dlx,
            routing_key: "outbound",
            message_id: &id,
            body: &delivery.data,
            headers: vec![
                ("x-pintu-reason", reason.to_string()),
                ("x-pintu-source", self.names.outbound_queue()),
            ],
        };
        match dead.publish(&msg).await {
            Ok(()) => {
                metrics::counter!("pintu_dead_letters_total", "source" => "outbound").increment(1);
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            }
            Err(e) => {
                // Could not park it: requeue so it is not lost.
                warn!(error = %e, "dead-lettering failed; requeueing");
                requeue(&delivery).await;
            }
        }
    }
}

/// Give the message back to the queue (a failed nack means the channel is gone,
/// and the broker requeues unacked messages of a closed channel anyway).
async fn requeue(delivery: &Delivery) {
    let _ = delivery
        .acker
        .nack(BasicNackOptions {
            requeue: true,
            ..Default::default()
        })
        .await;
}

/// `x-delivery-count`, set by quorum queues on redelivery (absent the first time).
pub fn delivery_count(d: &Delivery) -> u32 {
    d.properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-delivery-count").cloned())
        .and_then(|v| match v {
            AMQPValue::LongLongInt(n) => Some(n as u32),
            AMQPValue::LongInt(n) => Some(n as u32),
            AMQPValue::ShortInt(n) => Some(n as u32),
            AMQPValue::LongUInt(n) => Some(n),
            _ => None,
        })
        .unwrap_or(0)
}

fn backoff(attempt: u32, max: Duration) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(16))).min(max)
}
