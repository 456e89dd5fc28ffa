//! Configuration: `config/pintu.toml`, every key overridable from the
//! environment as `PINTU_` + the key path upper-cased with `__` between levels
//! (`PINTU_HTTP__ADDR`, `PINTU_CHANNELS__KANNEL__TOKEN`).
//!
//! This module only composes: each section is defined by the part of the
//! gateway that reads it (`[amqp]` in [`crate::broker`], `[http]` in
//! [`crate::http`], the SMS profiles in [`crate::sms`], e-mail in
//! [`crate::email::config`], X/Meta/Telegram in [`crate::social::config`], …)
//! and re-exported here; the shared error and the rule for relative paths are
//! in [`crate::section`].
//!
//! Unknown keys are errors, so a typo in a deployment is caught by `pintu check`
//! instead of silently falling back to a default. Every credential is a
//! [`pintu_channels::Secret`] (never printed; inline, `{ file = … }` or
//! `{ env = … }`); which ones are in use and whether they are fit for an
//! exposed gateway is [`secrets`].

mod env;
pub mod secrets;

use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::Figment;
use pintu_channels::sms::generic::GenericConfig;
use pintu_channels::sms::twilio::TwilioConfig;
use serde::Deserialize;

pub use crate::broker::config::AmqpConfig;
pub use crate::http::config::HttpConfig;
pub use crate::ops::config::OpsConfig;
pub use crate::replies::config::RepliesConfig;
pub use crate::section::ConfigError;
pub use crate::sms::config::{JasminConfig, KannelConfig, SmsConfig};
pub use crate::store::config::{DedupeConfig, OutboxConfig, ReplayConfig};

/// Environment variables with the prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["CONFIG", "LOG"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where this process keeps its sled databases; one process per directory.
    pub data_dir: PathBuf,
    /// Which gateway node of a cluster this is (`crate::node`, docs/scale-out.md).
    #[serde(default)]
    pub node: crate::node::config::NodeConfig,
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
    /// Working-day deadlines (`crate::sla`, docs/sla.md).
    #[serde(default)]
    pub sla: crate::sla::config::SlaConfig,
    /// The loop back to the citizen and the agency API (`crate::status`).
    #[serde(default)]
    pub status: crate::status::config::StatusConfig,
    /// Directory of the config file; relative paths of other files resolve here.
    #[serde(skip)]
    pub base_dir: PathBuf,
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

use crate::section::default_true;

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

    /// A path from the config, resolved against the config file's directory
    /// (the one rule: [`crate::section::resolve`]).
    pub fn resolve(&self, p: &Path) -> PathBuf {
        crate::section::resolve(&self.base_dir, p)
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
        for (i, u) in self.amqp.urls.iter().enumerate() {
            // The message names the entry, never the URL: it carries a password.
            let u = u.expose();
            if !u.starts_with("amqp://") && !u.starts_with("amqps://") {
                return Err(ConfigError::invalid(
                    "amqp.urls",
                    format!("entry {i}: must start with amqp:// or amqps://"),
                ));
            }
            if u.parse::<lapin::uri::AMQPUri>().is_err() {
                return Err(ConfigError::invalid(
                    "amqp.urls",
                    format!("entry {i}: not a valid AMQP URL"),
                ));
            }
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
        if self.dedupe.window_secs > crate::store::config::MAX_WINDOW_SECS {
            return Err(ConfigError::invalid(
                "dedupe.window_secs",
                format!("must be at most {} (22 days)", crate::store::config::MAX_WINDOW_SECS),
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
        crate::sms::config::webhook_adapters(&ch.kannel, &ch.jasmin, &ch.twilio, &ch.generic)?;
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
        self.node.validate()?;
        self.flood.validate()?;
        self.sla
            .validate()
            .map_err(|(key, reason)| ConfigError::invalid(&key, reason))?;
        if !matches!(self.log.format.as_str(), "json" | "pretty") {
            return Err(ConfigError::invalid("log.format", "must be `json` or `pretty`"));
        }
        // Last: the keys above are known to be well-formed by now.
        self.audit_secrets()?;
        Ok(())
    }
}
