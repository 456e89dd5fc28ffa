//! `pintu check`: everything a deployment can get wrong before it starts.

use thiserror::Error;

use crate::channel::ChannelError;
use crate::config::Config;
use crate::replies::templates::TemplateError;
use crate::replies::Templates;
use crate::routing::RoutingError;

#[derive(Debug, Error)]
pub enum CheckError {
    #[error("`replies.templates`")]
    Templates(#[source] TemplateError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("routing tables")]
    Routing(#[source] RoutingError),
    #[error("sla")]
    Sla(#[from] crate::sla::SlaError),
    #[error("`status`")]
    Status(#[source] crate::status::StatusError),
}

/// Validate files named by the config (the config itself was validated on
/// load); returns warnings (weak secrets tolerated on loopback only).
pub fn check(cfg: &Config) -> Result<Vec<String>, CheckError> {
    // Every family builds its webhooks and reply transports, as `serve`
    // would, then drops them.
    for family in crate::families::all() {
        family.check(cfg)?;
    }
    crate::routing::validate_config(cfg).map_err(CheckError::Routing)?;
    crate::status::validate(cfg).map_err(CheckError::Status)?;
    if cfg.replies.enabled {
        Templates::load(&cfg.resolve(&cfg.replies.templates)).map_err(CheckError::Templates)?;
    }
    let mut warnings = cfg.audit_secrets()?;
    warnings.extend(crate::sla::check(cfg)?);
    Ok(warnings)
}
