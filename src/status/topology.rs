//! The status side of the broker, declared by the gateway when `[status]`
//! is enabled (idempotently, like [`crate::broker::Topology`]):
//!
//! - exchange `<prefix>.status` (topic): agencies publish updates under
//!   `status.<agency code>`; queue `<prefix>.status` (quorum, delivery
//!   limit, dead letters to `<prefix>.dlx`) bound with `status.#`.
//! - queue `<prefix>.status.routed` (quorum): a copy of every routed
//!   complaint, bound to the agency exchange with exactly the keys of the
//!   agency queues and to the unbound (alternate) exchange — never with `#`,
//!   which would starve `<prefix>.unbound` (see `ops::monitor`).

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

use crate::broker::{Names, Topology};
use crate::config::AmqpConfig;

pub fn exchange(prefix: &str) -> String {
    format!("{prefix}.status")
}
pub fn updates_queue(prefix: &str) -> String {
    format!("{prefix}.status")
}
pub fn routed_queue(prefix: &str) -> String {
    format!("{prefix}.status.routed")
}
/// Routing key of `agency`'s updates.
pub fn key(agency: &str) -> String {
    format!("status.{agency}")
}

fn quorum(cfg: &AmqpConfig, names: &Names) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString(LongString::from("quorum")));
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(cfg.delivery_limit as i64),
    );
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(LongString::from(names.dlx().as_str())),
    );
    args
}

/// Declare the main topology and the status objects.
pub async fn declare(cfg: &AmqpConfig, ch: &Channel) -> Result<(), lapin::Error> {
    let topo = Topology::new(cfg);
    topo.declare(ch).await?;
    let names = &topo.names;
    let p = &cfg.prefix;
    ch.exchange_declare(
        exchange(p).into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    let qopts = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for q in [updates_queue(p), routed_queue(p)] {
        ch.queue_declare(q.as_str().into(), qopts, quorum(cfg, names)).await?;
    }
    let bind = QueueBindOptions::default();
    ch.queue_bind(
        updates_queue(p).into(),
        exchange(p).into(),
        "status.#".into(),
        bind,
        FieldTable::default(),
    )
    .await?;
    for b in topo.bindings.iter().filter(|b| b.exchange == names.agency_exchange()) {
        ch.queue_bind(
            routed_queue(p).into(),
            b.exchange.as_str().into(),
            b.key.as_str().into(),
            bind,
            FieldTable::default(),
        )
        .await?;
    }
    ch.queue_bind(
        routed_queue(p).into(),
        names.unbound_exchange().into(),
        "".into(),
        bind,
        FieldTable::default(),
    )
    .await?;
    Ok(())
}
