//! The `/ops/api/summary` document (see `docs/ops-api.md`): the gateway's own
//! counters plus the last broker reading, in one JSON object. The same types
//! deserialize it again for `pintu status`.

use std::sync::atomic::Ordering;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::monitor::Monitor;
use super::quarantine::QuarantineSummary;
use super::queues::QueueStat;
use crate::relay::RelayStatus;
use crate::stats::{now_ms, ChannelSeries, Ranked, MINUTES};

/// Bumped on an incompatible change of the document.
pub const SUMMARY_VERSION: u32 = 1;
/// Entries in each top-N list.
pub const TOP: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub version: u32,
    pub generated_at: String,
    pub window: Window,
    pub intake: IntakeSummary,
    pub outbox: OutboxSummary,
    pub broker: BrokerSummary,
    pub queues: Vec<QueueStat>,
    pub unrouted: UnroutedSummary,
    pub routed: RoutedSummary,
    pub replies: RepliesSummary,
    /// Mail kept out of intake (absent from older gateways: defaults to empty).
    #[serde(default)]
    pub email_quarantine: QuarantineSummary,
    /// Messages held by flood control (absent from older gateways).
    #[serde(default)]
    pub flood: super::flood::FloodSummary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Start of the oldest minute in every per-minute series (RFC 3339, UTC).
    pub start: String,
    pub minutes: usize,
    pub step_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub received: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Held by flood control (absent from older gateways).
    #[serde(default)]
    pub held: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntakeSummary {
    /// Sums over the last hour, all channels.
    pub last_hour: Totals,
    pub channels: Vec<ChannelSeries>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxSummary {
    pub backlog: u64,
    pub backlog_max: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrokerSummary {
    /// The relay's connection (what `/readyz` reports).
    pub relay_connected: bool,
    /// Where the queue figures come from: `management`, `amqp` or `none`.
    pub source: String,
    /// When the queue figures were read (RFC 3339); `null` before the first reading.
    pub as_of: Option<String>,
    pub error: Option<String>,
    pub tap_connected: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnroutedSummary {
    pub oldest_age_seconds: Option<f64>,
    pub oldest_received_at: Option<String>,
    /// Complaints accepted here and not yet seen routed.
    pub tracked: u64,
    /// Messages in the intake queue and outbox this gateway cannot date
    /// (accepted before it started, or by another gateway node).
    pub untracked: u64,
    /// False when the tracking set hit its memory bound.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutedSummary {
    pub last_hour: u64,
    pub per_minute: Vec<u64>,
    pub top_categories: Vec<Ranked>,
    pub top_regions: Vec<Ranked>,
    pub top_agencies: Vec<Ranked>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepliesSummary {
    pub sent_last_hour: u64,
    pub failed_last_hour: u64,
    pub sent_per_minute: Vec<u64>,
    pub failed_per_minute: Vec<u64>,
}

pub fn rfc3339_ms(ms: u64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Build the summary from the recorder and the monitor's last reading.
pub fn build(monitor: &Monitor, relay: &RelayStatus) -> Summary {
    let now = now_ms();
    let snap = monitor.stats().snapshot_at(now, TOP);
    let view = monitor.view();
    let sum = |f: fn(&ChannelSeries) -> &Vec<u64>| snap.channels.iter().map(|c| f(c).iter().sum::<u64>()).sum();
    let backlog = monitor.store().outbox_depth();
    let intake_depth = view
        .queues
        .iter()
        .find(|q| q.role == super::queues::Role::Intake)
        .and_then(|q| q.messages);
    let live = intake_depth.map(|d| d + backlog);
    Summary {
        version: SUMMARY_VERSION,
        generated_at: rfc3339_ms(now),
        window: Window {
            start: rfc3339_ms(snap.window_start_ms),
            minutes: MINUTES,
            step_seconds: 60,
        },
        intake: IntakeSummary {
            last_hour: Totals {
                received: sum(|c| &c.received),
                duplicates: sum(|c| &c.duplicates),
                rejected: sum(|c| &c.rejected),
                held: sum(|c| &c.held),
            },
            channels: snap.channels.clone(),
        },
        outbox: OutboxSummary {
            backlog,
            backlog_max: monitor.config().outbox.ready_max_backlog,
        },
        broker: BrokerSummary {
            relay_connected: relay.connected.load(Ordering::Relaxed),
            source: view.source.to_string(),
            as_of: (view.as_of_ms > 0).then(|| rfc3339_ms(view.as_of_ms)),
            error: view.error.clone(),
            tap_connected: view.tap_connected,
        },
        queues: view.queues,
        unrouted: UnroutedSummary {
            oldest_age_seconds: snap.oldest_unrouted_ms.map(|t| now.saturating_sub(t) as f64 / 1000.0),
            oldest_received_at: snap.oldest_unrouted_ms.map(rfc3339_ms),
            tracked: snap.unrouted_tracked,
            untracked: live.map(|l| l.saturating_sub(snap.unrouted_tracked)).unwrap_or(0),
            complete: !snap.unrouted_overflowed,
        },
        routed: RoutedSummary {
            last_hour: snap.routed.iter().sum(),
            per_minute: snap.routed,
            top_categories: snap.top_categories,
            top_regions: snap.top_regions,
            top_agencies: snap.top_agencies,
        },
        replies: RepliesSummary {
            sent_last_hour: snap.replies_sent.iter().sum(),
            failed_last_hour: snap.replies_failed.iter().sum(),
            sent_per_minute: snap.replies_sent,
            failed_per_minute: snap.replies_failed,
        },
        email_quarantine: super::quarantine::summary(monitor.config(), &monitor.store().db, now / 1000),
        flood: {
            let per_minute: Vec<u64> = (0..MINUTES)
                .map(|i| snap.channels.iter().map(|c| c.held.get(i).copied().unwrap_or(0)).sum())
                .collect();
            let list = super::flood::held(monitor.store(), TOP).unwrap_or_default();
            super::flood::FloodSummary {
                held: list.held,
                last_hour: per_minute.iter().sum(),
                per_minute,
                oldest: list.items,
            }
        },
    }
}
