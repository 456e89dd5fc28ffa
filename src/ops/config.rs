//! `[ops]`: the ops page's broker view.

use serde::Deserialize;

use crate::section::default_true;
/// The ops page and its broker view (`crate::ops`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    /// How often queue depths and consumer counts are read from the broker (ms);
    /// viewers of `/ops` share that one reading, so many open pages cost nothing extra.
    #[serde(default = "default_ops_refresh")]
    pub refresh_ms: u64,
    /// Watch routed complaints through a private auto-delete tap queue (top
    /// categories/regions, and which complaints are no longer unrouted).
    #[serde(default = "default_true")]
    pub tap: bool,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            refresh_ms: default_ops_refresh(),
            tap: true,
        }
    }
}

fn default_ops_refresh() -> u64 {
    2000
}
