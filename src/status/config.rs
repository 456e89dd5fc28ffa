//! `[status]` in `pintu.toml`: the loop back to the citizen and the agency
//! API. Credentials are [`Secret`]s like every other in the config.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pintu_channels::Secret;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusConfig {
    /// Off by default: with it on, the gateway records routed complaints,
    /// consumes `<prefix>.status` and serves `/agency/v1/…`.
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "default_templates")]
    pub templates: PathBuf,
    #[serde(default = "default_units")]
    pub units: PathBuf,
    /// Status queries (`CEK …`) one sender may make per hour; more get the
    /// "try later" answer (codes must not be enumerable).
    #[serde(default = "default_queries")]
    pub queries_per_hour: u32,
    /// Senders whose query budget is remembered (oldest forgotten first).
    #[serde(default = "default_query_senders")]
    pub max_query_senders: usize,
    /// Largest page of `GET /agency/v1/complaints`.
    #[serde(default = "default_page")]
    pub page_limit: usize,
    /// Agencies allowed to use the HTTP API, by code.
    #[serde(default)]
    pub agencies: BTreeMap<String, AgencyAuth>,
    /// Webhook push: attempts before a push is dead-lettered, first pause
    /// and longest pause between attempts (seconds).
    #[serde(default = "default_attempts")]
    pub webhook_max_attempts: u32,
    #[serde(default = "default_backoff")]
    pub webhook_backoff_secs: u64,
    #[serde(default = "default_max_backoff")]
    pub webhook_max_backoff_secs: u64,
    /// Seconds an HMAC-signed request's timestamp may differ from now.
    #[serde(default = "default_skew")]
    pub signature_skew_secs: u64,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig {
            enabled: false,
            templates: default_templates(),
            units: default_units(),
            queries_per_hour: default_queries(),
            max_query_senders: default_query_senders(),
            page_limit: default_page(),
            agencies: BTreeMap::new(),
            signature_skew_secs: default_skew(),
            webhook_max_attempts: default_attempts(),
            webhook_backoff_secs: default_backoff(),
            webhook_max_backoff_secs: default_max_backoff(),
        }
    }
}

/// How one agency authenticates: a bearer token, an HMAC key, or both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyAuth {
    #[serde(default)]
    pub token: Option<Secret>,
    /// `X-Pintu-Signature: sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>`
    /// with `X-Pintu-Timestamp` (Unix seconds) and `X-Pintu-Agency`.
    #[serde(default)]
    pub hmac_key: Option<Secret>,
    /// The agency's own endpoint for pushed complaints (`crate::status::webhook`).
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Key the pushes are signed with (required with `webhook_url`).
    #[serde(default)]
    pub webhook_key: Option<Secret>,
}

fn default_templates() -> PathBuf {
    "status/templates.toml".into()
}
fn default_units() -> PathBuf {
    "status/units.csv".into()
}
fn default_queries() -> u32 {
    10
}
fn default_query_senders() -> usize {
    100_000
}
fn default_page() -> usize {
    100
}
fn default_skew() -> u64 {
    300
}
fn default_attempts() -> u32 {
    12
}
fn default_backoff() -> u64 {
    2
}
fn default_max_backoff() -> u64 {
    600
}
