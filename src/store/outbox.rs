//! Outbox entries: messages made durable here before the broker has them.
//!
//! Keys are ULIDs (time-ordered), so the relay publishes in arrival order and
//! republishes leftovers first after a restart.

use serde::{Deserialize, Serialize};

use super::StoreError;

/// Which exchange an entry goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Intake,
    Outbound,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub target: Target,
    pub routing_key: String,
    pub message_id: String,
    pub body: Vec<u8>,
}

impl Envelope {
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Envelope, StoreError> {
        bincode::deserialize(bytes).map_err(|e| StoreError::undecodable("outbox", *e))
    }
}

/// An outbox key (a ULID).
pub type Key = [u8; 16];

/// Where the intake writer announces each outbox entry it committed (and
/// flushed). The store defines the interface and the runtime wires it: in a
/// gateway it is the relay's in-memory feed ([`crate::relay::FeedTx`]), so
/// the relay publishes without reading sled back; the store knows nothing of
/// the broker. Called on the writer thread: it must not block.
pub trait Committed: Send + 'static {
    fn announce(&self, key: Key, envelope: Envelope);
}

/// A fresh, time-ordered outbox key.
pub fn new_key() -> Key {
    ulid::Ulid::new().to_bytes()
}
