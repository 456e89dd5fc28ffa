//! What every config section shares: the error that names the key
//! (`channels.kannel.token`) and the resolution of relative paths.
//!
//! Each part of the gateway owns the section of `pintu.toml` it reads
//! (`broker::AmqpConfig`, `sms::KannelConfig`, `email::config::EmailConfig`,
//! …); [`crate::config`] only composes them. This module sits below all of
//! them, so no section imports the composed `Config` (which imports them).

use std::path::{Path, PathBuf};

use thiserror::Error;
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

/// A path from the config, resolved against the config file's directory
/// (`base_dir`) unless absolute. The one rule for every relative path in the
/// config: templates, routing tables, `*_file` secrets.
pub fn resolve(base_dir: &Path, p: &Path) -> PathBuf {
    pintu_channels::secret::resolve(base_dir, p)
}

/// `#[serde(default = "crate::section::default_true")]`.
pub(crate) fn default_true() -> bool {
    true
}
