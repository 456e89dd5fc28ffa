//! This gateway's identity in a cluster, kept on the broker
//! (docs/scale-out.md):
//!
//! - **the claim**: an exclusive queue `<prefix>.node.<id>.claim`, held by
//!   this node's connection, so a second gateway started with the same
//!   `node.id` gets `RESOURCE_LOCKED` and refuses to start naming the id;
//! - **the reservation**: before issuing tracking-code numbers beyond its
//!   ceiling, the node publishes (with a publisher confirm) the next ceiling
//!   to `<prefix>.node.<id>.codes`, a quorum queue of one message (the
//!   newest: `x-max-length = 1`, `drop-head`); at start it reads it back and
//!   resumes above it, so a node restored from an old volume snapshot, or a
//!   new node replacing a lost one, repeats no code
//!   ([`crate::store::reservation`] has the arithmetic);
//! - **what it knows of the others**: every reservation goes to the topic
//!   exchange `<prefix>.node` under `codes.<id>`, and each node's claim
//!   queue hears all of them (`codes.*`), so a follow-up quoting another
//!   node's code is linked ([`crate::store::codes::Issuer::issued`]). Each
//!   node repeats its reservation every [`agent::ANNOUNCE_EVERY`] with the
//!   ceilings it has heard of every node, so a new node learns them all,
//!   also of nodes that are down.
//!
//! The broker being down at start does not stop the gateway (intake accepts
//! complaints without it, docs/design.md): it then reserves on its own disk
//! only, a gap higher (see [`crate::store::reservation`]), and claims and
//! confirms once the broker is back. Except on a store that never issued a
//! code: it may be a node replacing a lost one, whose codes only the broker
//! knows, so it issues none (intake answers 503) until the broker answers.

pub(crate) mod config;

mod agent;
mod announce;
mod session;

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::broker::PublishError;
use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::tracking::NODES;

pub use announce::Announce;

#[derive(Debug, Error)]
pub enum NodeError {
    #[error(
        "node.id {id} is already in use: another running gateway holds the broker's claim \
         `{queue}`. Give every node its own node.id (0 to 15); if that gateway is gone, \
         start again once the broker has noticed (its heartbeat, under a minute)"
    )]
    InUse { id: u8, queue: String },
    #[error(
        "node.id {id}: the broker's reservations for this node were made with another tracking key \
         (key id {broker}, this node's is {ours}); every node must use the cluster's node.tracking_key. \
         A single gateway whose data directory was wiped on purpose (a test, a benchmark) starts on \
         another amqp.prefix, or once the broker's queue `{queue}` is deleted \
         (docs/scale-out.md, node replacement)"
    )]
    KeyMismatch {
        id: u8,
        broker: String,
        ours: String,
        queue: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("publish: {0}")]
    Publish(#[from] PublishError),
    #[error("the broker did not answer within {0:?}")]
    Timeout(Duration),
}

/// The topic exchange reservations are announced on.
pub fn exchange(prefix: &str) -> String {
    format!("{prefix}.node")
}

/// The durable queue keeping node `id`'s latest reservation.
pub fn codes_queue(prefix: &str, id: u8) -> String {
    format!("{prefix}.node.{id}.codes")
}

/// The exclusive queue that is node `id`'s claim (and hears every node).
pub fn claim_queue(prefix: &str, id: u8) -> String {
    format!("{prefix}.node.{id}.claim")
}

/// Routing key of node `id`'s reservations.
pub fn routing_key(id: u8) -> String {
    format!("codes.{id}")
}

/// Every durable queue and exchange this module may declare under `prefix`
/// (claims are exclusive: they go with their connection), for cleanup.
pub fn broker_objects(prefix: &str) -> (Vec<String>, Vec<String>) {
    let queues = (0..NODES as u8).map(|id| codes_queue(prefix, id)).collect();
    (queues, vec![exchange(prefix)])
}

/// Claim this node's id, reserve its first block of codes and keep
/// reserving, announcing and listening until `shutdown`. Refuses when the
/// id is in use or the broker's reservations name another key; starts on
/// a local reservation when the broker cannot be reached.
pub async fn start(cfg: &Config, store: &Store, shutdown: CancellationToken) -> Result<JoinHandle<()>, NodeError> {
    let mut agent = agent::Agent::new(Arc::new(cfg.amqp.clone()), store.clone());
    let begun = match agent.claim_at_start().await {
        Ok(()) => agent.begin_confirmed().await,
        Err(e) => Err(e),
    };
    match begun {
        Ok(()) => {}
        Err(e @ (NodeError::InUse { .. } | NodeError::KeyMismatch { .. } | NodeError::Store(_))) => return Err(e),
        Err(e) if store.codes.is_fresh() => {
            warn!(error = %e, node = cfg.node.id(), "broker unreachable at the first start of this store");
            agent.drop_session().await;
            agent.await_broker();
        }
        Err(e) => {
            warn!(error = %e, node = cfg.node.id(), "broker unreachable at start: tracking codes from a local reservation until it is back");
            agent.drop_session().await;
            agent.begin_local().await?;
        }
    }
    Ok(tokio::spawn(agent.run(shutdown)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_and_the_code_space_agree_on_the_number_of_nodes() {
        assert_eq!(config::NODE_IDS as usize, NODES);
    }

    #[test]
    fn names_carry_the_prefix_and_the_id() {
        assert_eq!(claim_queue("pintu", 3), "pintu.node.3.claim");
        assert_eq!(codes_queue("pintu", 3), "pintu.node.3.codes");
        assert_eq!(routing_key(3), "codes.3");
        let (queues, exchanges) = broker_objects("t-1");
        assert_eq!(queues.len(), 16);
        assert!(queues.contains(&"t-1.node.15.codes".to_string()));
        assert_eq!(exchanges, vec!["t-1.node".to_string()]);
    }
}
