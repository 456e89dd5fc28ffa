//! The e-mail channel's own sled trees, in the gateway database
//! ([`crate::intake::Intake::db`]):
//!
//! - `email_progress`: `mailbox \0 folder` → UIDVALIDITY and the highest UID
//!   below which every message is durable *and* marked on the server;
//! - `email_seen`: SHA-256 of the external id (Message-ID) → tracking code,
//!   kept for `seen_retention_days` — longer than intake's 24 h dedupe window,
//!   so a UIDVALIDITY reset or a restored mailbox never re-ingests old mail;
//! - `email_quarantine`: `mailbox \0 folder \0 uidvalidity \0 uid` → reason,
//!   so every quarantined message is on record, not only in a folder;
//! - `email_reply_quota`: `day ++ HMAC(sender)` → acknowledgements sent that day.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::dedupe::SenderHasher;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub uidvalidity: u32,
    /// Every UID up to this one is handled (0: none yet).
    pub last_uid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub tracking: String,
    pub expires_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    pub reason: String,
    pub detail: String,
    pub size: u64,
    /// Name of the raw copy in the blob store, when the message was fetched.
    pub raw_sha256: Option<String>,
    pub at: u64,
}

#[derive(Clone)]
pub struct EmailState {
    progress: sled::Tree,
    seen: sled::Tree,
    quarantine: sled::Tree,
    quota: sled::Tree,
    hasher: SenderHasher,
}

fn progress_key(mailbox: &str, folder: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(mailbox.len() + folder.len() + 1);
    k.extend_from_slice(mailbox.as_bytes());
    k.push(0);
    k.extend_from_slice(folder.as_bytes());
    k
}

fn seen_key(external_id: &str) -> Vec<u8> {
    Sha256::digest(external_id.as_bytes()).to_vec()
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serialize(v).unwrap_or_default()
}

impl EmailState {
    pub fn open(db: &sled::Db, hasher: SenderHasher) -> Result<EmailState, sled::Error> {
        Ok(EmailState {
            progress: db.open_tree("email_progress")?,
            seen: db.open_tree("email_seen")?,
            quarantine: db.open_tree("email_quarantine")?,
            quota: db.open_tree("email_reply_quota")?,
            hasher,
        })
    }

    /// Stored progress; an undecodable record counts as none (re-scan, and
    /// Message-ID dedupe keeps that from duplicating anything).
    pub fn progress(&self, mailbox: &str, folder: &str) -> Result<Option<Progress>, sled::Error> {
        Ok(self
            .progress
            .get(progress_key(mailbox, folder))?
            .and_then(|v| bincode::deserialize(&v).ok()))
    }

    pub fn set_progress(&self, mailbox: &str, folder: &str, p: Progress) -> Result<(), sled::Error> {
        self.progress.insert(progress_key(mailbox, folder), encode(&p))?;
        Ok(())
    }

    pub fn seen(&self, external_id: &str, now: u64) -> Result<Option<Seen>, sled::Error> {
        Ok(self
            .seen
            .get(seen_key(external_id))?
            .and_then(|v| bincode::deserialize::<Seen>(&v).ok())
            .filter(|s| s.expires_at > now))
    }

    pub fn mark_seen(&self, external_id: &str, tracking: &str, expires_at: u64) -> Result<(), sled::Error> {
        let rec = Seen {
            tracking: tracking.to_string(),
            expires_at,
        };
        self.seen.insert(seen_key(external_id), encode(&rec))?;
        Ok(())
    }

    pub fn record_quarantine(
        &self,
        mailbox: &str,
        folder: &str,
        uidvalidity: u32,
        uid: u32,
        rec: &QuarantineRecord,
    ) -> Result<(), sled::Error> {
        let mut k = progress_key(mailbox, folder);
        k.push(0);
        k.extend_from_slice(&uidvalidity.to_be_bytes());
        k.extend_from_slice(&uid.to_be_bytes());
        self.quarantine.insert(k, serde_json::to_vec(rec).unwrap_or_default())?;
        Ok(())
    }

    /// Every quarantine record (ops and tests).
    pub fn quarantined(&self) -> Vec<QuarantineRecord> {
        self.quarantine
            .iter()
            .filter_map(|e| e.ok())
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect()
    }

    /// Take one acknowledgement from the sender's quota for `day`; false when
    /// the quota is used up. Atomic, so two mailboxes cannot both take the last one.
    pub fn take_reply_quota(&self, sender: &str, day: u32, limit: u32) -> Result<bool, sled::Error> {
        let mut k = Vec::with_capacity(36);
        k.extend_from_slice(&day.to_be_bytes());
        k.extend_from_slice(&self.hasher.hash(sender));
        let mut granted = false;
        self.quota.fetch_and_update(k, |old| {
            let n = old
                .and_then(|v| <[u8; 4]>::try_from(v).ok())
                .map(u32::from_be_bytes)
                .unwrap_or(0);
            granted = n < limit;
            Some(n.saturating_add(granted as u32).to_be_bytes().to_vec())
        })?;
        Ok(granted)
    }

    /// Drop expired seen records and quota counters older than yesterday.
    pub fn sweep(&self, now: u64, today: u32) -> Result<usize, sled::Error> {
        let mut n = 0;
        for entry in self.seen.iter() {
            let (k, v) = entry?;
            let expired = bincode::deserialize::<Seen>(&v).map_or(true, |s| s.expires_at <= now);
            if expired {
                self.seen.remove(k)?;
                n += 1;
            }
        }
        let cutoff = today.saturating_sub(1).to_be_bytes();
        for entry in self.quota.range(..cutoff.to_vec()) {
            let (k, _) = entry?;
            self.quota.remove(k)?;
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> EmailState {
        let db = sled::Config::new().temporary(true).open().unwrap();
        EmailState::open(&db, SenderHasher::new(b"k")).unwrap()
    }

    #[test]
    fn quota_is_enforced_per_sender_and_day() {
        let s = state();
        assert!(s.take_reply_quota("a@x.id", 100, 2).unwrap());
        assert!(s.take_reply_quota("a@x.id", 100, 2).unwrap());
        assert!(!s.take_reply_quota("a@x.id", 100, 2).unwrap());
        assert!(s.take_reply_quota("b@x.id", 100, 2).unwrap());
        assert!(s.take_reply_quota("a@x.id", 101, 2).unwrap());
        assert_eq!(s.sweep(0, 102).unwrap(), 2);
        assert!(s.take_reply_quota("a@x.id", 101, 2).unwrap());
    }

    #[test]
    fn seen_expires() {
        let s = state();
        s.mark_seen("m1@x", "LPR-AAAAAA", 100).unwrap();
        assert_eq!(s.seen("m1@x", 50).unwrap().unwrap().tracking, "LPR-AAAAAA");
        assert!(s.seen("m1@x", 100).unwrap().is_none());
        assert!(s.seen("m2@x", 0).unwrap().is_none());
    }
}
