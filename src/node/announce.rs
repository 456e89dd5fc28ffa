//! The one message nodes exchange: a node's reservation ceiling, the key
//! it issues with (by id, never the key), and the ceilings it has heard of
//! every node.

use serde::{Deserialize, Serialize};

use crate::tracking::NODES;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announce {
    pub node: u8,
    /// `tracking::key_id` of the node's key, hex.
    pub key_id: String,
    /// Numbers below this may have been issued by the node; none above.
    pub ceiling: u64,
    /// Every node's ceiling as the announcing node last heard (its own: `ceiling`).
    pub known: Vec<u64>,
}

impl Announce {
    pub fn new(node: u8, key_id: [u8; 8], ceiling: u64, known: [u64; NODES]) -> Announce {
        let mut known = known.to_vec();
        known[node as usize % NODES] = ceiling;
        Announce {
            node,
            key_id: hex::encode(key_id),
            ceiling,
            known,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A well-formed announcement (node id in range, one ceiling per node).
    pub fn decode(body: &[u8]) -> Result<Announce, String> {
        let a: Announce = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if a.node as usize >= NODES || a.known.len() != NODES {
            return Err(format!("node {} with {} ceilings", a.node, a.known.len()));
        }
        Ok(a)
    }

    /// The highest ceiling this announcement gives node `id`.
    pub fn ceiling_of(&self, id: u8) -> u64 {
        let heard = self.known.get(id as usize).copied().unwrap_or(0);
        if id == self.node {
            heard.max(self.ceiling)
        } else {
            heard
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_round_trip_and_refuse_what_is_not_one() {
        let mut known = [0u64; NODES];
        known[1] = 8192;
        let a = Announce::new(2, [0xab; 8], 4096, known);
        assert_eq!(a.key_id, "abababababababab");
        let back = Announce::decode(&a.encode()).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.ceiling_of(2), 4096);
        assert_eq!(back.ceiling_of(1), 8192);
        assert_eq!(back.ceiling_of(7), 0);
        assert!(Announce::decode(br#"{"node":16,"key_id":"","ceiling":1,"known":[]}"#).is_err());
        assert!(Announce::decode(br#"{"node":1,"key_id":"","ceiling":1,"known":[1,2]}"#).is_err());
        assert!(Announce::decode(b"not json").is_err());
    }
}
