//! The record of every quarantined message: why, when, where it sat, and
//! whether an operator replayed it.
//!
//! Two sled trees in the gateway database:
//! - `email_quarantine`: `mailbox \0 folder \0 uidvalidity uid` → record
//!   (JSON), so one message has one record however often it is looked at;
//! - `email_quarantine_recent`: the record's ULID (16 bytes, time-ordered) →
//!   the key above, for "most recent first" listings and lookup by id.
//!
//! Records outlive the raw copy they point at only if retention deleted that
//! copy; such a record can be listed but not replayed.

use serde::{Deserialize, Serialize};

use crate::obs::mask;

/// Longest subject kept in a record (characters).
const MAX_SUBJECT: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replayed {
    pub at: u64,
    pub tracking: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// `parse_timeout`, `too_large`, a parser rejection (`no_sender` …) or,
    /// for mail no citizen wrote, its kind (`auto_reply`, `bounce` …).
    pub reason: String,
    /// Human-readable: the rejection, or the header that decided it.
    pub detail: String,
    pub size: u64,
    /// Name of the raw copy in the blob store, when the message was fetched.
    pub raw_sha256: Option<String>,
    pub at: u64,
    /// ULID; what `pintu quarantine replay` takes. Empty in records written
    /// before ids existed.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub mailbox: String,
    #[serde(default)]
    pub folder: String,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub message_id: Option<String>,
    /// Masked (`b***@example.com`): enough to recognise, not a directory.
    #[serde(default)]
    pub sender: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub replayed: Option<Replayed>,
}

impl QuarantineRecord {
    /// A record for a message quarantined now; `id`, `mailbox`, `folder` and
    /// `uid` are filled in by [`Quarantine::record`].
    pub fn new(reason: &str, detail: String, size: u64, raw_sha256: Option<String>, at: u64) -> QuarantineRecord {
        QuarantineRecord {
            reason: reason.to_string(),
            detail,
            size,
            raw_sha256,
            at,
            id: String::new(),
            mailbox: String::new(),
            folder: String::new(),
            uid: 0,
            message_id: None,
            sender: None,
            subject: None,
            replayed: None,
        }
    }

    /// Add what the parse found out about the message (sender masked).
    pub fn describe(mut self, message_id: Option<&str>, sender: Option<&str>, subject: Option<&str>) -> Self {
        self.message_id = message_id.map(str::to_string);
        self.sender = sender.map(mask);
        self.subject = subject.map(|s| s.chars().take(MAX_SUBJECT).collect());
        self
    }
}

/// Where a message sits: the primary key of its record.
pub struct Location<'a> {
    pub mailbox: &'a str,
    pub folder: &'a str,
    pub uidvalidity: u32,
    pub uid: u32,
}

fn primary_key(loc: &Location<'_>) -> Vec<u8> {
    let mut k = Vec::with_capacity(loc.mailbox.len() + loc.folder.len() + 10);
    k.extend_from_slice(loc.mailbox.as_bytes());
    k.push(0);
    k.extend_from_slice(loc.folder.as_bytes());
    k.push(0);
    k.extend_from_slice(&loc.uidvalidity.to_be_bytes());
    k.extend_from_slice(&loc.uid.to_be_bytes());
    k
}

fn id_key(id: &str) -> Option<[u8; 16]> {
    ulid::Ulid::from_string(id).ok().map(|u| u.0.to_be_bytes())
}

#[derive(Clone)]
pub struct Quarantine {
    records: sled::Tree,
    recent: sled::Tree,
}

impl Quarantine {
    pub fn open(db: &sled::Db) -> Result<Quarantine, sled::Error> {
        Ok(Quarantine {
            records: db.open_tree("email_quarantine")?,
            recent: db.open_tree("email_quarantine_recent")?,
        })
    }

    /// Store the record of a message (made durable by the caller's flush).
    /// A message recorded before keeps its id: it is one quarantine, seen twice.
    pub fn record(&self, loc: &Location<'_>, rec: &QuarantineRecord) -> Result<QuarantineRecord, sled::Error> {
        let key = primary_key(loc);
        let previous: Option<QuarantineRecord> = self.records.get(&key)?.and_then(|v| serde_json::from_slice(&v).ok());
        let mut rec = rec.clone();
        rec.id = previous
            .map(|p| p.id)
            .filter(|id| id_key(id).is_some())
            .unwrap_or_else(|| ulid::Ulid::new().to_string());
        rec.mailbox = loc.mailbox.to_string();
        rec.folder = loc.folder.to_string();
        rec.uid = loc.uid;
        self.records
            .insert(&key, serde_json::to_vec(&rec).unwrap_or_default())?;
        if let Some(k) = id_key(&rec.id) {
            self.recent.insert(k, key)?;
        }
        Ok(rec)
    }

    /// Every record (tests; old records without an id included).
    pub fn all(&self) -> Vec<QuarantineRecord> {
        self.records
            .iter()
            .filter_map(|e| e.ok())
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect()
    }

    /// The most recent records first, at most `limit`.
    pub fn recent(&self, limit: usize) -> Vec<QuarantineRecord> {
        self.recent
            .iter()
            .rev()
            .filter_map(|e| e.ok())
            .filter_map(|(_, key)| self.records.get(key).ok().flatten())
            .filter_map(|v| serde_json::from_slice(&v).ok())
            .take(limit)
            .collect()
    }

    /// Records since `since` (seconds), newest first, at most `limit`.
    pub fn since(&self, since: u64, limit: usize) -> Vec<QuarantineRecord> {
        let from = ulid::Ulid::from_parts(since.saturating_mul(1000), 0).0.to_be_bytes();
        self.recent
            .range(from..)
            .rev()
            .filter_map(|e| e.ok())
            .filter_map(|(_, key)| self.records.get(key).ok().flatten())
            .filter_map(|v| serde_json::from_slice(&v).ok())
            .take(limit)
            .collect()
    }

    pub fn find(&self, id: &str) -> Result<Option<QuarantineRecord>, sled::Error> {
        let Some(k) = id_key(id) else { return Ok(None) };
        let Some(key) = self.recent.get(k)? else {
            return Ok(None);
        };
        Ok(self.records.get(key)?.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Note that the record's message was ingested after all, as `tracking`.
    pub fn mark_replayed(&self, id: &str, tracking: &str, at: u64) -> Result<bool, sled::Error> {
        let Some(k) = id_key(id) else { return Ok(false) };
        let Some(key) = self.recent.get(k)? else {
            return Ok(false);
        };
        let Some(mut rec) = self
            .records
            .get(&key)?
            .and_then(|v| serde_json::from_slice::<QuarantineRecord>(&v).ok())
        else {
            return Ok(false);
        };
        rec.replayed = Some(Replayed {
            at,
            tracking: tracking.to_string(),
        });
        self.records.insert(key, serde_json::to_vec(&rec).unwrap_or_default())?;
        Ok(true)
    }

    /// Drop records older than `before` (seconds); returns how many.
    pub fn sweep(&self, before: u64) -> Result<usize, sled::Error> {
        let mut n = 0;
        for entry in self.records.iter() {
            let (k, v) = entry?;
            let Ok(rec) = serde_json::from_slice::<QuarantineRecord>(&v) else {
                continue;
            };
            if rec.at < before {
                self.records.remove(&k)?;
                if let Some(ik) = id_key(&rec.id) {
                    self.recent.remove(ik)?;
                }
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(uid: u32) -> Location<'static> {
        Location {
            mailbox: "pengaduan",
            folder: "INBOX",
            uidvalidity: 7,
            uid,
        }
    }

    #[test]
    fn records_are_found_listed_replayed_and_swept() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let q = Quarantine::open(&db).unwrap();
        let a = q
            .record(
                &loc(1),
                &QuarantineRecord::new("auto_reply", "Auto-Submitted: auto-replied".into(), 10, None, 100).describe(
                    Some("m1@x"),
                    Some("budi@warga.test"),
                    Some("Cuti"),
                ),
            )
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = q
            .record(&loc(2), &QuarantineRecord::new("bounce", "X".into(), 10, None, 200))
            .unwrap();
        assert_eq!(a.sender.as_deref(), Some("b***@warga.test"));
        assert_eq!(q.find(&a.id).unwrap().unwrap().mailbox, "pengaduan");
        let recent: Vec<String> = q.recent(10).into_iter().map(|r| r.id).collect();
        assert_eq!(recent, vec![b.id.clone(), a.id.clone()]);
        // The same message again keeps its id (one quarantine, not two).
        let again = q
            .record(
                &loc(1),
                &QuarantineRecord::new("auto_reply", "again".into(), 10, None, 300),
            )
            .unwrap();
        assert_eq!(again.id, a.id);
        assert_eq!(q.recent(10).len(), 2);
        assert!(q.mark_replayed(&a.id, "LPR-7K3Q9X", 400).unwrap());
        assert_eq!(q.find(&a.id).unwrap().unwrap().replayed.unwrap().tracking, "LPR-7K3Q9X");
        assert!(!q.mark_replayed("not-an-id", "LPR-7K3Q9X", 400).unwrap());
        assert_eq!(q.sweep(250).unwrap(), 1);
        assert_eq!(q.all().len(), 1);
        assert!(q.find(&b.id).unwrap().is_none());
    }
}
