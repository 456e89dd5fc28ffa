//! Flood control: per-sender rate limits in front of intake.
//!
//! One number or account sending hundreds of messages (a broken phone that
//! resends, a bot, a joke campaign) must not swamp agencies with complaints
//! nor the SMS budget with acknowledgements. Every sender has a token bucket
//! of `flood.burst` messages that refills at `flood.per_hour`. A message that
//! finds the bucket empty is still made durable — nothing a citizen sends is
//! lost — but held aside with the reason instead of the
//! outbox: it is not published, no acknowledgement is queued for it, and the
//! provider is answered as for any accepted message (so it does not retry).
//! Held messages are counted on `/ops` and released with `pintu flood
//! replay` (see [`crate::store::held`]).
//!
//! Memory is bounded: buckets live in two generations of at most
//! `flood.max_senders / 2` entries each; when the current one is full the
//! older one is dropped. A sender seen in either keeps its bucket (and moves
//! to the current one), so one that keeps flooding is never forgotten; one
//! idle for two generations starts again with a full bucket, which is what
//! its bucket would hold by then anyway unless the traffic of many other
//! senders turned the generations over first. Every operation is O(1).

use std::collections::HashMap;
use std::time::Instant;

use parking_lot::Mutex;
use serde::Deserialize;

use crate::section::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloodConfig {
    /// Off: every message is a complaint, however many one sender sends.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Messages a sender may send at once before the rate applies.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Messages per hour a sender may keep sending after the burst.
    #[serde(default = "default_per_hour")]
    pub per_hour: u32,
    /// Senders whose buckets are kept in memory (about 40 bytes each).
    #[serde(default = "default_max_senders")]
    pub max_senders: usize,
}

fn default_true() -> bool {
    true
}
fn default_burst() -> u32 {
    20
}
fn default_per_hour() -> u32 {
    30
}
fn default_max_senders() -> usize {
    100_000
}

impl Default for FloodConfig {
    fn default() -> Self {
        FloodConfig {
            enabled: true,
            burst: default_burst(),
            per_hour: default_per_hour(),
            max_senders: default_max_senders(),
        }
    }
}

impl FloodConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled {
            return Ok(());
        }
        if self.burst == 0 {
            return Err(ConfigError::invalid("flood.burst", "must be at least 1"));
        }
        if self.per_hour == 0 {
            return Err(ConfigError::invalid("flood.per_hour", "must be at least 1"));
        }
        if self.max_senders < 2 {
            return Err(ConfigError::invalid("flood.max_senders", "must be at least 2"));
        }
        Ok(())
    }
}

/// What the limiter says about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over the limit: hold the message, with this reason.
    Limited(String),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f32,
    /// Seconds since the limiter's epoch of the last refill.
    at: u32,
}

struct Generations {
    current: HashMap<u64, Bucket>,
    previous: HashMap<u64, Bucket>,
}

pub struct Limiter {
    burst: f32,
    /// Tokens regained per second.
    rate: f32,
    per_hour: u32,
    half: usize,
    epoch: Instant,
    buckets: Mutex<Generations>,
}

impl Limiter {
    /// `None` when flood control is off.
    pub fn from_config(cfg: &FloodConfig) -> Option<Limiter> {
        cfg.enabled
            .then(|| Limiter::new(cfg.burst, cfg.per_hour, cfg.max_senders))
    }

    pub fn new(burst: u32, per_hour: u32, max_senders: usize) -> Limiter {
        let half = (max_senders / 2).max(1);
        Limiter {
            burst: burst.max(1) as f32,
            rate: per_hour.max(1) as f32 / 3600.0,
            per_hour,
            half,
            epoch: Instant::now(),
            buckets: Mutex::new(Generations {
                current: HashMap::with_capacity(half.min(4096)),
                previous: HashMap::new(),
            }),
        }
    }

    fn now(&self) -> u32 {
        self.epoch.elapsed().as_secs().min(u64::from(u32::MAX)) as u32
    }

    /// Take one message's token from `sender`'s bucket (a keyed hash of the
    /// address: the limiter holds no phone numbers).
    pub fn check(&self, sender: u64) -> Verdict {
        self.check_at(sender, self.now())
    }

    fn check_at(&self, sender: u64, now: u32) -> Verdict {
        let mut g = self.buckets.lock();
        let found = match g.current.get(&sender) {
            Some(b) => Some(*b),
            None => g.previous.remove(&sender),
        };
        let mut b = found.unwrap_or(Bucket {
            tokens: self.burst,
            at: now,
        });
        b.tokens = (b.tokens + now.saturating_sub(b.at) as f32 * self.rate).min(self.burst);
        b.at = now;
        let verdict = if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Verdict::Allowed
        } else {
            Verdict::Limited(format!(
                "rate_limited: sender over {} at once, then {}/hour",
                self.burst as u32, self.per_hour
            ))
        };
        if !g.current.contains_key(&sender) && g.current.len() >= self.half {
            g.previous = std::mem::take(&mut g.current);
            metrics::counter!("pintu_flood_generations_total").increment(1);
        }
        g.current.insert(sender, b);
        verdict
    }

    /// Give back the token of a message that turned out to be a duplicate
    /// (a provider's retry is not a new message).
    pub fn refund(&self, sender: u64) {
        let mut g = self.buckets.lock();
        if let Some(b) = g.current.get_mut(&sender) {
            b.tokens = (b.tokens + 1.0).min(self.burst);
        }
    }

    /// Senders held in memory (both generations).
    pub fn tracked(&self) -> usize {
        let g = self.buckets.lock();
        g.current.len() + g.previous.len()
    }
}

/// The limiter's key for a sender: the first 8 bytes of its keyed hash.
pub fn sender_tag(hash: &[u8; 32]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate_per_sender() {
        let l = Limiter::new(3, 3600, 100);
        for _ in 0..3 {
            assert_eq!(l.check_at(1, 10), Verdict::Allowed);
        }
        assert!(matches!(l.check_at(1, 10), Verdict::Limited(_)));
        // Another sender is not affected.
        assert_eq!(l.check_at(2, 10), Verdict::Allowed);
        // One token a second comes back.
        assert_eq!(l.check_at(1, 11), Verdict::Allowed);
        assert!(matches!(l.check_at(1, 11), Verdict::Limited(_)));
        // A refund (duplicate) gives the token back, never above the burst.
        l.refund(1);
        assert_eq!(l.check_at(1, 11), Verdict::Allowed);
        for _ in 0..10 {
            l.refund(2);
        }
        for _ in 0..3 {
            assert_eq!(l.check_at(2, 11), Verdict::Allowed);
        }
        assert!(matches!(l.check_at(2, 11), Verdict::Limited(_)));
        // Long idle: the bucket is full again, not more.
        for _ in 0..3 {
            assert_eq!(l.check_at(1, 10_000), Verdict::Allowed);
        }
        assert!(matches!(l.check_at(1, 10_000), Verdict::Limited(_)));
    }

    #[test]
    fn memory_is_bounded_and_a_flooding_sender_is_not_forgotten() {
        let l = Limiter::new(2, 1, 100);
        assert_eq!(l.check_at(7, 0), Verdict::Allowed);
        assert_eq!(l.check_at(7, 0), Verdict::Allowed);
        // A million other senders pass by; sender 7 keeps sending meanwhile.
        for s in 0..1_000_000u64 {
            let _ = l.check_at(1000 + s, 0);
            if s % 40 == 0 {
                assert!(matches!(l.check_at(7, 0), Verdict::Limited(_)), "at {s}");
            }
            assert!(l.tracked() <= 100);
        }
    }
}
