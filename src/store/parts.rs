//! Concatenated SMS parts waiting for their siblings.
//!
//! A group is keyed by provider + sender + UDH reference + part count. Each part
//! is stored (and flushed) before the gateway answers, so parts survive a
//! restart; the group record holds a bitmap of the parts received.
//!
//! The storage side lives here (one transaction per part, reading a group
//! back, finding stale groups); when to assemble and what a joined complaint
//! is stays with intake (`crate::intake`).

use pintu_channels::Inbound;
use serde::{Deserialize, Serialize};
use sled::transaction::{TransactionError, Transactional};

use super::dedupe::Record;
use super::{Store, StoreError};

/// What storing one part found.
pub enum PartStored {
    /// Its provider id maps to a live complaint already: nothing was written.
    Duplicate(Record),
    /// Stored; the group as it now stands.
    Stored(Group),
}

/// One part of a group as read back: its key and the message.
pub struct StoredPart {
    pub key: Vec<u8>,
    pub inbound: Inbound,
}

impl Store {
    /// Store one part (`encoded`: the part's JSON) and mark it in its group,
    /// in one transaction, unless `provider_dup` names a dedupe record that
    /// is still live at `now`. Not flushed: the caller flushes before it
    /// answers. As the intake writer does, it never hands sled a write the
    /// disk may not hold.
    pub fn stage_part(
        &self,
        gkey: &[u8],
        seq: u8,
        total: u8,
        encoded: &[u8],
        provider_dup: Option<&[u8]>,
        now: u64,
    ) -> Result<PartStored, StoreError> {
        self.health.check()?;
        let pkey = part_key(gkey, seq);
        let result: Result<PartStored, TransactionError<()>> = (&self.dedupe, &self.parts, &self.part_groups)
            .transaction(|(dd, pt, pg)| {
                if let Some(k) = provider_dup {
                    if let Some(v) = dd.get(k)? {
                        if let Ok(r) = Record::decode(&v) {
                            if r.expires_at > now {
                                return Ok(PartStored::Duplicate(r));
                            }
                        }
                    }
                }
                let mut group = match pg.get(gkey)? {
                    Some(v) => Group::decode(&v).unwrap_or_else(|_| Group::new(now, total)),
                    None => Group::new(now, total),
                };
                group.mark(seq);
                pt.insert(pkey.as_slice(), encoded)?;
                pg.insert(gkey, group.encode())?;
                Ok(PartStored::Stored(group))
            });
        match result {
            Ok(stored) => Ok(stored),
            Err(TransactionError::Abort(())) => Err(StoreError::Aborted),
            Err(TransactionError::Storage(e)) => {
                self.health.note(&e);
                Err(e.into())
            }
        }
    }

    /// A group and its parts in order, `None` for each part not received;
    /// `None` when the group is gone (assembled by someone else).
    #[allow(clippy::type_complexity)]
    pub fn group_parts(&self, gkey: &[u8]) -> Result<Option<(Group, Vec<Option<StoredPart>>)>, StoreError> {
        let Some(gv) = self.part_groups.get(gkey)? else {
            return Ok(None);
        };
        let group = Group::decode(&gv)?;
        let mut parts = Vec::with_capacity(group.total as usize);
        for seq in 1..=group.total {
            let key = part_key(gkey, seq);
            parts.push(match self.parts.get(&key)? {
                Some(v) => {
                    // JSON, not bincode: `Inbound` uses skip_serializing_if,
                    // which a non-self-describing format cannot read back.
                    let inbound: Inbound =
                        serde_json::from_slice(&v).map_err(|e| StoreError::undecodable("parts", e))?;
                    Some(StoredPart { key, inbound })
                }
                None => None,
            });
        }
        Ok(Some((group, parts)))
    }

    /// Keys of groups whose first part came at or before `cutoff` (unix
    /// seconds), and of unreadable group records.
    pub fn stale_part_groups(&self, cutoff: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut stale = Vec::new();
        for entry in self.part_groups.iter() {
            let (k, v) = entry?;
            match Group::decode(&v) {
                Ok(g) if g.first_seen <= cutoff => stale.push(k.to_vec()),
                Ok(_) => {}
                Err(_) => stale.push(k.to_vec()),
            }
        }
        Ok(stale)
    }
}

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
        bincode::deserialize(bytes).map_err(|e| StoreError::undecodable("part_groups", *e))
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
    use std::error::Error;

    use super::*;

    #[test]
    fn an_undecodable_part_keeps_the_decoders_error() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _closed) = Store::open(dir.path(), 1 << 20).unwrap();
        let gkey = group_key("kannel", "628111", 7, 2);
        let mut group = Group::new(0, 2);
        group.mark(1);
        store.part_groups.insert(&gkey, group.encode()).unwrap();
        store.parts.insert(part_key(&gkey, 1), b"{not json".as_slice()).unwrap();
        let e = store.group_parts(&gkey).err().unwrap();
        assert!(matches!(e, StoreError::Corrupt { tree: "parts", .. }), "{e}");
        let json = e.source().and_then(|s| s.downcast_ref::<serde_json::Error>());
        assert!(json.is_some_and(serde_json::Error::is_syntax), "{e:?}");

        let e = Group::decode(&[]).err().unwrap();
        assert!(e.to_string().starts_with("corrupt record in `part_groups`: "), "{e}");
        assert!(
            e.source()
                .and_then(|s| s.downcast_ref::<bincode::ErrorKind>())
                .is_some(),
            "{e:?}"
        );
    }

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
