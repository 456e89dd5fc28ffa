//! The e-mail channel's own sled trees, in the gateway database
//! ([`crate::intake::Intake::db`]):
//!
//! - `email_progress`: `mailbox \0 folder` → UIDVALIDITY and the highest UID
//!   below which every message is durable *and* marked on the server;
//! - `email_seen`: `m` ++ SHA-256(Message-ID)[..16] ++ HMAC(sender)[..8] →
//!   tracking code, kept for `seen_retention_days` — longer than intake's
//!   24 h dedupe window, so a UIDVALIDITY reset or a restored mailbox never
//!   re-ingests old mail. The sender is part of the key: a Message-ID reused
//!   by someone else (a broken mailer, a forged header) is a new message,
//!   ingested and logged, not a silent drop. Records of earlier versions,
//!   keyed by SHA-256(Message-ID) alone, are still read: they name no
//!   sender, so they count only for a copy byte for byte identical to one
//!   fetched before (its raw copy is on disk);
//! - `email_quarantine` and its time index: see [`super::quarantine`]; every
//!   quarantined message is on record, not only in a folder;
//! - `email_parsing`: `mailbox \0 folder \0 uidvalidity uid` → parses of that
//!   message started and not finished (see [`EmailState::begin_parse`]);
//! - `email_reply_quota`: `day ++ HMAC(sender)` → acknowledgements sent that day.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::quarantine::{Location, Quarantine, QuarantineRecord};
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

/// Parses of one message that were started and never finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Parsing {
    started: u32,
    at: u64,
}

#[derive(Clone)]
pub struct EmailState {
    progress: sled::Tree,
    seen: sled::Tree,
    quarantine: Quarantine,
    parsing: sled::Tree,
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

fn parsing_key(loc: &Location<'_>) -> Vec<u8> {
    let mut k = progress_key(loc.mailbox, loc.folder);
    k.push(0);
    k.extend_from_slice(&loc.uidvalidity.to_be_bytes());
    k.extend_from_slice(&loc.uid.to_be_bytes());
    k
}

/// Bytes of the Message-ID part of a seen key, after the `m`.
const SEEN_ID_LEN: usize = 16;

/// Key of earlier versions: the Message-ID alone.
fn legacy_seen_key(external_id: &str) -> Vec<u8> {
    Sha256::digest(external_id.as_bytes()).to_vec()
}

/// What the seen tree says about a fetched message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeenCheck {
    /// Ingested before: only mark it.
    Seen(Seen),
    New,
    /// The Message-ID is on record for another sender (or in a legacy record
    /// for other bytes): ingest it as new, and log this.
    Reused {
        tracking: String,
    },
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serialize(v).unwrap_or_default()
}

impl EmailState {
    pub fn open(db: &sled::Db, hasher: SenderHasher) -> Result<EmailState, sled::Error> {
        Ok(EmailState {
            progress: db.open_tree("email_progress")?,
            seen: db.open_tree("email_seen")?,
            quarantine: Quarantine::open(db)?,
            parsing: db.open_tree("email_parsing")?,
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

    fn seen_key(&self, sender: &str, external_id: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(1 + SEEN_ID_LEN + 8);
        k.push(b'm');
        k.extend_from_slice(&Sha256::digest(external_id.as_bytes())[..SEEN_ID_LEN]);
        k.extend_from_slice(&self.hasher.hash(sender)[..8]);
        k
    }

    fn live(v: &[u8], now: u64) -> Option<Seen> {
        bincode::deserialize::<Seen>(v).ok().filter(|s| s.expires_at > now)
    }

    /// Was this message (`external_id` from `sender`) ingested before?
    /// `same_bytes_before`: its raw copy was already on disk, i.e. exactly
    /// these bytes were fetched before (what lets a legacy record count).
    pub fn seen(
        &self,
        sender: &str,
        external_id: &str,
        same_bytes_before: bool,
        now: u64,
    ) -> Result<SeenCheck, sled::Error> {
        let own = self.seen_key(sender, external_id);
        if let Some(s) = self.seen.get(&own)?.and_then(|v| Self::live(&v, now)) {
            return Ok(SeenCheck::Seen(s));
        }
        for entry in self.seen.scan_prefix(&own[..1 + SEEN_ID_LEN]).take(2) {
            let (k, v) = entry?;
            if k.as_ref() != own.as_slice() {
                if let Some(s) = Self::live(&v, now) {
                    return Ok(SeenCheck::Reused { tracking: s.tracking });
                }
            }
        }
        if let Some(s) = self
            .seen
            .get(legacy_seen_key(external_id))?
            .and_then(|v| Self::live(&v, now))
        {
            return Ok(if same_bytes_before {
                SeenCheck::Seen(s)
            } else {
                SeenCheck::Reused { tracking: s.tracking }
            });
        }
        Ok(SeenCheck::New)
    }

    pub fn mark_seen(
        &self,
        sender: &str,
        external_id: &str,
        tracking: &str,
        expires_at: u64,
    ) -> Result<(), sled::Error> {
        let rec = Seen {
            tracking: tracking.to_string(),
            expires_at,
        };
        self.seen.insert(self.seen_key(sender, external_id), encode(&rec))?;
        Ok(())
    }

    /// Record why a message is quarantined; returns the record as stored (with its id).
    pub fn record_quarantine(
        &self,
        mailbox: &str,
        folder: &str,
        uidvalidity: u32,
        uid: u32,
        rec: &QuarantineRecord,
    ) -> Result<QuarantineRecord, sled::Error> {
        let loc = Location {
            mailbox,
            folder,
            uidvalidity,
            uid,
        };
        self.quarantine.record(&loc, rec)
    }

    /// Every quarantine record (ops and tests).
    pub fn quarantined(&self) -> Vec<QuarantineRecord> {
        self.quarantine.all()
    }

    pub fn quarantine(&self) -> &Quarantine {
        &self.quarantine
    }

    /// Count one more started parse for each message; returns how many had
    /// been started before and never finished. The caller flushes before it
    /// parses, so a process that dies while parsing (out of memory, killed
    /// for hogging the CPU) leaves the count behind.
    pub fn begin_parse(&self, locs: &[Location<'_>], now: u64) -> Result<Vec<u32>, sled::Error> {
        let mut before = Vec::with_capacity(locs.len());
        for loc in locs {
            let mut prev = 0;
            self.parsing.fetch_and_update(parsing_key(loc), |old| {
                prev = old
                    .and_then(|v| bincode::deserialize::<Parsing>(v).ok())
                    .map_or(0, |p| p.started);
                Some(encode(&Parsing {
                    started: prev.saturating_add(1),
                    at: now,
                }))
            })?;
            before.push(prev);
        }
        Ok(before)
    }

    /// Parses started before and never finished, without counting a new one.
    pub fn unfinished_parses(&self, loc: &Location<'_>) -> Result<u32, sled::Error> {
        Ok(self
            .parsing
            .get(parsing_key(loc))?
            .and_then(|v| bincode::deserialize::<Parsing>(&v).ok())
            .map_or(0, |p| p.started))
    }

    /// The parse finished (with whatever outcome): forget the count. Not
    /// flushed here; the next intake or quarantine flush carries it.
    pub fn end_parse(&self, loc: &Location<'_>) -> Result<(), sled::Error> {
        self.parsing.remove(parsing_key(loc))?;
        Ok(())
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

    /// Drop expired seen records, quota counters older than yesterday,
    /// parse counts of messages not seen for a week, and quarantine records
    /// older than `quarantine_before` (seconds).
    pub fn sweep(&self, now: u64, today: u32, quarantine_before: u64) -> Result<usize, sled::Error> {
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
        for entry in self.parsing.iter() {
            let (k, v) = entry?;
            let stale = bincode::deserialize::<Parsing>(&v).map_or(true, |p| p.at + 7 * 86_400 < now);
            if stale {
                self.parsing.remove(k)?;
                n += 1;
            }
        }
        n += self.quarantine.sweep(quarantine_before)?;
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
        assert_eq!(s.sweep(0, 102, 0).unwrap(), 2);
        assert!(s.take_reply_quota("a@x.id", 101, 2).unwrap());
    }

    #[test]
    fn unfinished_parses_are_counted_until_ended() {
        let s = state();
        let loc = |uid| Location {
            mailbox: "m",
            folder: "INBOX",
            uidvalidity: 1,
            uid,
        };
        assert_eq!(s.begin_parse(&[loc(1), loc(2)], 10).unwrap(), vec![0, 0]);
        s.end_parse(&loc(2)).unwrap();
        // A "crash": message 1 was never finished.
        assert_eq!(s.begin_parse(&[loc(1), loc(2)], 20).unwrap(), vec![1, 0]);
        assert_eq!(s.unfinished_parses(&loc(1)).unwrap(), 2);
        s.end_parse(&loc(1)).unwrap();
        assert_eq!(s.unfinished_parses(&loc(1)).unwrap(), 0);
        // Stale counts go after a week.
        assert_eq!(s.sweep(20 + 8 * 86_400, 0, 0).unwrap(), 1);
        assert_eq!(s.unfinished_parses(&loc(2)).unwrap(), 0);
    }

    #[test]
    fn seen_expires() {
        let s = state();
        s.mark_seen("a@x.id", "m1@x", "LPR-AAAAAA", 100).unwrap();
        let seen = |id: &str, now| s.seen("a@x.id", id, false, now).unwrap();
        assert!(matches!(seen("m1@x", 50), SeenCheck::Seen(r) if r.tracking == "LPR-AAAAAA"));
        assert_eq!(seen("m1@x", 100), SeenCheck::New);
        assert_eq!(seen("m2@x", 0), SeenCheck::New);
    }

    #[test]
    fn seen_is_per_sender_and_legacy_records_need_the_same_bytes() {
        let s = state();
        s.mark_seen("a@x.id", "m1@x", "LPR-AAAAAA", 100).unwrap();
        // The same Message-ID from someone else is not this message.
        assert_eq!(
            s.seen("b@y.id", "m1@x", false, 50).unwrap(),
            SeenCheck::Reused {
                tracking: "LPR-AAAAAA".into()
            }
        );
        s.mark_seen("b@y.id", "m1@x", "LPR-BBBBBB", 100).unwrap();
        assert!(
            matches!(s.seen("b@y.id", "m1@x", false, 50).unwrap(), SeenCheck::Seen(r) if r.tracking == "LPR-BBBBBB")
        );
        assert!(
            matches!(s.seen("a@x.id", "m1@x", false, 50).unwrap(), SeenCheck::Seen(r) if r.tracking == "LPR-AAAAAA")
        );
        // A record written by an earlier version: SHA-256(Message-ID) → Seen.
        let old = Seen {
            tracking: "LPR-CCCCCC".into(),
            expires_at: 100,
        };
        s.seen.insert(legacy_seen_key("old@x"), encode(&old)).unwrap();
        // Read correctly: a re-fetch of the very same bytes is seen ...
        assert_eq!(
            s.seen("c@z.id", "old@x", true, 50).unwrap(),
            SeenCheck::Seen(old.clone())
        );
        // ... other bytes with that Message-ID are not dropped on its account.
        assert_eq!(
            s.seen("d@z.id", "old@x", false, 50).unwrap(),
            SeenCheck::Reused {
                tracking: "LPR-CCCCCC".into()
            }
        );
        // The sweep handles both layouts.
        assert_eq!(s.sweep(200, 0, 0).unwrap(), 3);
    }
}
