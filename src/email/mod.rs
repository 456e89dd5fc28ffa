//! The e-mail channel: IMAP mailboxes in, SMTP acknowledgements out.
//!
//! `serve` calls [`spawn`] for the pollers (one OS thread per mailbox: the
//! IMAP client is blocking, and a thread parked in IDLE costs nothing while
//! keeping the async runtime free) and [`reply_transport`] for the
//! [`ReplyTransport`] the reply sender uses for provider `imap`.
//!
//! Parsing is pure and lives in `pintu_channels::email`; this module owns
//! the network, the durable state (progress, seen ids, quarantine records,
//! reply quotas), the content-addressed files and their retention, and the
//! replay of quarantined mail.

mod batch;
pub mod blobs;
pub mod config;
mod imap;
mod ingest;
pub mod mailbox;
pub mod parse_worker;
pub mod poller;
pub mod quarantine;
pub(crate) mod replay;
mod retention;
mod smtp;
pub mod state;
mod validate;

use std::sync::Arc;
use std::time::Duration;

use pintu_channels::email::ParseOptions;
use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::intake::Intake;
use crate::replies::ReplyTransport;
use crate::store::dedupe::SenderHasher;

pub use config::EmailConfig;
pub use imap::ImapMailbox;

#[derive(Debug, Error)]
pub enum EmailError {
    #[error("e-mail configuration: {0}")]
    Config(String),
    /// Configuration a library refused (a CA file, an address); `what`
    /// names the setting.
    #[error("e-mail configuration: {what}: {source}")]
    Setup {
        what: String,
        #[source]
        source: mailbox::Cause,
    },
    #[error("e-mail state: {0}")]
    Sled(#[from] sled::Error),
    #[error("e-mail state: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("starting the e-mail poller: {0}")]
    Io(#[from] std::io::Error),
}

/// Parser options for one mailbox.
pub fn parse_options(email: &EmailConfig, mailbox_address: &str) -> ParseOptions {
    ParseOptions {
        limits: email.limits.to_parser(),
        mailbox_address: mailbox_address.to_string(),
        loop_id: email.effective_loop_id(),
        ack_domain: email.effective_ack_domain(),
    }
}

/// The mailbox config with `password_file` and `ca_file` resolved against
/// the config file's directory, like every other path in the config.
fn resolved_mailbox(cfg: &Config, m: &config::MailboxConfig) -> config::MailboxConfig {
    let mut m = m.clone();
    m.password_file = m.password_file.as_deref().map(|p| cfg.resolve(p));
    m.ca_file = m.ca_file.as_deref().map(|p| cfg.resolve(p));
    m
}

/// Build a poller for one configured mailbox (also used by tests and the benchmark).
pub fn poller(
    cfg: &Config,
    mailbox: &config::MailboxConfig,
    intake: Arc<Intake>,
    shutdown: CancellationToken,
    rt: tokio::runtime::Handle,
) -> Result<poller::Poller, EmailError> {
    let email = &cfg.channels.email;
    let gateway = cfg.gateway_data_dir();
    let hasher =
        SenderHasher::load_or_create(cfg.dedupe.secret.as_ref().map(pintu_channels::Secret::expose), &gateway)?;
    Ok(poller::Poller {
        cfg: Arc::new(resolved_mailbox(cfg, mailbox)),
        parse_opts: parse_options(email, &mailbox.address),
        state: state::EmailState::open(intake.db(), hasher)?,
        blobs: blobs::BlobStore::open(&gateway)?,
        intake,
        daily_limit: email.smtp.as_ref().map(|s| s.daily_limit_per_sender),
        seen_retention: Duration::from_secs(email.seen_retention_days * 86_400),
        rt,
        shutdown,
        max_backoff: Duration::from_secs(60),
        parse_budget: Duration::from_millis(email.limits.parse_timeout_ms),
        parser: Default::default(),
    })
}

/// Start one poller per configured mailbox. Each returned task ends after
/// its poller thread has stopped (after `shutdown` is cancelled), so awaiting
/// them is a clean stop. Nothing is started when the channel is disabled.
pub fn spawn(
    cfg: &Config,
    intake: Arc<Intake>,
    shutdown: CancellationToken,
) -> Result<Vec<JoinHandle<()>>, EmailError> {
    let email = &cfg.channels.email;
    if !email.enabled {
        return Ok(Vec::new());
    }
    let rt = tokio::runtime::Handle::try_current()
        .map_err(|_| EmailError::Config("spawn must be called inside the tokio runtime".into()))?;
    let mut handles = Vec::new();
    // One store for every mailbox, so their writes count against one quota.
    let blobs = blobs::BlobStore::open(&cfg.gateway_data_dir())?;
    handles.push(tokio::spawn(retention::run(
        blobs.clone(),
        email.storage.clone(),
        shutdown.clone(),
    )));
    for mb in &email.mailboxes {
        let mut p = poller(cfg, mb, intake.clone(), shutdown.clone(), rt.clone())?;
        p.blobs = blobs.clone();
        // Fail at start, not at the first connect, when a secret is missing.
        p.cfg.credentials().password().map_err(EmailError::Config)?;
        let slot: imap::SocketSlot = Default::default();
        let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
        let conn_cfg = p.cfg.clone();
        let thread_slot = slot.clone();
        std::thread::Builder::new()
            .name(format!("imap-{}", mb.name))
            .spawn(move || {
                p.run(|| {
                    imap::ImapMailbox::connect(conn_cfg.clone(), &thread_slot)
                        .map(|m| Box::new(m) as Box<dyn mailbox::Mailbox>)
                });
                let _ = done_tx.send(());
            })?;
        let token = shutdown.clone();
        handles.push(tokio::spawn(async move {
            tokio::select! {
                _ = &mut done_rx => {}
                _ = token.cancelled() => {
                    // Unblock IDLE or a long read; repeat in case the poller was
                    // connecting at that moment and opened a new socket.
                    loop {
                        imap::interrupt(&slot);
                        match tokio::time::timeout(Duration::from_secs(1), &mut done_rx).await {
                            Ok(_) => break,
                            Err(_) => continue,
                        }
                    }
                }
            }
        }));
    }
    Ok(handles)
}

/// The SMTP [`ReplyTransport`] (provider `imap`), or `None` without `[channels.email.smtp]`.
pub fn reply_transport(cfg: &Config) -> Result<Option<Arc<dyn ReplyTransport>>, EmailError> {
    let mut email = cfg.channels.email.clone();
    if let Some(s) = email.smtp.as_mut() {
        s.password_file = s.password_file.as_deref().map(|p| cfg.resolve(p));
        s.ca_file = s.ca_file.as_deref().map(|p| cfg.resolve(p));
    }
    smtp::transport(&email)
}

/// The e-mail family (IMAP mailboxes in, SMTP out): its face towards the
/// gateway ([`crate::channel`]). It mounts no webhook.
pub struct Email;

impl crate::channel::Family for Email {
    fn name(&self) -> &'static str {
        "email"
    }

    fn build(&self, cfg: &Config) -> Result<crate::channel::ChannelParts, crate::channel::ChannelError> {
        let transport = reply_transport(cfg).map_err(crate::channel::ChannelError::family)?;
        Ok(crate::channel::ChannelParts {
            mounts: Vec::new(),
            transports: transport.into_iter().collect(),
        })
    }

    fn spawn(
        &self,
        cfg: &Config,
        intake: &Arc<Intake>,
        shutdown: &CancellationToken,
    ) -> Result<Vec<JoinHandle<()>>, crate::channel::ChannelError> {
        spawn(cfg, intake.clone(), shutdown.clone()).map_err(crate::channel::ChannelError::family)
    }
}
