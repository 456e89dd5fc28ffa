//! In-memory, per-minute counters of the last hour for the ops page.
//!
//! Prometheus keeps the long history; the page needs "what happened in the
//! last 60 minutes" without a Prometheus server, so every counter here lives in
//! a ring of 60 one-minute buckets. A bucket is reset lazily when its minute
//! comes round again, so an idle process does no work at all.
//!
//! One recorder per gateway, passed in (not a process global): `pintu serve`
//! creates it and hands it to intake (which the webhook handler and the
//! pollers reach it through), the reply sender and the ops monitor, so two
//! gateways in one process — tests in one binary — count apart. It survives
//! an in-process restart of the gateway ([`crate::serve::supervise`]).

use std::collections::{BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use pintu_channels::Receipt;
use serde::{Deserialize, Serialize};

/// Buckets kept: one hour of minutes.
pub const MINUTES: usize = 60;
/// Distinct names (categories, regions, agencies) kept per minute; malformed or
/// hostile input must not grow memory without bound, the rest is `(other)`.
const MAX_NAMES_PER_MINUTE: usize = 500;
/// Complaints tracked as unrouted; beyond this the figure is marked incomplete
/// rather than using unbounded memory during a long router outage. The oldest
/// entries are kept, so the age figure stays right; ~25 bytes each.
const MAX_UNROUTED: usize = 200_000;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// 60 one-minute buckets, indexed by minute number modulo 60.
#[derive(Debug, Clone)]
struct Ring<T> {
    cells: Vec<(u64, T)>,
}

impl<T: Default + Clone> Ring<T> {
    fn new() -> Self {
        Ring {
            cells: vec![(u64::MAX, T::default()); MINUTES],
        }
    }

    /// The bucket of `minute`, emptied first if it still holds an older minute.
    fn slot(&mut self, minute: u64) -> &mut T {
        let cell = &mut self.cells[(minute % MINUTES as u64) as usize];
        if cell.0 != minute {
            *cell = (minute, T::default());
        }
        &mut cell.1
    }

    /// The last hour ending with `now_minute`, oldest first; absent minutes are empty.
    fn series(&self, now_minute: u64) -> Vec<T> {
        (0..MINUTES as u64)
            .rev()
            .map(|back| {
                let m = now_minute.wrapping_sub(back);
                let cell = &self.cells[(m % MINUTES as u64) as usize];
                if cell.0 == m {
                    cell.1.clone()
                } else {
                    T::default()
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct IntakeCounts {
    received: u64,
    duplicates: u64,
    rejected: u64,
    held: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct ReplyCounts {
    sent: u64,
    failed: u64,
}

#[derive(Debug, Clone, Default)]
struct RoutedCounts {
    routed: u64,
    categories: HashMap<String, u64>,
    regions: HashMap<String, u64>,
    agencies: HashMap<String, u64>,
}

fn bump(map: &mut HashMap<String, u64>, name: &str) {
    if let Some(n) = map.get_mut(name) {
        *n += 1;
    } else if map.len() < MAX_NAMES_PER_MINUTE {
        map.insert(name.to_string(), 1);
    } else {
        *map.entry("(other)".to_string()).or_default() += 1;
    }
}

/// Complaints accepted by this gateway and not yet seen routed, oldest first.
///
/// Complaint ids are ULIDs minted at intake: their first 48 bits are the
/// acceptance time in milliseconds, so one ordered set of 16-byte ids is both
/// the index by id and the order by age (~25 bytes an entry; a map beside a
/// time-ordered set took ~100). Ids that are not ULIDs are not tracked.
#[derive(Debug, Default)]
struct Unrouted {
    ids: BTreeSet<u128>,
    overflowed: bool,
}

/// Longest time between minting a complaint id and counting the complaint in
/// the outbox depth (the request timeout is 10 s; a stalled disk may take longer).
const ID_SLACK_MS: u64 = 60_000;

fn ulid_of(id: &str) -> Option<u128> {
    ulid::Ulid::from_string(id).ok().map(u128::from)
}

/// The acceptance time (ms) carried in a ULID.
fn ms_of(key: u128) -> u64 {
    ulid::Ulid::from(key).timestamp_ms()
}

impl Unrouted {
    fn insert(&mut self, id: &str) {
        let Some(key) = ulid_of(id) else { return };
        if self.ids.len() >= MAX_UNROUTED && !self.ids.contains(&key) {
            self.overflowed = true;
            return;
        }
        self.ids.insert(key);
    }

    fn remove(&mut self, id: &str) {
        if let Some(key) = ulid_of(id) {
            self.ids.remove(&key);
        }
        if self.ids.is_empty() {
            // Whatever was refused while full is newer than what was tracked, so the
            // oldest figure stayed right; from here on tracking is complete again.
            self.overflowed = false;
        }
    }

    fn oldest_ms(&self) -> Option<u64> {
        self.ids.first().map(|k| ms_of(*k))
    }

    /// Of the entries accepted before `before_ms`, keep at most the `live` newest.
    /// Later entries are not covered by a broker reading started at `before_ms`.
    /// An id is minted before its complaint is committed and counted in the
    /// outbox, so only ids older than [`ID_SLACK_MS`] before the reading count as
    /// covered by it: younger ones in `live` only make the trim more cautious.
    fn trim_to(&mut self, live: u64, before_ms: u64) -> usize {
        let bound = u128::from(ulid::Ulid::from_parts(before_ms.saturating_sub(ID_SLACK_MS), 0));
        let old = self.ids.range(..bound).count() as u64;
        let excess = old.saturating_sub(live);
        let mut dropped = 0;
        while dropped < excess {
            if self.ids.pop_first().is_none() {
                break;
            }
            dropped += 1;
        }
        dropped as usize
    }
}

/// A ranked name with its count over the last hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranked {
    pub name: String,
    pub count: u64,
}

/// Per-minute series of one channel, oldest minute first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSeries {
    pub channel: String,
    pub received: Vec<u64>,
    pub duplicates: Vec<u64>,
    pub rejected: Vec<u64>,
    /// Messages held by flood control (absent from gateways before it).
    #[serde(default)]
    pub held: Vec<u64>,
}

/// Everything the recorder knows, at one instant.
#[derive(Debug, Clone, Default)]
pub struct StatsSnapshot {
    /// Start (ms since epoch) of the oldest minute in the series.
    pub window_start_ms: u64,
    pub channels: Vec<ChannelSeries>,
    pub replies_sent: Vec<u64>,
    pub replies_failed: Vec<u64>,
    pub routed: Vec<u64>,
    pub top_categories: Vec<Ranked>,
    pub top_regions: Vec<Ranked>,
    pub top_agencies: Vec<Ranked>,
    pub unrouted_tracked: u64,
    pub oldest_unrouted_ms: Option<u64>,
    pub unrouted_overflowed: bool,
}

/// The recorder. Cheap to call: one uncontended lock and an array index.
#[derive(Debug)]
pub struct Stats {
    intake: Mutex<HashMap<String, Ring<IntakeCounts>>>,
    replies: Mutex<Ring<ReplyCounts>>,
    routed: Mutex<Ring<RoutedCounts>>,
    unrouted: Mutex<Unrouted>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

fn minute_of(ms: u64) -> u64 {
    ms / 60_000
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            intake: Mutex::new(HashMap::new()),
            replies: Mutex::new(Ring::new()),
            routed: Mutex::new(Ring::new()),
            unrouted: Mutex::new(Unrouted::default()),
        }
    }

    fn with_channel(&self, channel: &str, at_ms: u64, f: impl FnOnce(&mut IntakeCounts)) {
        let mut map = self.intake.lock();
        let ring = match map.get_mut(channel) {
            Some(r) => r,
            None => map.entry(channel.to_string()).or_insert_with(Ring::new),
        };
        f(ring.slot(minute_of(at_ms)));
    }

    /// Intake answered `receipt` for a message of `channel`: a new complaint, a
    /// duplicate, or (no tracking code yet) one part of a concatenated SMS.
    pub fn intake(&self, channel: &str, receipt: &Receipt) {
        self.intake_at(channel, receipt, now_ms());
    }

    pub fn intake_at(&self, channel: &str, receipt: &Receipt, at_ms: u64) {
        if receipt.duplicate {
            self.with_channel(channel, at_ms, |c| c.duplicates += 1);
        } else if receipt.tracking.is_some() {
            self.with_channel(channel, at_ms, |c| c.received += 1);
            if let Some(id) = &receipt.id {
                self.unrouted.lock().insert(id);
            }
        }
    }

    /// A message of `channel` was held by flood control.
    pub fn held(&self, channel: &str) {
        self.with_channel(channel, now_ms(), |c| c.held += 1);
    }

    /// A webhook request of `channel` was refused (authentication, malformed).
    pub fn rejected(&self, channel: &str) {
        self.with_channel(channel, now_ms(), |c| c.rejected += 1);
    }

    /// A reply to a citizen was sent (`ok`) or failed (temporarily or for good).
    pub fn reply(&self, ok: bool) {
        let mut ring = self.replies.lock();
        let slot = ring.slot(minute_of(now_ms()));
        if ok {
            slot.sent += 1;
        } else {
            slot.failed += 1;
        }
    }

    /// A complaint was seen leaving the router (on the agency exchange).
    pub fn routed(&self, id: Option<&str>, category: Option<&str>, region: Option<&str>, agency: Option<&str>) {
        self.routed_at(id, category, region, agency, now_ms());
    }

    pub fn routed_at(
        &self,
        id: Option<&str>,
        category: Option<&str>,
        region: Option<&str>,
        agency: Option<&str>,
        at_ms: u64,
    ) {
        {
            let mut ring = self.routed.lock();
            let slot = ring.slot(minute_of(at_ms));
            slot.routed += 1;
            bump(&mut slot.categories, category.unwrap_or("(none)"));
            bump(&mut slot.regions, region.unwrap_or("(none)"));
            if let Some(a) = agency {
                bump(&mut slot.agencies, a);
            }
        }
        if let Some(id) = id {
            self.unrouted.lock().remove(id);
        }
    }

    /// Reconcile with the broker: of the complaints accepted before `before_ms`
    /// (when the outbox depth was read, just before the queues), at most `live`
    /// (outbox then + intake queue after) can still be unrouted. Queues are
    /// FIFO, so the ones that left without being seen routed (dead-lettered,
    /// dropped as duplicates by the router, routed while the tap was down) are
    /// the oldest. Complaints accepted during the reading are left alone: the
    /// reading may have missed them. Returns how many entries were dropped.
    pub fn reconcile_unrouted(&self, live: u64, before_ms: u64) -> usize {
        self.unrouted.lock().trim_to(live, before_ms)
    }

    pub fn snapshot(&self, top: usize) -> StatsSnapshot {
        self.snapshot_at(now_ms(), top)
    }

    pub fn snapshot_at(&self, now: u64, top: usize) -> StatsSnapshot {
        let now_minute = minute_of(now);
        let window_start_ms = (now_minute + 1).saturating_sub(MINUTES as u64) * 60_000;
        let mut channels: Vec<ChannelSeries> = self
            .intake
            .lock()
            .iter()
            .map(|(name, ring)| {
                let s = ring.series(now_minute);
                ChannelSeries {
                    channel: name.clone(),
                    received: s.iter().map(|c| c.received).collect(),
                    duplicates: s.iter().map(|c| c.duplicates).collect(),
                    rejected: s.iter().map(|c| c.rejected).collect(),
                    held: s.iter().map(|c| c.held).collect(),
                }
            })
            .collect();
        channels.sort_by(|a, b| a.channel.cmp(&b.channel));
        let replies = self.replies.lock().series(now_minute);
        let routed = self.routed.lock().series(now_minute);
        let rank = |pick: fn(&RoutedCounts) -> &HashMap<String, u64>| {
            let mut sum: HashMap<&str, u64> = HashMap::new();
            for b in &routed {
                for (k, v) in pick(b) {
                    *sum.entry(k.as_str()).or_default() += v;
                }
            }
            let mut v: Vec<Ranked> = sum
                .into_iter()
                .map(|(name, count)| Ranked {
                    name: name.to_string(),
                    count,
                })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
            v.truncate(top);
            v
        };
        let top_categories = rank(|b| &b.categories);
        let top_regions = rank(|b| &b.regions);
        let top_agencies = rank(|b| &b.agencies);
        let unrouted = self.unrouted.lock();
        StatsSnapshot {
            window_start_ms,
            channels,
            replies_sent: replies.iter().map(|r| r.sent).collect(),
            replies_failed: replies.iter().map(|r| r.failed).collect(),
            routed: routed.iter().map(|r| r.routed).collect(),
            top_categories,
            top_regions,
            top_agencies,
            unrouted_tracked: unrouted.ids.len() as u64,
            oldest_unrouted_ms: unrouted.oldest_ms(),
            unrouted_overflowed: unrouted.overflowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(id: &str, dup: bool) -> Receipt {
        Receipt {
            id: Some(id.into()),
            tracking: Some("LPR-AAAAAA".into()),
            duplicate: dup,
        }
    }

    const T0: u64 = 1_800_000_000_000;

    #[test]
    fn counts_land_in_their_minute_and_expire_after_an_hour() {
        let s = Stats::new();
        s.intake_at("sms", &receipt("a", false), T0);
        s.intake_at("sms", &receipt("b", false), T0 + 60_000);
        s.intake_at("sms", &receipt("a", true), T0 + 60_000);
        let snap = s.snapshot_at(T0 + 60_000, 5);
        let sms = &snap.channels[0];
        assert_eq!(sms.received.len(), MINUTES);
        assert_eq!(sms.received[MINUTES - 1], 1);
        assert_eq!(sms.received[MINUTES - 2], 1);
        assert_eq!(sms.duplicates[MINUTES - 1], 1);
        // An hour later the first minute is gone, the second is the oldest.
        let later = s.snapshot_at(T0 + 60 * 60_000, 5);
        assert_eq!(later.channels[0].received.iter().sum::<u64>(), 1);
        assert_eq!(later.channels[0].received[0], 1);
        // The slot is reused for a new minute without the old count.
        s.intake_at("sms", &receipt("c", false), T0 + 60 * 60_000);
        let reused = s.snapshot_at(T0 + 60 * 60_000, 5);
        assert_eq!(reused.channels[0].received[MINUTES - 1], 1);
    }

    #[test]
    fn parts_waiting_count_nothing() {
        let s = Stats::new();
        let waiting = Receipt {
            id: None,
            tracking: None,
            duplicate: false,
        };
        s.intake_at("sms", &waiting, T0);
        let snap = s.snapshot_at(T0, 5);
        assert!(snap.channels.iter().all(|c| c.received.iter().sum::<u64>() == 0));
        assert_eq!(snap.unrouted_tracked, 0);
    }

    #[test]
    fn unrouted_until_routed_or_reconciled() {
        let s = Stats::new();
        let id = |ms: u64| ulid::Ulid::from_parts(ms, 7).to_string();
        let (a, b, c, d) = (id(T0), id(T0 + 1000), id(T0 + 2000), id(T0 + 20_000));
        for (i, id) in [&a, &b, &c].iter().enumerate() {
            s.intake_at("sms", &receipt(id, false), T0 + i as u64 * 1000);
        }
        // Ids that are not ULIDs carry no time and are not tracked.
        s.intake_at("sms", &receipt("not-a-ulid", false), T0);
        assert_eq!(s.snapshot_at(T0, 5).oldest_unrouted_ms, Some(T0));
        s.routed_at(Some(&a), Some("jalan"), Some("3171"), Some("3171.pupr"), T0 + 5000);
        let snap = s.snapshot_at(T0 + 5000, 5);
        assert_eq!(snap.oldest_unrouted_ms, Some(T0 + 1000));
        assert_eq!(snap.unrouted_tracked, 2);
        assert_eq!(
            snap.top_categories,
            vec![Ranked {
                name: "jalan".into(),
                count: 1
            }]
        );
        // Ids count as covered by a reading only ID_SLACK_MS after they were minted.
        let reading = |ms: u64| ms + ID_SLACK_MS;
        // A reading that started before "c" was accepted says one is still in the
        // pipeline: of the older two ("b" and "c" is newer), nothing to drop...
        assert_eq!(s.reconcile_unrouted(1, reading(T0 + 2000)), 0);
        // ...and a reading just after "b" and "c" were minted drops nothing either...
        assert_eq!(s.reconcile_unrouted(0, T0 + 3000), 0);
        // ...one that started after all of them drops the oldest, unseen one.
        assert_eq!(s.reconcile_unrouted(1, reading(T0 + 10_000)), 1);
        assert_eq!(s.snapshot_at(T0, 5).oldest_unrouted_ms, Some(T0 + 2000));
        // A complaint accepted during the reading is never dropped by it.
        s.intake_at("sms", &receipt(&d, false), T0 + 20_000);
        assert_eq!(s.reconcile_unrouted(0, reading(T0 + 20_000)), 1);
        assert_eq!(s.snapshot_at(T0, 5).unrouted_tracked, 1);
    }

    #[test]
    fn ranking_is_by_count_then_name_and_bounded() {
        let s = Stats::new();
        for cat in ["b", "a", "b", "c", "c", "c"] {
            s.routed_at(None, Some(cat), None, None, T0);
        }
        let snap = s.snapshot_at(T0, 2);
        let names: Vec<_> = snap.top_categories.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["c", "b"]);
        assert_eq!(snap.top_regions[0].name, "(none)");
        for i in 0..(MAX_NAMES_PER_MINUTE + 10) {
            s.routed_at(None, Some(&format!("x{i}")), None, None, T0);
        }
        let snap = s.snapshot_at(T0, 1000);
        assert!(snap.top_categories.len() <= MAX_NAMES_PER_MINUTE + 1);
        assert!(snap.top_categories.iter().any(|r| r.name == "(other)"));
    }
}
