//! `pintu check`: everything a deployment can get wrong before it starts.

use thiserror::Error;

use crate::config::Config;
use crate::replies::Templates;

#[derive(Debug, Error)]
pub enum CheckError {
    #[error("`replies.templates`: {0}")]
    Templates(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Channel(String),
    #[error("routing tables: {0}")]
    Routing(String),
}

/// Validate files named by the config (the config itself was validated on
/// load); returns warnings (weak secrets tolerated on loopback only).
pub fn check(cfg: &Config) -> Result<Vec<String>, CheckError> {
    crate::serve::sms_mounts(cfg)?;
    crate::routing::validate_config(cfg).map_err(|e| CheckError::Routing(e.to_string()))?;
    crate::social::webhook_adapters(cfg).map_err(|e| CheckError::Channel(e.to_string()))?;
    crate::social::reply_transports(cfg).map_err(|e| CheckError::Channel(e.to_string()))?;
    crate::email::reply_transport(cfg).map_err(|e| CheckError::Channel(e.to_string()))?;
    crate::status::validate(cfg).map_err(|e| CheckError::Channel(e.to_string()))?;
    if cfg.replies.enabled {
        Templates::load(&cfg.resolve(&cfg.replies.templates)).map_err(|e| CheckError::Templates(e.to_string()))?;
    }
    Ok(cfg.audit_secrets()?)
}
