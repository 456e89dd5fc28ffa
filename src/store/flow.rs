//! Flow control between intake and the relay.
//!
//! While the broker is up, an outbox that keeps growing only means intake is
//! outrunning the relay (they share the CPU): complaints pile up on disk and
//! in the page cache, the relay falls back from its in-memory feed to reading
//! sled, and it falls further behind. So while the relay is connected and the
//! backlog is above a soft limit, intake waits for the relay's progress before
//! committing more — for a bounded time, so a slow broker slows intake down
//! but never stops it. While the broker is away, or connected but not
//! confirming anything (a RabbitMQ resource alarm blocks publishers without
//! closing the connection), nothing waits: accepting and keeping complaints
//! durable is the point of the outbox.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::Backlog;

/// Longest a single intake waits for the relay before committing anyway.
pub const MAX_WAIT: Duration = Duration::from_secs(2);
/// A relay that confirmed nothing for this long is stalled, not slow.
pub const STALLED_AFTER: Duration = Duration::from_secs(1);

pub struct Flow {
    depth: Arc<Backlog>,
    /// 0 = no flow control.
    limit: AtomicU64,
    relay_connected: AtomicBool,
    progress: Notify,
    epoch: Instant,
    /// Milliseconds since `epoch` of the relay's last confirmed entry.
    last_progress_ms: AtomicU64,
}

impl Flow {
    pub fn new(depth: Arc<Backlog>) -> Flow {
        Flow {
            depth,
            limit: AtomicU64::new(0),
            relay_connected: AtomicBool::new(false),
            progress: Notify::new(),
            epoch: Instant::now(),
            last_progress_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Backlog above which intake waits (0 turns flow control off).
    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    pub fn set_relay_connected(&self, connected: bool) {
        // A new session starts with a clean record.
        self.last_progress_ms.store(self.now_ms(), Ordering::Relaxed);
        self.relay_connected.store(connected, Ordering::Relaxed);
        if !connected {
            // Nobody waits for a relay that is not publishing.
            self.progress.notify_waiters();
        }
    }

    fn must_wait(&self) -> bool {
        let limit = self.limit.load(Ordering::Relaxed);
        limit > 0
            && self.relay_connected.load(Ordering::Relaxed)
            && self.depth.get() > limit
            && self
                .now_ms()
                .saturating_sub(self.last_progress_ms.load(Ordering::Relaxed))
                < STALLED_AFTER.as_millis() as u64
    }

    /// Wait (at most [`MAX_WAIT`]) while the relay is connected and behind.
    /// Returns true when it waited.
    pub async fn admit(&self) -> bool {
        if !self.must_wait() {
            return false;
        }
        metrics::counter!("pintu_intake_flow_waits_total").increment(1);
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            let notified = self.progress.notified();
            tokio::pin!(notified);
            // Registered before the re-check, so a wake-up in between is not lost.
            notified.as_mut().enable();
            if !self.must_wait() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                metrics::counter!("pintu_intake_flow_timeouts_total").increment(1);
                return true;
            }
        }
    }

    /// The relay removed confirmed entries: wake intake once the backlog is
    /// back under the limit (not on every entry, to spare the wake-ups).
    pub fn progressed(&self) {
        self.last_progress_ms.store(self.now_ms(), Ordering::Relaxed);
        let limit = self.limit.load(Ordering::Relaxed);
        if limit > 0 && self.depth.get() <= limit {
            self.progress.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_only_while_connected_and_behind() {
        let depth = Arc::new(Backlog::new(10));
        let flow = Arc::new(Flow::new(depth.clone()));
        // No limit: never waits.
        assert!(!flow.admit().await);
        flow.set_limit(5);
        // Disconnected relay: never waits, however large the backlog.
        assert!(!flow.admit().await);
        flow.set_relay_connected(true);
        // Connected and behind: waits until the relay catches up.
        let waiter = tokio::spawn({
            let flow = flow.clone();
            async move { flow.admit().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        depth.remove(3);
        flow.progressed(); // still above the limit: nobody is woken
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        depth.remove(2);
        flow.progressed();
        assert!(waiter.await.unwrap());
        // Behind for longer than MAX_WAIT while the relay still confirms now
        // and then: intake goes on anyway after MAX_WAIT.
        depth.add(45);
        let started = Instant::now();
        let waiter = tokio::spawn({
            let flow = flow.clone();
            async move { flow.admit().await }
        });
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            flow.progressed();
        }
        assert!(waiter.await.unwrap());
        assert_eq!(started.elapsed(), MAX_WAIT);
        // A relay that confirmed nothing for STALLED_AFTER is stalled (broker
        // blocked): intake does not wait at all.
        tokio::time::sleep(STALLED_AFTER).await;
        assert!(!flow.admit().await);
        flow.progressed();
        // The relay disconnecting releases waiters at once.
        let waiter = tokio::spawn({
            let flow = flow.clone();
            async move { flow.admit().await }
        });
        tokio::task::yield_now().await;
        flow.set_relay_connected(false);
        let started = Instant::now();
        assert!(waiter.await.unwrap());
        assert!(started.elapsed() < MAX_WAIT);
    }
}
