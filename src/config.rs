//! Configuration: `config/pintu.toml`, every key overridable from the
//! environment as `PINTU_` + the key path upper-cased with `__` between levels
//! (`PINTU_HTTP__ADDR`, `PINTU_CHANNELS__KANNEL__TOKEN`).
//!
//! Unknown keys are errors, so a typo in a deployment is caught by `pintu check`
//! instead of silently falling back to a default. Every credential is a
//! [`Secret`] (never printed; inline, `{ file = … }` or `{ env = … }`); which
//! ones are in use and whether they are fit for an exposed gateway is
//! [`secrets`].

mod env;
pub mod secrets;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::Figment;
use pintu_channels::sms::generic::GenericConfig;
use pintu_channels::sms::twilio::TwilioConfig;
use pintu_channels::sms::SmsAuth;
use pintu_channels::Secret;
use serde::Deserialize;
use thiserror::Error;

/// Environment variables with the prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["CONFIG", "LOG"];

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{0}")]
    Load(String),
    #[error("`{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

impl ConfigError {
    pub fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_string(),
            reason: reason.into(),
        }
    }

    /// An SMS profile's settings error, named by its key
    /// (`channels.kannel.token`).
    pub fn profile(channel: &str, e: pintu_channels::sms::ProfileError) -> ConfigError {
        ConfigError::invalid(&format!("channels.{channel}.{}", e.field()), e.to_string())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where this process keeps its sled databases; one process per directory.
    pub data_dir: PathBuf,
    pub http: HttpConfig,
    pub amqp: AmqpConfig,
    #[serde(default)]
    pub dedupe: DedupeConfig,
    #[serde(default)]
    pub replay: ReplayConfig,
    #[serde(default)]
    pub outbox: OutboxConfig,
    #[serde(default)]
    pub sms: SmsConfig,
    #[serde(default)]
    pub channels: ChannelsConfig,
    #[serde(default)]
    pub replies: RepliesConfig,
    #[serde(default)]
    pub routing: RoutingConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub ops: OpsConfig,
    /// Per-sender rate limits (`crate::flood`).
    #[serde(default)]
    pub flood: crate::flood::FloodConfig,
    /// The loop back to the citizen and the agency API (`crate::status`).
    #[serde(default)]
    pub status: crate::status::config::StatusConfig,
    /// Directory of the config file; relative paths of other files resolve here.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    /// Largest request body accepted (bytes); larger gets 413.
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// URL providers use to reach this server (signature schemes sign it).
    #[serde(default)]
    pub public_base_url: Option<String>,
    /// Bearer token for ops/admin endpoints; required when the gateway is
    /// exposed (not bound to loopback, or behind `trusted_proxies`).
    #[serde(default)]
    pub ops_token: Option<Secret>,
    /// Reverse proxies / ingresses whose `X-Forwarded-For` names the client
    /// (addresses or CIDR blocks). Only their header is believed, and with any
    /// set, loopback no longer counts as private: the ops token and real
    /// secrets are required.
    #[serde(default)]
    pub trusted_proxies: Vec<pintu_channels::auth::IpRule>,
    /// One log line per HTTP request (target `pintu::access`), credentials in
    /// the query masked.
    #[serde(default)]
    pub access_log: bool,
}

fn default_body_limit() -> usize {
    256 * 1024
}
fn default_request_timeout_ms() -> u64 {
    10_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpConfig {
    /// `amqp://user:password@host:5672/vhost`: a secret, it carries the password.
    pub url: Secret,
    /// Prefix of every exchange and queue name, so tenants and tests do not collide.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Deliveries of one message before the broker dead-letters it.
    #[serde(default = "default_delivery_limit")]
    pub delivery_limit: u32,
    /// Publishes awaiting confirmation at once (relay and router).
    #[serde(default = "default_window")]
    pub publish_window: usize,
    /// Agency codes that get their own queue (`kemenkes`, `3171.dinkes`, or a
    /// pattern such as `3171.#` for every unit of one city); `triage` always has one.
    #[serde(default)]
    pub agency_queues: Vec<String>,
    /// RabbitMQ management API base (`http://guest:guest@127.0.0.1:15672`) for ops views.
    #[serde(default)]
    pub management_url: Option<Secret>,
}

fn default_prefix() -> String {
    "pintu".into()
}
fn default_delivery_limit() -> u32 {
    5
}
fn default_window() -> usize {
    1024
}

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// Parts of a concatenated SMS still missing after this are ingested as one
    /// partial complaint.
    #[serde(default = "default_concat_timeout")]
    pub concat_timeout_secs: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            concat_timeout_secs: default_concat_timeout(),
        }
    }
}

fn default_concat_timeout() -> u64 {
    300
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsConfig {
    #[serde(default)]
    pub kannel: KannelConfig,
    #[serde(default)]
    pub jasmin: JasminConfig,
    #[serde(default)]
    pub twilio: TwilioConfig,
    #[serde(default)]
    pub generic: GenericConfig,
    /// IMAP mailboxes and the SMTP relay for replies (`crate::email`).
    #[serde(default)]
    pub email: crate::email::config::EmailConfig,
    #[serde(default)]
    pub x: crate::social::config::XConfig,
    #[serde(default)]
    pub meta: crate::social::config::MetaConfig,
    #[serde(default)]
    pub telegram: crate::social::config::TelegramConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KannelConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(flatten)]
    pub auth: SmsAuth,
    /// smsbox sendsms endpoint for replies (`http://127.0.0.1:13013/cgi-bin/sendsms`).
    #[serde(default)]
    pub sendsms_url: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// Sender of replies (the short code).
    #[serde(default = "default_short_code")]
    pub from: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JasminConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(flatten)]
    pub auth: SmsAuth,
    /// Jasmin HTTP API send endpoint (`http://127.0.0.1:1401/send`).
    #[serde(default)]
    pub send_url: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default = "default_short_code")]
    pub from: String,
}

fn default_short_code() -> String {
    "1708".into()
}

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

fn default_true() -> bool {
    true
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Directory of the routing tables (lexicon, aliases, regions), relative to
    /// the config directory.
    #[serde(default = "default_routing_dir")]
    pub dir: PathBuf,
    /// Router's own sled directory, under `data_dir` unless absolute.
    #[serde(default = "default_router_data")]
    pub data_subdir: PathBuf,
    /// Messages the router works on at once.
    #[serde(default = "default_prefetch")]
    pub prefetch: u16,
    /// Directory of the BPS region tables (provinces/regencies/districts CSV),
    /// relative to the config directory.
    #[serde(default = "default_wilayah_dir")]
    pub wilayah_dir: PathBuf,
    /// Keep each complaint's decision in the router's sled database, so a
    /// redelivery after a table change still republishes the first decision.
    #[serde(default = "default_true")]
    pub remember_decisions: bool,
    /// Days a remembered decision is kept (redeliveries come within minutes;
    /// this bounds the database).
    #[serde(default = "default_remember_days")]
    pub remember_days: u32,
    /// Rule 9: decisions whose confidence is below this go to `triage` with
    /// the router's guess as `suggested_agency` (0 = off, every decision stands).
    #[serde(default)]
    pub review_below: f64,
    /// Rule 8: the default region of a number, mailbox or account of a
    /// regional government, used when the text names no place.
    #[serde(default)]
    pub channel_regions: Vec<crate::routing::ChannelRegion>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            dir: default_routing_dir(),
            data_subdir: default_router_data(),
            prefetch: default_prefetch(),
            wilayah_dir: default_wilayah_dir(),
            remember_decisions: true,
            remember_days: default_remember_days(),
            review_below: 0.0,
            channel_regions: Vec::new(),
        }
    }
}

fn default_routing_dir() -> PathBuf {
    "routing".into()
}
fn default_router_data() -> PathBuf {
    "router".into()
}
fn default_prefetch() -> u16 {
    512
}
fn default_remember_days() -> u32 {
    14
}
fn default_wilayah_dir() -> PathBuf {
    "wilayah".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `json` (default, for collectors) or `pretty`.
    #[serde(default = "default_log_format")]
    pub format: String,
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

fn default_log_format() -> String {
    "json".into()
}
fn default_log_level() -> String {
    "info".into()
}

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

/// One line per problem, each naming the key as it is written in the file
/// (`http.addr`) and where the bad value came from (file or environment).
fn describe(err: figment::Error) -> ConfigError {
    let lines: Vec<String> = err
        .into_iter()
        .map(|e| {
            let key = e.path.join(".").to_lowercase();
            let source = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{source}", e.kind)
            } else {
                format!("`{key}`: {}{source}", e.kind)
            }
        })
        .collect();
    ConfigError::Load(lines.join("; "))
}

impl Config {
    /// Load a config file with environment overrides and validate it.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let mut figment = Figment::new().merge(Toml::file_exact(path));
        for var in env::overrides(NOT_KEYS) {
            figment = figment.merge(var);
        }
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        // `{ file = "…" }` secrets are read while deserializing, relative to
        // the config file's directory.
        let mut cfg: Config =
            pintu_channels::secret::with_base_dir(&base_dir, || figment.extract_lossy().map_err(describe))?;
        cfg.base_dir = base_dir;
        cfg.validate()?;
        Ok(cfg)
    }

    /// A path from the config, resolved against the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    pub fn router_data_dir(&self) -> PathBuf {
        self.data_dir.join(&self.routing.data_subdir)
    }

    pub fn gateway_data_dir(&self) -> PathBuf {
        self.data_dir.join("gateway")
    }

    /// Checks serde cannot express: cross-field rules, parseable rules and URLs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.amqp.url.expose();
        if !url.starts_with("amqp://") && !url.starts_with("amqps://") {
            return Err(ConfigError::invalid("amqp.url", "must start with amqp:// or amqps://"));
        }
        let p = &self.amqp.prefix;
        if p.is_empty()
            || !p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(ConfigError::invalid(
                "amqp.prefix",
                "must be non-empty ASCII letters, digits, '-', '_' or '.'",
            ));
        }
        if self.amqp.publish_window == 0 {
            return Err(ConfigError::invalid("amqp.publish_window", "must be at least 1"));
        }
        if self.amqp.delivery_limit == 0 {
            return Err(ConfigError::invalid("amqp.delivery_limit", "must be at least 1"));
        }
        if self.dedupe.window_secs == 0 {
            return Err(ConfigError::invalid("dedupe.window_secs", "must be at least 1"));
        }
        // Dedupe records keep the window in 16 bits (see store::dedupe).
        if self.dedupe.window_secs > crate::store::dedupe::MAX_WINDOW_SECS {
            return Err(ConfigError::invalid(
                "dedupe.window_secs",
                format!("must be at most {} (22 days)", crate::store::dedupe::MAX_WINDOW_SECS),
            ));
        }
        if self.replay.window_secs <= self.dedupe.window_secs {
            return Err(ConfigError::invalid(
                "replay.window_secs",
                "must be longer than dedupe.window_secs (it protects what the dedupe window no longer covers)",
            ));
        }
        if self.replay.max_entries == 0 {
            return Err(ConfigError::invalid("replay.max_entries", "must be at least 1"));
        }
        match &self.http.ops_token {
            Some(t) if t.is_empty() => {
                return Err(ConfigError::invalid(
                    "http.ops_token",
                    "is empty; leave it out for no token on loopback",
                ))
            }
            None if self.exposed() => {
                let why = if self.http.trusted_proxies.is_empty() {
                    "required when http.addr is not a loopback address"
                } else {
                    "required when http.trusted_proxies is set: behind a proxy, loopback is not private"
                };
                return Err(ConfigError::invalid("http.ops_token", why));
            }
            _ => {}
        }
        let ch = &self.channels;
        for (name, auth) in [
            ("kannel", &ch.kannel.auth),
            ("jasmin", &ch.jasmin.auth),
            ("generic", &ch.generic.auth),
        ] {
            auth.rules()
                .map_err(|e| ConfigError::invalid(&format!("channels.{name}.allow_ips"), e))?;
        }
        // Building the enabled webhooks checks that each has a credential.
        crate::serve::sms_mounts(self)?;
        ch.email.validate()?;
        ch.x.validate(&self.base_dir)?;
        ch.meta.validate(&self.base_dir)?;
        ch.telegram.validate(&self.base_dir)?;
        for code in &self.amqp.agency_queues {
            if code.is_empty() || code.contains(char::is_whitespace) {
                return Err(ConfigError::invalid(
                    "amqp.agency_queues",
                    format!("`{code}` is not an agency code or pattern"),
                ));
            }
        }
        self.flood.validate()?;
        if !matches!(self.log.format.as_str(), "json" | "pretty") {
            return Err(ConfigError::invalid("log.format", "must be `json` or `pretty`"));
        }
        // Last: the keys above are known to be well-formed by now.
        self.audit_secrets()?;
        Ok(())
    }
}
