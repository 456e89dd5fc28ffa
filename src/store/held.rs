//! Messages held by flood control (see [`crate::flood`]): durable, not
//! published, waiting for an operator.
//!
//! Tree `flood_held`: complaint id (ULID bytes, so oldest first) →
//! [`Held`]. A held message is a complete complaint — id, tracking code,
//! everything the outbox entry would have carried — plus the acknowledgement
//! it would have had, so a replay publishes exactly what intake would have
//! published then, with the same `message_id`. Intake writes a held message
//! in the same transaction as its dedupe keys (a resend or a provider retry
//! of it stays a duplicate), and a replay moves it to the outbox in one
//! transaction of the intake writer, so it is never in both or in neither.

use serde::{Deserialize, Serialize};

use super::outbox::Envelope;
use super::StoreError;

/// Name of the tree.
pub const TREE: &str = "flood_held";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub reason: String,
    /// When it was held (ms since the Unix epoch).
    pub at_ms: u64,
    pub channel: String,
    pub provider: String,
    /// Masked sender address, for the ops view (never the address itself).
    pub sender: String,
    /// First bytes of the keyed sender hash (hex): groups one sender's
    /// messages without naming them.
    pub sender_tag: String,
    pub tracking: String,
    /// The start of the text, for an operator to judge; empty for messages
    /// the citizen marked confidential.
    pub preview: String,
    /// The outbox entry of the complaint.
    pub complaint: Envelope,
    /// The acknowledgement the citizen would have got.
    pub reply: Option<Envelope>,
    /// Dedupe keys written for it (their records carry the held flag until
    /// the message is replayed).
    pub dedupe_keys: Vec<Vec<u8>>,
}

impl Held {
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Held, StoreError> {
        bincode::deserialize(bytes).map_err(|e| StoreError::undecodable(TREE, *e))
    }
}

/// The held messages, oldest first, at most `limit` (undecodable ones are
/// skipped and left in place).
pub fn list(tree: &sled::Tree, limit: usize) -> Result<Vec<(String, Held)>, StoreError> {
    let mut out = Vec::new();
    for entry in tree.iter() {
        if out.len() >= limit {
            break;
        }
        let (k, v) = entry?;
        let Ok(id) = <[u8; 16]>::try_from(k.as_ref()) else {
            continue;
        };
        match Held::decode(&v) {
            Ok(h) => out.push((ulid::Ulid::from_bytes(id).to_string(), h)),
            Err(e) => tracing::warn!(error = %e, "undecodable held-message record left in place"),
        }
    }
    Ok(out)
}

/// Start of `text` for the ops view: at most `max` characters on one line.
pub fn preview(text: &str, max: usize) -> String {
    let mut p: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        p.push('…');
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outbox::Target;

    #[test]
    fn round_trip_and_list_in_order() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let t = db.open_tree(TREE).unwrap();
        let held = |n: u8| Held {
            reason: "rate_limited".into(),
            at_ms: u64::from(n),
            channel: "sms".into(),
            provider: "generic".into(),
            sender: "+62812****001".into(),
            sender_tag: "ab12".into(),
            tracking: "LPR-222222".into(),
            preview: "Jalan rusak".into(),
            complaint: Envelope {
                target: Target::Intake,
                routing_key: "intake.sms".into(),
                message_id: format!("m{n}"),
                body: vec![n],
            },
            reply: None,
            dedupe_keys: vec![vec![b's', n]],
        };
        for n in [3u8, 1, 2] {
            let id = ulid::Ulid::from_parts(u64::from(n), 0);
            t.insert(id.to_bytes(), held(n).encode()).unwrap();
        }
        t.insert([9u8; 16], &b"junk"[..]).unwrap();
        let got = list(&t, 10).unwrap();
        assert_eq!(got.iter().map(|(_, h)| h.at_ms).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(got[0].1, held(1));
        assert_eq!(list(&t, 2).unwrap().len(), 2);
        assert_eq!(preview("a\nb", 10), "a b");
        assert_eq!(preview("abcdef", 3), "abc…");
    }
}
