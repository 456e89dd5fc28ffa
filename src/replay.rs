//! Replay protection for webhooks: provider message ids remembered longer than
//! the dedupe window.
//!
//! Most providers sign no timestamp (Kannel, Jasmin and the generic profile
//! send a shared token; Twilio signs the URL and form, Meta and X the body,
//! Telegram nothing), so a captured request replayed after the dedupe window
//! would be a new complaint — and a new SMS to the citizen. Every webhook
//! message with a provider id is recorded here once it is durable, keyed by
//! HMAC(sender key, provider, sender, id): the sender is part of the key (two
//! citizens whose gateway reuses an id are never merged) and the tree is not a
//! directory of phone numbers.
//!
//! - seen within the dedupe window: intake's own duplicate answers it;
//! - seen earlier, within `replay.window_secs`: a replay — answered as a
//!   duplicate with the original tracking code, nothing ingested;
//! - never seen, or longer ago: new.
//!
//! The store is bounded: at most `replay.max_entries` ids, the oldest evicted
//! first (a second tree orders them by time), and a periodic sweep drops the
//! expired ones. Records are written after the complaint is durable but not
//! flushed on their own (the next commit or sled's background flush carries
//! them): a crash can forget the last moments' ids, never a complaint.
//! Providers that do sign a timestamp are also checked for freshness in
//! `http::webhook` (X: the tweet's creation time).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::store::dedupe::SenderHasher;
use crate::store::StoreError;

/// What the store knows about a provider message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Never seen (or longer ago than the replay window).
    New,
    /// Seen within the dedupe window: intake answers it as a duplicate.
    Recent,
    /// Seen within the dedupe window, and it was a status query (`CEK
    /// LPR-…`): no complaint stands behind it for intake's dedupe to find,
    /// so the webhook answers the provider's retry as a duplicate itself.
    RecentQuery,
    /// Seen before the dedupe window and within the replay window: a replay.
    /// The tracking code it was given, when it had one.
    Replay(Option<String>),
}

/// Ends the record of a status query (9 bytes in all).
const QUERY_MARK: u8 = b'Q';

/// What a provider message id was when it was first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Was<'a> {
    /// A message intake took, with its tracking code when it had one.
    Message(Option<&'a str>),
    /// A status query, answered before intake's dedupe.
    Query,
}

/// Record value: first-seen Unix seconds (8 bytes BE), then the packed
/// tracking code (4 bytes) when there is one, or [`QUERY_MARK`] for a query.
fn encode(first_seen: u64, was: Was<'_>) -> Vec<u8> {
    let mut v = first_seen.to_be_bytes().to_vec();
    match was {
        Was::Message(tracking) => {
            if let Some(code) = tracking.and_then(crate::tracking::pack) {
                v.extend_from_slice(&code.to_be_bytes());
            }
        }
        Was::Query => v.push(QUERY_MARK),
    }
    v
}

/// First-seen seconds, the tracking code, and whether it was a query.
fn decode(v: &[u8]) -> Option<(u64, Option<String>, bool)> {
    let secs = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
    let query = v.len() == 9 && v[8] == QUERY_MARK;
    let code = v
        .get(8..12)
        .and_then(|b| b.try_into().ok())
        .map(|b| crate::tracking::unpack(u32::from_be_bytes(b)));
    Some((secs, code, query))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub struct ReplayGuard {
    /// hash → record.
    seen: sled::Tree,
    /// first-seen seconds (BE) ++ hash → nothing: eviction and sweep order.
    by_time: sled::Tree,
    hasher: SenderHasher,
    window: u64,
    dedupe_window: u64,
    max_entries: u64,
    /// Entries in `by_time` (sled's `len` is a full scan).
    count: AtomicU64,
}

impl ReplayGuard {
    /// Open the trees in the gateway's database; counts the entries once.
    pub fn open(
        db: &sled::Db,
        hasher: SenderHasher,
        window: Duration,
        dedupe_window: Duration,
        max_entries: u64,
    ) -> Result<ReplayGuard, StoreError> {
        let by_time = db.open_tree("replay_by_time")?;
        let count = AtomicU64::new(by_time.len() as u64);
        Ok(ReplayGuard {
            seen: db.open_tree("replay")?,
            by_time,
            hasher,
            window: window.as_secs(),
            dedupe_window: dedupe_window.as_secs(),
            max_entries: max_entries.max(1),
            count,
        })
    }

    fn key(&self, provider: &str, sender: &str, external_id: &str) -> [u8; 16] {
        // NUL-separated: no provider, address or id contains one.
        let data = format!("replay\0{provider}\0{sender}\0{external_id}");
        let mac = self.hasher.hash(&data);
        let mut k = [0u8; 16];
        k.copy_from_slice(&mac[..16]);
        k
    }

    /// What is known about this message; see [`Seen`].
    pub fn check(&self, provider: &str, sender: &str, external_id: &str) -> Result<Seen, StoreError> {
        self.check_at(provider, sender, external_id, now_secs())
    }

    fn check_at(&self, provider: &str, sender: &str, external_id: &str, now: u64) -> Result<Seen, StoreError> {
        let Some(v) = self.seen.get(self.key(provider, sender, external_id))? else {
            return Ok(Seen::New);
        };
        let Some((first, code, query)) = decode(&v) else {
            return Ok(Seen::New);
        };
        let age = now.saturating_sub(first);
        Ok(if age >= self.window {
            Seen::New
        } else if age >= self.dedupe_window {
            Seen::Replay(code)
        } else if query {
            Seen::RecentQuery
        } else {
            Seen::Recent
        })
    }

    /// Remember a message that is now durable; the first sighting counts, a
    /// later one (a duplicate) changes nothing.
    pub fn record(
        &self,
        provider: &str,
        sender: &str,
        external_id: &str,
        tracking: Option<&str>,
    ) -> Result<(), StoreError> {
        self.record_at(provider, sender, external_id, Was::Message(tracking), now_secs())
    }

    /// Remember a status query the gateway answered (see [`Seen::RecentQuery`]).
    pub fn record_query(&self, provider: &str, sender: &str, external_id: &str) -> Result<(), StoreError> {
        self.record_at(provider, sender, external_id, Was::Query, now_secs())
    }

    fn record_at(
        &self,
        provider: &str,
        sender: &str,
        external_id: &str,
        was: Was<'_>,
        now: u64,
    ) -> Result<(), StoreError> {
        let key = self.key(provider, sender, external_id);
        let value = encode(now, was);
        // The usual case, a first sighting, costs one compare-and-swap.
        if let Err(current) = self
            .seen
            .compare_and_swap(key, None as Option<&[u8]>, Some(value.clone()))?
        {
            let Some(old) = current.current else {
                return Ok(());
            };
            let first = decode(&old).map(|(first, _, _)| first);
            if first.is_some_and(|f| now.saturating_sub(f) < self.window) {
                return Ok(());
            }
            // Expired (or unreadable): replace it, unless someone else just did.
            if self.seen.compare_and_swap(key, Some(old), Some(value))?.is_err() {
                return Ok(());
            }
            if let Some(first) = first {
                if self.by_time.remove(time_key(first, &key))?.is_some() {
                    self.count.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
        self.by_time.insert(time_key(now, &key), &[])?;
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        if n > self.max_entries {
            self.evict(n - self.max_entries)?;
        }
        Ok(())
    }

    /// Drop the `n` oldest entries.
    fn evict(&self, n: u64) -> Result<(), StoreError> {
        for _ in 0..n {
            let Some((tk, _)) = self.by_time.pop_min()? else {
                break;
            };
            self.count.fetch_sub(1, Ordering::Relaxed);
            if let Some(hash) = tk.get(8..) {
                self.seen.remove(hash)?;
            }
        }
        metrics::counter!("pintu_replay_evicted_total").increment(n);
        Ok(())
    }

    /// Remove entries older than the window; returns how many. Walks the time
    /// index from its oldest entry, so it costs what it removes.
    pub fn sweep(&self) -> Result<usize, StoreError> {
        self.sweep_at(now_secs())
    }

    fn sweep_at(&self, now: u64) -> Result<usize, StoreError> {
        let cutoff = now.saturating_sub(self.window);
        let mut removed = 0;
        for entry in self.by_time.range(..cutoff.to_be_bytes().to_vec()) {
            let (tk, _) = entry?;
            if self.by_time.remove(&tk)?.is_some() {
                self.count.fetch_sub(1, Ordering::Relaxed);
                removed += 1;
            }
            if let Some(hash) = tk.get(8..) {
                // Only if not re-recorded meanwhile (then its time is newer).
                if let Some(v) = self.seen.get(hash)? {
                    if decode(&v).is_none_or(|(first, _, _)| first < cutoff) {
                        self.seen.remove(hash)?;
                    }
                }
            }
        }
        Ok(removed)
    }

    pub fn len(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sweep every ten minutes until shutdown.
    pub async fn run_sweeper(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.sweep()).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => info!(ids = n, "expired replay records removed"),
                Ok(Err(e)) => warn!(error = %e, "replay sweep failed"),
                Err(e) => warn!(error = %e, "replay sweep task failed"),
            }
            metrics::gauge!("pintu_replay_ids").set(self.len() as f64);
        }
    }
}

fn time_key(secs: u64, hash: &[u8; 16]) -> Vec<u8> {
    let mut k = secs.to_be_bytes().to_vec();
    k.extend_from_slice(hash);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(max: u64) -> ReplayGuard {
        let db = sled::Config::new().temporary(true).open().unwrap();
        ReplayGuard::open(
            &db,
            SenderHasher::new(b"k"),
            Duration::from_secs(1000),
            Duration::from_secs(100),
            max,
        )
        .unwrap()
    }

    #[test]
    fn a_query_is_told_from_a_message_without_a_code() {
        let g = guard(10);
        let t = 1_800_000_000;
        g.record_at("kannel", "+62811", "q-1", Was::Query, t).unwrap();
        g.record_at("kannel", "+62811", "part-1", Was::Message(None), t)
            .unwrap();
        assert_eq!(g.check_at("kannel", "+62811", "q-1", t + 5).unwrap(), Seen::RecentQuery);
        assert_eq!(g.check_at("kannel", "+62811", "part-1", t + 5).unwrap(), Seen::Recent);
        assert_eq!(
            g.check_at("kannel", "+62811", "q-1", t + 100).unwrap(),
            Seen::Replay(None)
        );
    }

    #[test]
    fn windows() {
        let g = guard(10);
        let t = 1_800_000_000;
        assert_eq!(g.check_at("generic", "+62811", "m-1", t).unwrap(), Seen::New);
        g.record_at("generic", "+62811", "m-1", Was::Message(Some("LPR-7K3Q9X")), t)
            .unwrap();
        assert_eq!(g.check_at("generic", "+62811", "m-1", t + 99).unwrap(), Seen::Recent);
        assert_eq!(
            g.check_at("generic", "+62811", "m-1", t + 100).unwrap(),
            Seen::Replay(Some("LPR-7K3Q9X".into()))
        );
        assert_eq!(g.check_at("generic", "+62811", "m-1", t + 1000).unwrap(), Seen::New);
        // The sender and the provider are part of the key.
        assert_eq!(g.check_at("generic", "+62812", "m-1", t + 200).unwrap(), Seen::New);
        assert_eq!(g.check_at("kannel", "+62811", "m-1", t + 200).unwrap(), Seen::New);
        // A later sighting does not move the first one.
        g.record_at("generic", "+62811", "m-1", Was::Message(Some("LPR-7K3Q9X")), t + 50)
            .unwrap();
        assert!(matches!(
            g.check_at("generic", "+62811", "m-1", t + 120).unwrap(),
            Seen::Replay(_)
        ));
        assert_eq!(g.len(), 1);
        // Expired, then seen again: a new record, the old index entry gone.
        g.record_at("generic", "+62811", "m-1", Was::Message(None), t + 2000)
            .unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(
            g.check_at("generic", "+62811", "m-1", t + 2150).unwrap(),
            Seen::Replay(None)
        );
    }

    #[test]
    fn bounded_oldest_first_and_swept() {
        let g = guard(3);
        let t = 1_800_000_000;
        for i in 0..5u64 {
            g.record_at("p", "s", &format!("id-{i}"), Was::Message(None), t + i)
                .unwrap();
        }
        assert_eq!(g.len(), 3);
        assert_eq!(g.seen.len(), 3);
        assert_eq!(g.check_at("p", "s", "id-0", t + 200).unwrap(), Seen::New);
        assert_eq!(g.check_at("p", "s", "id-1", t + 200).unwrap(), Seen::New);
        assert!(matches!(
            g.check_at("p", "s", "id-4", t + 200).unwrap(),
            Seen::Replay(_)
        ));
        assert_eq!(g.sweep_at(t + 1004).unwrap(), 2);
        assert_eq!((g.len(), g.seen.len()), (1, 1));
    }
}
