//! One connection of the node to the broker: it holds the claim, reads the
//! node's last reservation back, publishes new ones with confirms and
//! hears the other nodes'.

use std::time::Duration;

use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, BasicNackOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, Connection, Consumer, ExchangeKind};
use tracing::warn;

use super::{announce::Announce, claim_queue, codes_queue, exchange, routing_key, NodeError};
use crate::broker::publisher::Outgoing;
use crate::broker::{connect, AmqpConfig, ConfirmedPublisher};

/// RabbitMQ's reply code for a queue declared exclusive by another connection.
const RESOURCE_LOCKED: u16 = 405;

/// Longest wait for the broker's confirmation of a reservation; beyond it
/// the node reserves locally (a broker under a resource alarm blocks
/// publishers without closing the connection).
pub const CONFIRM_WAIT: Duration = Duration::from_secs(2);

/// More messages than this in a reservation queue (it keeps one) is a bug
/// or someone else's publishing; reading stops there.
const MAX_READ_BACK: usize = 64;

pub struct Session {
    conn: Connection,
    /// Declarations and the read-back.
    ch: Channel,
    publisher: ConfirmedPublisher,
    pub peers: Consumer,
    prefix: String,
    node: u8,
}

impl Session {
    pub async fn open(amqp: &AmqpConfig, node: u8) -> Result<Session, NodeError> {
        let conn = connect(amqp, &format!("pintu-node-{node}")).await?;
        match Session::setup(conn, &amqp.prefix, node).await {
            Ok(s) => Ok(s),
            Err((conn, e)) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), conn.close(200, "node claim failed".into())).await;
                Err(e)
            }
        }
    }

    async fn setup(conn: Connection, prefix: &str, node: u8) -> Result<Session, (Connection, NodeError)> {
        macro_rules! t {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) => return Err((conn, NodeError::from(e))),
                }
            };
        }
        let ch = t!(conn.create_channel().await);
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        t!(ch
            .exchange_declare(
                exchange(prefix).into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default()
            )
            .await);
        let codes = codes_queue(prefix, node);
        let qopts = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        t!(ch.queue_declare(codes.as_str().into(), qopts, codes_args()).await);
        let bind = QueueBindOptions::default();
        t!(ch
            .queue_bind(
                codes.as_str().into(),
                exchange(prefix).into(),
                routing_key(node).into(),
                bind,
                FieldTable::default()
            )
            .await);
        // The claim on its own channel: a refusal closes the channel.
        let claim_ch = t!(conn.create_channel().await);
        let claim = claim_queue(prefix, node);
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            ..Default::default()
        };
        match claim_ch
            .queue_declare(claim.as_str().into(), exclusive, FieldTable::default())
            .await
        {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), lapin::ErrorKind::ProtocolError(p) if p.get_id() == RESOURCE_LOCKED) => {
                return Err((conn, NodeError::InUse { id: node, queue: claim }));
            }
            Err(e) => return Err((conn, e.into())),
        }
        t!(claim_ch
            .queue_bind(
                claim.as_str().into(),
                exchange(prefix).into(),
                "codes.*".into(),
                bind,
                FieldTable::default()
            )
            .await);
        let peers = t!(claim_ch
            .basic_consume(
                claim.as_str().into(),
                format!("pintu-node-{node}").into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await);
        let pch = t!(conn.create_channel().await);
        let publisher = t!(ConfirmedPublisher::new(pch).await);
        Ok(Session {
            conn,
            ch,
            publisher,
            peers,
            prefix: prefix.to_string(),
            node,
        })
    }

    /// This node's reservation on the broker (the highest, should there be
    /// more than one), left in the queue: every message read is returned
    /// (nack + requeue) before anything new is published, so a crash in
    /// between loses nothing, and the next publish pushes it out (drop-head).
    pub async fn read_back(&self) -> Result<Option<Announce>, NodeError> {
        let queue = codes_queue(&self.prefix, self.node);
        let mut best: Option<Announce> = None;
        let mut last_tag = None;
        for _ in 0..MAX_READ_BACK {
            let Some(m) = self
                .ch
                .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
                .await?
            else {
                break;
            };
            last_tag = Some(m.delivery.delivery_tag);
            match Announce::decode(&m.delivery.data) {
                Ok(a) if best.as_ref().is_none_or(|b| a.ceiling > b.ceiling) => best = Some(a),
                Ok(_) => {}
                Err(e) => warn!(%queue, error = %e, "not a reservation; ignored"),
            }
        }
        if let Some(tag) = last_tag {
            self.ch
                .basic_nack(
                    tag,
                    BasicNackOptions {
                        multiple: true,
                        requeue: true,
                    },
                )
                .await?;
        }
        Ok(best)
    }

    /// Publish `a` and wait for the broker's confirmation.
    pub async fn publish(&self, a: &Announce) -> Result<(), NodeError> {
        let body = a.encode();
        let id = format!("node-{}-{}", a.node, a.ceiling);
        let key = routing_key(self.node);
        let exchange = exchange(&self.prefix);
        let msg = Outgoing {
            exchange: &exchange,
            routing_key: &key,
            message_id: &id,
            body: &body,
            headers: Vec::new(),
        };
        match tokio::time::timeout(CONFIRM_WAIT, self.publisher.publish(&msg)).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(NodeError::Timeout(CONFIRM_WAIT)),
        }
    }

    /// Close the connection, which releases the claim.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.conn.close(200, "node stopping".into())).await;
    }
}

/// A quorum queue (replicated in a cluster) that keeps only the newest
/// message; no delivery limit is set, and the read-back requeues at most
/// once per start, so RabbitMQ 4's default limit (20) is never reached
/// either: every start publishes a fresh message.
fn codes_args() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString(LongString::from("quorum")));
    args.insert("x-max-length".into(), AMQPValue::LongLongInt(1));
    args.insert(
        "x-overflow".into(),
        AMQPValue::LongString(LongString::from("drop-head")),
    );
    args
}
