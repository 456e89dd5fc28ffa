//! The face every channel family shows the gateway.
//!
//! A family (SMS, e-mail, social — and the next one) owns its config section,
//! its secrets, its inbound adapters (webhooks mounted on the HTTP server, or
//! pollers running as tasks) and its outbound reply transports, and exposes
//! them through [`Family`]. `pintu serve` ([`crate::serve`]) and `pintu
//! check` ([`crate::check`]) loop over [`crate::families::all`]; neither names
//! a provider. Adding a channel: a module implementing [`Family`] and one
//! line in [`crate::families`]. See `docs/architecture.md` for where the
//! pure (`pintu-channels`) and runtime (this crate) halves of a provider live.
//!
//! Building takes two steps, not one: intake needs every reply transport's
//! provider before it exists (it queues a reply only for a provider that can
//! send it), and the pollers need intake. [`Family::build`] is therefore
//! everything that needs only the config — and is what `pintu check` runs —
//! and [`Family::spawn`] starts the tasks once intake runs.

use std::sync::Arc;

use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError};
use crate::http::Mount;
use crate::intake::Intake;
use crate::replies::ReplyTransport;

/// What a family contributes before intake starts.
#[derive(Default)]
pub struct ChannelParts {
    /// Webhooks, mounted on the gateway's HTTP server.
    pub mounts: Vec<Mount>,
    /// Reply transports, one per provider that can answer the citizen.
    pub transports: Vec<Arc<dyn ReplyTransport>>,
}

/// Why a family could not be built or started. Every variant keeps the
/// underlying error as its source; messages are the family's own.
#[derive(Debug, Error)]
pub enum ChannelError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A family's own error (`EmailError`, `SocialError`), unchanged.
    #[error(transparent)]
    Family(Box<dyn std::error::Error + Send + Sync>),
}

impl ChannelError {
    pub fn family(e: impl std::error::Error + Send + Sync + 'static) -> ChannelError {
        ChannelError::Family(Box::new(e))
    }
}

/// One channel family; see the module docs.
pub trait Family: Send + Sync {
    /// `sms`, `email`, `social`: for log lines.
    fn name(&self) -> &'static str;

    /// Webhooks and reply transports of the enabled providers, built from the
    /// config alone (a missing credential fails here, before anything starts).
    fn build(&self, cfg: &Config) -> Result<ChannelParts, ChannelError>;

    /// Start the family's tasks (pollers) feeding `intake`; each task ends
    /// after `shutdown` is cancelled. Most webhook-only families have none.
    fn spawn(
        &self,
        _cfg: &Config,
        _intake: &Arc<Intake>,
        _shutdown: &CancellationToken,
    ) -> Result<Vec<JoinHandle<()>>, ChannelError> {
        Ok(Vec::new())
    }

    /// What `pintu check` runs: by default, build and drop.
    fn check(&self, cfg: &Config) -> Result<(), ChannelError> {
        self.build(cfg).map(drop)
    }
}
