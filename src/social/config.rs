//! `[channels.x]`, `[channels.meta]` and `[channels.telegram]`: poller and
//! reply-transport settings; the webhook settings are the channels crate's
//! structs, nested as `webhook` sub-tables.
//!
//! Every credential is a [`Secret`] (redacted in `Debug`) and can come from the
//! config, from the environment (`PINTU_CHANNELS__META__WEBHOOK__APP_SECRET`),
//! from `{ file = … }` / `{ env = … }` like every secret, or from a file named
//! by the matching `*_file` key (a mounted secret); the file is read at start
//! and its surrounding whitespace dropped.

use std::path::{Path, PathBuf};

use pintu_channels::social::meta::MetaWebhookConfig;
use pintu_channels::social::telegram::{secret_token_ok, TelegramWebhookConfig};
use pintu_channels::social::x::{is_tweet_id, XWebhookConfig};
use pintu_channels::Secret;
use serde::Deserialize;

use crate::section::ConfigError;

fn default_x_api() -> String {
    "https://api.x.com".into()
}
fn default_graph_base() -> String {
    "https://graph.facebook.com".into()
}
fn default_graph_version() -> String {
    "v21.0".into()
}
fn default_telegram_api() -> String {
    "https://api.telegram.org".into()
}
fn default_timeout_ms() -> u64 {
    10_000
}

/// `[channels.x]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XConfig {
    /// Replies through `POST /2/tweets`; polling and the webhook have their own switch.
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "default_x_api")]
    pub api_base: String,
    /// Numeric id of the service account (@lapor1708).
    #[serde(default)]
    pub user_id: String,
    /// Its screen name, without `@`.
    #[serde(default)]
    pub username: String,
    /// App-only bearer token: reads the mentions timeline.
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// OAuth 2.0 user-context access token with `tweet.write`: posts replies
    /// (app-only tokens cannot post).
    #[serde(default)]
    pub user_access_token: Option<Secret>,
    #[serde(default)]
    pub user_access_token_file: Option<PathBuf>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub poll: XPollConfig,
    #[serde(default)]
    pub webhook: XWebhookConfig,
}

impl Default for XConfig {
    fn default() -> Self {
        XConfig {
            enabled: false,
            api_base: default_x_api(),
            user_id: String::new(),
            username: String::new(),
            bearer_token: None,
            bearer_token_file: None,
            user_access_token: None,
            user_access_token_file: None,
            timeout_ms: default_timeout_ms(),
            poll: XPollConfig::default(),
            webhook: XWebhookConfig::default(),
        }
    }
}

/// `[channels.x.poll]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XPollConfig {
    #[serde(default)]
    pub enabled: bool,
    /// Pause between polls when nothing limits us sooner. The Basic tier allows
    /// 10 mentions requests per 15 minutes per user; the rate-limit headers
    /// are honoured whatever this says.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// `max_results` per page (5–100).
    #[serde(default = "default_max_results")]
    pub max_results: u32,
    /// Pages read on the very first poll (no cursor yet); older mentions are
    /// history, not new complaints.
    #[serde(default = "default_backfill")]
    pub backfill_pages: u32,
    /// Longest wait after errors (seconds).
    #[serde(default = "default_poll_backoff")]
    pub max_backoff_secs: u64,
}

fn default_interval() -> u64 {
    60
}
fn default_max_results() -> u32 {
    100
}
fn default_backfill() -> u32 {
    1
}
fn default_poll_backoff() -> u64 {
    900
}

impl Default for XPollConfig {
    fn default() -> Self {
        XPollConfig {
            enabled: false,
            interval_secs: default_interval(),
            max_results: default_max_results(),
            backfill_pages: default_backfill(),
            max_backoff_secs: default_poll_backoff(),
        }
    }
}

/// `[channels.meta]`: one Meta app, up to three products.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaConfig {
    #[serde(default = "default_graph_base")]
    pub graph_base: String,
    #[serde(default = "default_graph_version")]
    pub graph_version: String,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub webhook: MetaWebhookConfig,
    #[serde(default)]
    pub whatsapp: MetaProductConfig,
    #[serde(default)]
    pub facebook: MetaProductConfig,
    #[serde(default)]
    pub instagram: MetaProductConfig,
}

impl Default for MetaConfig {
    fn default() -> Self {
        MetaConfig {
            graph_base: default_graph_base(),
            graph_version: default_graph_version(),
            timeout_ms: default_timeout_ms(),
            webhook: MetaWebhookConfig::default(),
            whatsapp: MetaProductConfig::default(),
            facebook: MetaProductConfig::default(),
            instagram: MetaProductConfig::default(),
        }
    }
}

impl MetaConfig {
    pub fn any_enabled(&self) -> bool {
        self.whatsapp.enabled || self.facebook.enabled || self.instagram.enabled
    }
}

/// `[channels.meta.whatsapp]`, `[channels.meta.facebook]`, `[channels.meta.instagram]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaProductConfig {
    #[serde(default)]
    pub enabled: bool,
    /// System-user token (WhatsApp) or page access token (Messenger, Instagram).
    #[serde(default)]
    pub access_token: Option<Secret>,
    #[serde(default)]
    pub access_token_file: Option<PathBuf>,
    /// Overrides `channels.meta.graph_base` (e.g. `https://graph.instagram.com`
    /// for Instagram API with Instagram Login).
    #[serde(default)]
    pub graph_base: Option<String>,
}

/// `[channels.telegram]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "default_telegram_api")]
    pub api_base: String,
    /// Bot token from @BotFather (`123456:ABC…`); part of every API URL.
    #[serde(default)]
    pub bot_token: Option<Secret>,
    #[serde(default)]
    pub bot_token_file: Option<PathBuf>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub webhook: TelegramWebhookConfig,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            enabled: false,
            api_base: default_telegram_api(),
            bot_token: None,
            bot_token_file: None,
            timeout_ms: default_timeout_ms(),
            webhook: TelegramWebhookConfig::default(),
        }
    }
}

/// The credential from `key` or `key_file`; `None` when neither is set.
pub fn resolve_secret(
    key: &str,
    value: &Option<Secret>,
    file: &Option<PathBuf>,
    base_dir: &Path,
) -> Result<Option<Secret>, ConfigError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            key,
            format!("set either `{key}` or `{key}_file`, not both"),
        )),
        (Some(v), None) if v.is_empty() => Err(ConfigError::invalid(key, "is empty")),
        (Some(v), None) => Ok(Some(v.clone())),
        (None, Some(path)) => {
            let path = crate::section::resolve(base_dir, path);
            // The same reader as `{ file = … }` secrets everywhere else.
            Secret::from_file(&path)
                .map(Some)
                .map_err(|e| ConfigError::invalid(&format!("{key}_file"), e))
        }
        (None, None) => Ok(None),
    }
}

/// A credential the enabled feature cannot work without.
pub fn require_secret(
    key: &str,
    value: &Option<Secret>,
    file: &Option<PathBuf>,
    base_dir: &Path,
) -> Result<Secret, ConfigError> {
    resolve_secret(key, value, file, base_dir)?
        .ok_or_else(|| ConfigError::invalid(key, format!("required (or `{key}_file`) when the channel is enabled")))
}

fn check_base_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && reqwest::Url::parse(url).is_ok_and(|u| u.host_str().is_some() && u.query().is_none());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(key, format!("`{url}` is not an http(s) base URL")))
    }
}

fn check_timeout(key: &str, ms: u64) -> Result<(), ConfigError> {
    if (100..=120_000).contains(&ms) {
        Ok(())
    } else {
        Err(ConfigError::invalid(key, "must be between 100 and 120000"))
    }
}

impl XConfig {
    pub fn validate(&self, base_dir: &Path) -> Result<(), ConfigError> {
        let active = self.enabled || self.poll.enabled || self.webhook.enabled;
        check_base_url("channels.x.api_base", &self.api_base)?;
        check_timeout("channels.x.timeout_ms", self.timeout_ms)?;
        // Secrets given must be readable even when the channel is off, so a
        // typo is caught by `pintu check` before someone turns it on.
        resolve_secret(
            "channels.x.bearer_token",
            &self.bearer_token,
            &self.bearer_token_file,
            base_dir,
        )?;
        resolve_secret(
            "channels.x.user_access_token",
            &self.user_access_token,
            &self.user_access_token_file,
            base_dir,
        )?;
        resolve_secret(
            "channels.x.webhook.consumer_secret",
            &self.webhook.consumer_secret,
            &self.webhook.consumer_secret_file,
            base_dir,
        )?;
        if !active {
            return Ok(());
        }
        if !is_tweet_id(&self.user_id) {
            return Err(ConfigError::invalid(
                "channels.x.user_id",
                "the account's numeric user id is required",
            ));
        }
        let u = &self.username;
        if u.is_empty() || u.len() > 15 || !u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(ConfigError::invalid(
                "channels.x.username",
                "the account's screen name without `@` (1–15 letters, digits, `_`) is required",
            ));
        }
        if self.poll.enabled {
            require_secret(
                "channels.x.bearer_token",
                &self.bearer_token,
                &self.bearer_token_file,
                base_dir,
            )?;
            if !(5..=100).contains(&self.poll.max_results) {
                return Err(ConfigError::invalid("channels.x.poll.max_results", "must be 5–100"));
            }
            if self.poll.interval_secs == 0 {
                return Err(ConfigError::invalid(
                    "channels.x.poll.interval_secs",
                    "must be at least 1",
                ));
            }
            if self.poll.backfill_pages == 0 {
                return Err(ConfigError::invalid(
                    "channels.x.poll.backfill_pages",
                    "must be at least 1",
                ));
            }
            if self.poll.max_backoff_secs == 0 {
                return Err(ConfigError::invalid(
                    "channels.x.poll.max_backoff_secs",
                    "must be at least 1",
                ));
            }
        }
        if self.webhook.enabled {
            if self.webhook.max_age_secs < 60 {
                return Err(ConfigError::invalid(
                    "channels.x.webhook.max_age_secs",
                    "must be at least 60 (deliveries and clocks are not instant)",
                ));
            }
            require_secret(
                "channels.x.webhook.consumer_secret",
                &self.webhook.consumer_secret,
                &self.webhook.consumer_secret_file,
                base_dir,
            )?;
        }
        if self.enabled {
            require_secret(
                "channels.x.user_access_token",
                &self.user_access_token,
                &self.user_access_token_file,
                base_dir,
            )?;
        }
        Ok(())
    }
}

impl MetaConfig {
    pub fn validate(&self, base_dir: &Path) -> Result<(), ConfigError> {
        check_base_url("channels.meta.graph_base", &self.graph_base)?;
        check_timeout("channels.meta.timeout_ms", self.timeout_ms)?;
        let v = &self.graph_version;
        if !(v.starts_with('v')
            && v.len() <= 8
            && v[1..].bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && v.len() > 1)
        {
            return Err(ConfigError::invalid(
                "channels.meta.graph_version",
                "must look like `v21.0`",
            ));
        }
        let wh = &self.webhook;
        let verify = resolve_secret(
            "channels.meta.webhook.verify_token",
            &wh.verify_token,
            &wh.verify_token_file,
            base_dir,
        )?;
        let secret = resolve_secret(
            "channels.meta.webhook.app_secret",
            &wh.app_secret,
            &wh.app_secret_file,
            base_dir,
        )?;
        for (name, p) in [
            ("whatsapp", &self.whatsapp),
            ("facebook", &self.facebook),
            ("instagram", &self.instagram),
        ] {
            let key = format!("channels.meta.{name}.access_token");
            resolve_secret(&key, &p.access_token, &p.access_token_file, base_dir)?;
            if let Some(base) = &p.graph_base {
                check_base_url(&format!("channels.meta.{name}.graph_base"), base)?;
            }
            if p.enabled {
                require_secret(&key, &p.access_token, &p.access_token_file, base_dir)?;
            }
        }
        if self.any_enabled() {
            if verify.is_none() {
                return Err(ConfigError::invalid(
                    "channels.meta.webhook.verify_token",
                    "required (or `_file`) when a Meta channel is enabled",
                ));
            }
            if secret.is_none() {
                return Err(ConfigError::invalid(
                    "channels.meta.webhook.app_secret",
                    "required (or `_file`) when a Meta channel is enabled",
                ));
            }
        }
        Ok(())
    }
}

impl TelegramConfig {
    pub fn validate(&self, base_dir: &Path) -> Result<(), ConfigError> {
        check_base_url("channels.telegram.api_base", &self.api_base)?;
        check_timeout("channels.telegram.timeout_ms", self.timeout_ms)?;
        let token = resolve_secret(
            "channels.telegram.bot_token",
            &self.bot_token,
            &self.bot_token_file,
            base_dir,
        )?;
        if let Some(t) = &token {
            // `<bot id>:<secret>`; it becomes a URL path segment.
            let ok = t.expose().split_once(':').is_some_and(|(id, rest)| {
                !id.is_empty()
                    && id.bytes().all(|b| b.is_ascii_digit())
                    && !rest.is_empty()
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
            if !ok {
                return Err(ConfigError::invalid(
                    "channels.telegram.bot_token",
                    "is not a bot token (`<id>:<secret>`)",
                ));
            }
        }
        let wh = &self.webhook;
        let secret = resolve_secret(
            "channels.telegram.webhook.secret_token",
            &wh.secret_token,
            &wh.secret_token_file,
            base_dir,
        )?;
        if let Some(s) = &secret {
            if !secret_token_ok(s.expose()) {
                return Err(ConfigError::invalid(
                    "channels.telegram.webhook.secret_token",
                    "must be 1–256 characters of A-Z, a-z, 0-9, `_` and `-`",
                ));
            }
        }
        if self.enabled {
            if token.is_none() {
                return Err(ConfigError::invalid(
                    "channels.telegram.bot_token",
                    "required (or `bot_token_file`) when the channel is enabled",
                ));
            }
            if secret.is_none() {
                return Err(ConfigError::invalid(
                    "channels.telegram.webhook.secret_token",
                    "required (or `secret_token_file`) when the channel is enabled",
                ));
            }
        }
        Ok(())
    }
}
