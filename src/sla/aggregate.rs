//! The policy aggregate: counts per day × region × category × agency ×
//! channel, and a histogram of the time to first follow-up — no complaint
//! text, no sender, no id. Kept in the SLA index's sled database (tree
//! `agg`) and bumped in the same transaction as the clock, so a crash never
//! counts a transition twice or not at all.
//!
//! Key: `day|region|category|agency|channel` (fields are plain labels, `-`
//! when unknown; the day is the local date of the first disposition in the
//! agency's zone). Value: [`Cell`] (bincode).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::deadlines::{to_utc, ClockRecord};
use super::zone::zone_of_agency;

/// Upper bounds (hours) of the follow-up-time histogram buckets; the last is open.
pub const HOURS: [u32; 11] = [1, 2, 4, 8, 16, 24, 48, 72, 120, 240, 480];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Complaints first dispositioned that day (each counted once).
    pub received: u64,
    /// Dispositions to this agency (a re-routed complaint counts for each).
    pub dispositioned: u64,
    pub followed_up: u64,
    pub overdue: u64,
    /// Time to first follow-up, bucketed by [`HOURS`] (+1 open bucket).
    pub follow_up_hours: [u64; 12],
}

impl Cell {
    pub fn add(&mut self, o: &Cell) {
        self.received += o.received;
        self.dispositioned += o.dispositioned;
        self.followed_up += o.followed_up;
        self.overdue += o.overdue;
        for (a, b) in self.follow_up_hours.iter_mut().zip(o.follow_up_hours.iter()) {
            *a += b;
        }
    }

    /// Median time to first follow-up as the upper bound of its bucket
    /// (hours); `None` without follow-ups, `u32::MAX` in the open bucket.
    pub fn median_follow_up_hours(&self) -> Option<u32> {
        let n: u64 = self.follow_up_hours.iter().sum();
        if n == 0 {
            return None;
        }
        let mut seen = 0;
        for (i, c) in self.follow_up_hours.iter().enumerate() {
            seen += c;
            if seen * 2 >= n {
                return Some(HOURS.get(i).copied().unwrap_or(u32::MAX));
            }
        }
        None
    }
}

/// What a transition adds to a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bump {
    Received,
    Dispositioned,
    FollowedUp { hours: i64 },
    Overdue,
}

impl Bump {
    pub fn apply(self, c: &mut Cell) {
        match self {
            Bump::Received => c.received += 1,
            Bump::Dispositioned => c.dispositioned += 1,
            Bump::FollowedUp { hours } => {
                c.followed_up += 1;
                let i = HOURS.iter().position(|h| hours < i64::from(*h)).unwrap_or(HOURS.len());
                c.follow_up_hours[i] += 1;
            }
            Bump::Overdue => c.overdue += 1,
        }
    }
}

/// The cell a clock's transitions count in.
pub fn cell_key(r: &ClockRecord) -> Vec<u8> {
    let day: NaiveDate = to_utc(r.first_ms)
        .with_timezone(&zone_of_agency(&r.agency).offset())
        .date_naive();
    let f = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    format!(
        "{day}|{}|{}|{}|{}",
        f(&r.region),
        f(&r.category),
        r.agency,
        f(&r.channel)
    )
    .into_bytes()
}

/// A key split back into (day, region, category, agency, channel).
pub fn parse_key(k: &[u8]) -> Option<(NaiveDate, [String; 4])> {
    let s = std::str::from_utf8(k).ok()?;
    let mut it = s.split('|');
    let day = NaiveDate::parse_from_str(it.next()?, "%Y-%m-%d").ok()?;
    let region = it.next()?.to_string();
    let category = it.next()?.to_string();
    let agency = it.next()?.to_string();
    let channel = it.next()?.to_string();
    if it.next().is_some() {
        return None;
    }
    Some((day, [region, category, agency, channel]))
}
