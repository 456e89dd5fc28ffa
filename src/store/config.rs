//! `[dedupe]`, `[replay]` and `[outbox]`: how long the store remembers what,
//! and how much memory and disk it may use.

use pintu_channels::Secret;
use serde::Deserialize;

/// Longest dedupe window a record can hold (see [`super::dedupe`]).
pub use super::dedupe::MAX_WINDOW_SECS;
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupeConfig {
    #[serde(default = "default_window_secs")]
    pub window_secs: u64,
    /// Key that hashes sender addresses; when unset a random one is created in
    /// `data_dir/sender.key` on first start and kept.
    #[serde(default)]
    pub secret: Option<Secret>,
}

impl Default for DedupeConfig {
    fn default() -> Self {
        DedupeConfig {
            window_secs: default_window_secs(),
            secret: None,
        }
    }
}

fn default_window_secs() -> u64 {
    24 * 3600
}

/// Provider message ids kept after the dedupe window, so a captured webhook
/// replayed later is not a new complaint (`crate::replay`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    /// How long an id is remembered; longer than `dedupe.window_secs`.
    #[serde(default = "default_replay_window")]
    pub window_secs: u64,
    /// Most ids kept; the oldest go first beyond it.
    #[serde(default = "default_replay_max")]
    pub max_entries: u64,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            window_secs: default_replay_window(),
            max_entries: default_replay_max(),
        }
    }
}

fn default_replay_window() -> u64 {
    30 * 24 * 3600
}
fn default_replay_max() -> u64 {
    2_000_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// `/readyz` fails when more entries than this wait for the broker.
    #[serde(default = "default_ready_backlog")]
    pub ready_max_backlog: u64,
    /// sled page cache (bytes). sled holds ~2x this in memory; lookups of
    /// dedupe keys are random, so a larger cache buys some speed for memory.
    #[serde(default = "default_cache")]
    pub cache_bytes: u64,
    /// While the broker is connected and more entries than this wait, intake
    /// waits (up to 2 s) for the relay; 0 turns this off. Keep it below the
    /// relay's in-memory feed (4096) so the relay publishes from memory.
    #[serde(default = "default_flow_backlog")]
    pub flow_backlog: u64,
    /// The relay rescans the outbox this often while connected, a safety net
    /// for entries committed but never handed to it; 0 turns it off.
    #[serde(default = "default_rescan_secs")]
    pub rescan_secs: u64,
    /// Free space (bytes) kept on the data directory's file system: below it
    /// intake answers 503 and `/healthz` fails until there is more again
    /// (sled must never meet a full disk: it then refuses every write until
    /// reopened). 0 turns the check off.
    #[serde(default = "default_min_free_bytes")]
    pub min_free_bytes: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            ready_max_backlog: default_ready_backlog(),
            cache_bytes: default_cache(),
            flow_backlog: default_flow_backlog(),
            rescan_secs: default_rescan_secs(),
            min_free_bytes: default_min_free_bytes(),
        }
    }
}

fn default_ready_backlog() -> u64 {
    10_000
}
fn default_flow_backlog() -> u64 {
    3072
}
fn default_rescan_secs() -> u64 {
    30
}
fn default_min_free_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_cache() -> u64 {
    4 * 1024 * 1024
}
