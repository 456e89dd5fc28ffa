//! The outbox backlog figure: entries written to the outbox and not yet
//! confirmed by the broker (sled's `len` is a full scan, so it is counted).
//!
//! Every entry is counted by whoever inserts it *before* the insert is
//! visible, and uncounted by the relay once it removed the entry after a
//! confirm. The relay can only remove what it saw in the tree, so the figure
//! never has to go below zero; should a miscount ever try, it stops at zero
//! (and is counted as a metric) instead of wrapping to 2^64 − 1, which made
//! `/readyz` fail for good and flow control stall every request.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Backlog(AtomicU64);

impl Backlog {
    pub fn new(entries: u64) -> Backlog {
        Backlog(AtomicU64::new(entries))
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Count `n` entries about to become visible in the outbox.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
        metrics::gauge!("pintu_outbox_depth").set(self.get() as f64);
    }

    /// Uncount `n` entries (removed after a confirm, or not written after
    /// all); returns the new figure.
    pub fn remove(&self, n: u64) -> u64 {
        let mut under = false;
        let before = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                under = v < n;
                Some(v.saturating_sub(n))
            })
            .unwrap_or(0);
        if under {
            metrics::counter!("pintu_outbox_backlog_underflow_total").increment(1);
            tracing::warn!(backlog = before, removed = n, "outbox backlog miscounted; kept at zero");
        }
        let now = before.saturating_sub(n);
        metrics::gauge!("pintu_outbox_depth").set(now as f64);
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_wraps() {
        let b = Backlog::new(2);
        b.add(3);
        assert_eq!(b.remove(4), 1);
        assert_eq!(b.remove(5), 0, "stops at zero instead of wrapping");
        assert_eq!(b.get(), 0);
        b.add(1);
        assert_eq!(b.get(), 1);
    }
}
