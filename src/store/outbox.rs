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
        bincode::deserialize(bytes).map_err(|e| StoreError::Corrupt {
            tree: "outbox",
            reason: e.to_string(),
        })
    }
}

/// A fresh, time-ordered outbox key.
pub fn new_key() -> [u8; 16] {
    ulid::Ulid::new().to_bytes()
}
