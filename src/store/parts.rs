//! Concatenated SMS parts waiting for their siblings.
//!
//! A group is keyed by provider + sender + UDH reference + part count. Each part
//! is stored (and flushed) before the gateway answers, so parts survive a
//! restart; the group record holds a bitmap of the parts received.

use serde::{Deserialize, Serialize};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Unix seconds of the first part's arrival.
    pub first_seen: u64,
    pub total: u8,
    pub received: Vec<u8>,
}

impl Group {
    pub fn new(first_seen: u64, total: u8) -> Group {
        Group {
            first_seen,
            total,
            received: vec![0; 32],
        }
    }

    pub fn mark(&mut self, seq: u8) {
        if let Some(b) = self.received.get_mut(seq as usize / 8) {
            *b |= 1 << (seq % 8);
        }
    }

    pub fn has(&self, seq: u8) -> bool {
        self.received
            .get(seq as usize / 8)
            .is_some_and(|b| b & (1 << (seq % 8)) != 0)
    }

    pub fn count(&self) -> u32 {
        (1..=self.total).filter(|s| self.has(*s)).count() as u32
    }

    pub fn complete(&self) -> bool {
        self.count() == self.total as u32
    }

    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Group, StoreError> {
        bincode::deserialize(bytes).map_err(|e| StoreError::Corrupt {
            tree: "part_groups",
            reason: e.to_string(),
        })
    }
}

pub fn group_key(provider: &str, sender: &str, reference: u16, total: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(provider.len() + sender.len() + 6);
    k.extend_from_slice(provider.as_bytes());
    k.push(0);
    k.extend_from_slice(sender.as_bytes());
    k.push(0);
    k.extend_from_slice(&reference.to_be_bytes());
    k.push(total);
    k
}

pub fn part_key(group: &[u8], seq: u8) -> Vec<u8> {
    let mut k = group.to_vec();
    k.push(0);
    k.push(seq);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap() {
        let mut g = Group::new(0, 3);
        g.mark(3);
        g.mark(1);
        assert!(!g.complete());
        assert_eq!(g.count(), 2);
        g.mark(2);
        assert!(g.complete());
        let mut big = Group::new(0, 255);
        big.mark(255);
        assert!(big.has(255));
    }
}
