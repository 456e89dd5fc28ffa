//! The loop back to the citizen (docs/status.md): agencies post status
//! updates (AMQP `<prefix>.status` or `POST /agency/v1/updates`), the gateway
//! records them durably per complaint and tells the citizen on the channel
//! they used; `bukan_wewenang` re-routes, `selesai` asks PUAS/BELUM; the
//! citizen can ask `CEK LPR-…` and only the sender is answered.
//!
//! - [`contract`]: the update, the stages and the [`contract::StageChange`]
//!   event others (working-day deadlines) observe via
//!   [`store::StatusStore::subscribe`];
//! - [`record`], [`apply`], [`store`]: what is kept and how it changes;
//! - [`notify`], [`templates`], [`directory`]: what the citizen reads;
//! - [`consumer`], [`outbox`], [`topology`]: the broker side;
//! - [`agency_api`]: the HTTP API for agencies without AMQP;
//! - [`citizen`], [`query`]: contacts and queries from intake.

pub(crate) mod agency_api;
mod apply;
mod citizen;
pub mod config;
mod consumer;
mod contract;
mod directory;
mod notify;
pub mod ops;
mod outbox;
mod query;
mod record;
mod service;
mod sla_feed;
mod store;
mod templates;
pub mod topology;
pub mod webhook;

use std::sync::Arc;

use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use contract::{Stage, StageChange, StatusUpdate, UpdateStatus};
pub use record::Record;
pub use service::StatusService;
pub use store::StatusStore;

use crate::broker::PublishError;
use crate::config::Config;

#[derive(Debug, Error)]
pub enum StatusError {
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A record serde_json does not read back.
    #[error("corrupt record in `{tree}`: {source}")]
    Corrupt {
        tree: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("status transaction aborted")]
    Aborted,
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("publish: {0}")]
    Publish(#[source] PublishError),
    #[error("a routed complaint without its routing")]
    NotRouted,
    #[error("{0}")]
    Setup(String),
    /// A file `[status]` names could not be read or parsed.
    #[error("{path}: {source}")]
    File {
        path: String,
        #[source]
        source: FileError,
    },
}

/// Why a `[status]` file (templates, agency directory) was refused.
#[derive(Debug, Error)]
pub enum FileError {
    #[error("{0}")]
    Read(#[source] std::io::Error),
    #[error("{0}")]
    Toml(#[source] toml::de::Error),
    #[error("{0}")]
    Csv(#[source] csv::Error),
}

/// Shortest agency credential accepted (as for every secret Pintu verifies).
pub const MIN_SECRET_LEN: usize = 16;

/// Check `[status]`: templates and directory load, every agency code is a
/// code, has a credential, no credential is short, a webhook has its key.
pub fn validate(cfg: &Config) -> Result<(), StatusError> {
    if !cfg.status.enabled {
        return Ok(());
    }
    templates::StatusTemplates::load(&cfg.resolve(&cfg.status.templates))?;
    directory::Directory::load(&cfg.resolve(&cfg.status.units), &crate::routing::wilayah_dir(cfg))?;
    for (code, a) in &cfg.status.agencies {
        let key = |k: &str| format!("status.agencies.\"{code}\".{k}");
        if !contract::is_agency_code(code) {
            return Err(StatusError::Setup(format!(
                "`status.agencies`: {code:?} is not an agency code"
            )));
        }
        if a.token.is_none() && a.hmac_key.is_none() {
            return Err(StatusError::Setup(format!("`{}`: set token or hmac_key", key("token"))));
        }
        for (name, s) in [
            ("token", &a.token),
            ("hmac_key", &a.hmac_key),
            ("webhook_key", &a.webhook_key),
        ] {
            if s.as_ref().is_some_and(|s| s.expose().chars().count() < MIN_SECRET_LEN) {
                return Err(StatusError::Setup(format!(
                    "`{}`: shorter than {MIN_SECRET_LEN} characters",
                    key(name)
                )));
            }
        }
        match (&a.webhook_url, &a.webhook_key) {
            (Some(u), Some(_)) if u.starts_with("https://") || u.starts_with("http://") => {}
            (Some(_), Some(_)) => {
                return Err(StatusError::Setup(format!(
                    "`{}`: not an http(s) URL",
                    key("webhook_url")
                )))
            }
            (Some(_), None) => {
                return Err(StatusError::Setup(format!(
                    "`{}`: required with webhook_url",
                    key("webhook_key")
                )))
            }
            (None, _) => {}
        }
    }
    Ok(())
}

/// Declare the status objects now, if the broker answers within a few
/// seconds: the routed-copy queue must be bound before the router routes the
/// first complaint, or that complaint's copy is never made. With the broker
/// away the gateway starts anyway (intake must not wait for it); the
/// consumers declare them once it is back, and `deploy/` declares them too.
async fn declare_early(cfg: &Config) {
    let attempt = async {
        let conn = crate::broker::connect(&cfg.amqp, "pintu-status-declare").await?;
        let ch = conn.create_channel().await?;
        topology::declare(&cfg.amqp, &ch).await?;
        let _ = conn.close(200, "declared".into()).await;
        Ok::<_, lapin::Error>(())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(5), attempt).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "status topology not declared at start"),
        Err(_) => tracing::warn!("status topology not declared at start: broker did not answer"),
    }
}

/// Build the status service on the gateway's store and start its broker
/// tasks (consumers and the status outbox drain).
pub async fn start(
    cfg: Arc<Config>,
    gateway: &crate::store::Store,
    shutdown: CancellationToken,
) -> Result<(Arc<StatusService>, Vec<JoinHandle<()>>), StatusError> {
    let hooked = cfg
        .status
        .agencies
        .iter()
        .filter(|(_, a)| a.webhook_url.is_some() && a.webhook_key.is_some())
        .map(|(code, _)| code.clone());
    validate(&cfg)?;
    declare_early(&cfg).await;
    let store = StatusStore::open(gateway)?
        .with_webhooks(hooked)
        .with_sla_events(cfg.sla.enabled);
    let notifier = notify::Notifier {
        templates: templates::StatusTemplates::load(&cfg.resolve(&cfg.status.templates))?,
        directory: directory::Directory::load(&cfg.resolve(&cfg.status.units), &crate::routing::wilayah_dir(&cfg))?,
    };
    let reroute: service::RerouteFn = match crate::routing::Engine::from_config(&cfg) {
        Ok(engine) => {
            let opts = crate::routing::RouteOptions::from_config(&cfg);
            Box::new(move |c, ex| crate::routing::reroute::next_best(&engine, &opts, c, ex))
        }
        Err(e) => {
            tracing::warn!(error = %e, "routing tables not loaded: bukan_wewenang goes to triage");
            Box::new(|_, ex| ("triage".into(), format!("excluded {}: triage desk", ex.join(", "))))
        }
    };
    let hasher = citizen::SenderKey::open(&cfg.gateway_data_dir())?;
    let svc = Arc::new(StatusService::new(
        cfg.clone(),
        store.clone(),
        notifier,
        reroute,
        hasher,
    ));
    let tasks = vec![
        tokio::spawn(consumer::run(svc.clone(), shutdown.clone())),
        tokio::spawn(outbox::run(store, cfg.amqp.clone(), shutdown.clone())),
        tokio::spawn(webhook::run(svc.clone(), shutdown)),
    ];
    Ok((svc, tasks))
}

#[cfg(test)]
mod tests {
    use super::config::AgencyAuth;
    use super::*;

    #[test]
    fn validate_names_the_bad_key() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut cfg = Config::load(&repo.join("config/pintu.toml")).unwrap();
        cfg.status.enabled = true;
        assert!(validate(&cfg).is_ok(), "shipped files load");
        let auth = |t: &str, url: Option<&str>, key: Option<&str>| AgencyAuth {
            token: Some(t.into()),
            hmac_key: None,
            webhook_url: url.map(str::to_string),
            webhook_key: key.map(Into::into),
        };
        cfg.status
            .agencies
            .insert("3273.dpupr".into(), auth("short", None, None));
        let e = validate(&cfg).unwrap_err().to_string();
        assert!(e.contains("status.agencies.\"3273.dpupr\".token"), "{e}");
        let long = "0123456789abcdef0123";
        cfg.status
            .agencies
            .insert("3273.dpupr".into(), auth(long, Some("https://x.go.id/h"), None));
        assert!(validate(&cfg).unwrap_err().to_string().contains("webhook_key"));
        cfg.status
            .agencies
            .insert("3273.dpupr".into(), auth(long, Some("ftp://x"), Some(long)));
        assert!(validate(&cfg).unwrap_err().to_string().contains("webhook_url"));
        cfg.status
            .agencies
            .insert("3273.dpupr".into(), auth(long, Some("https://x.go.id/h"), Some(long)));
        assert!(validate(&cfg).is_ok());
        cfg.status.agencies.insert("Dinas PUPR".into(), auth(long, None, None));
        assert!(validate(&cfg).unwrap_err().to_string().contains("not an agency code"));
    }
}
