//! `[replies]`: the acknowledgement templates and the reply sender's limits.

use std::path::PathBuf;

use serde::Deserialize;

use crate::section::default_true;
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepliesConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Reply templates (TOML), relative to the config directory.
    #[serde(default = "default_templates")]
    pub templates: PathBuf,
    /// Concurrent sends.
    #[serde(default = "default_reply_concurrency")]
    pub concurrency: usize,
    /// Longest wait between retries of one reply (seconds).
    #[serde(default = "default_max_backoff")]
    pub max_backoff_secs: u64,
}

impl Default for RepliesConfig {
    fn default() -> Self {
        RepliesConfig {
            enabled: true,
            templates: default_templates(),
            concurrency: default_reply_concurrency(),
            max_backoff_secs: default_max_backoff(),
        }
    }
}

fn default_templates() -> PathBuf {
    "replies.toml".into()
}
fn default_reply_concurrency() -> usize {
    32
}
fn default_max_backoff() -> u64 {
    60
}
