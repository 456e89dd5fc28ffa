//! Replaying a quarantined message: an operator looked at it and decided it
//! is a citizen's complaint after all (`pintu quarantine replay <id>`, or
//! `POST /ops/api/quarantine/<id>/replay`).
//!
//! The raw copy is parsed again and ingested as if the poller had accepted
//! it, except that the reason it was quarantined no longer counts. Its reply
//! suppression does: an out-of-office is still not answered (RFC 3834), the
//! operator only decided it is a complaint. Replaying twice gives the same
//! tracking code (the record remembers it, and intake's dedupe would too).
//! The message itself stays in the quarantine folder; the record says it
//! was replayed and as which complaint.

use std::sync::Arc;
use std::time::Duration;

use pintu_channels::email::{parse_message, ParsedEmail, Rejection};
use thiserror::Error;
use tracing::{info, info_span, Instrument};

use super::blobs::BlobStore;
use super::poller::{now_secs, wib_day};
use super::state::{EmailState, SeenCheck};
use crate::config::Config;
use crate::intake::{Intake, IntakeError};
use crate::store::dedupe::SenderHasher;
use crate::store::StoreError;

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("no quarantined message with id {0}")]
    NotFound(String),
    #[error("the raw copy of {id} is not available: {why}")]
    NoRawCopy { id: String, why: String },
    #[error("the message still cannot be a complaint: {0}")]
    Rejected(#[source] Rejection),
    #[error("parsing took longer than {0} ms again")]
    ParseTimeout(u64),
    #[error("intake: {0}")]
    Intake(#[source] IntakeError),
    /// The e-mail state (quarantine records, seen ids, quotas).
    #[error("e-mail state: {0}")]
    Sled(#[from] sled::Error),
    /// The gateway's store (the sender key, flushing what intake wrote).
    #[error("e-mail state: {0}")]
    Store(#[source] StoreError),
    /// The content-addressed files.
    #[error("e-mail state: {0}")]
    Blobs(#[source] std::io::Error),
    /// The blocking parse task did not finish (it panicked).
    #[error("e-mail state: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// The complaint a replay produced (or had produced before).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplayOutcome {
    pub id: String,
    pub tracking: String,
    /// True when the message had been replayed or ingested before.
    pub duplicate: bool,
}

/// Replay the quarantined message `id`; see the module docs.
pub async fn replay(cfg: &Config, intake: &Arc<Intake>, id: &str) -> Result<ReplayOutcome, ReplayError> {
    let email = &cfg.channels.email;
    let gateway = cfg.gateway_data_dir();
    let hasher = SenderHasher::load_or_create(cfg.dedupe.secret.as_ref().map(pintu_channels::Secret::expose), &gateway)
        .map_err(ReplayError::Store)?;
    let state = EmailState::open(intake.db(), hasher)?;
    let rec = state
        .quarantine()
        .find(id)?
        .ok_or_else(|| ReplayError::NotFound(id.to_string()))?;
    if let Some(r) = &rec.replayed {
        return Ok(ReplayOutcome {
            id: rec.id.clone(),
            tracking: r.tracking.clone(),
            duplicate: true,
        });
    }
    let no_raw = |why: &str| ReplayError::NoRawCopy {
        id: rec.id.clone(),
        why: why.to_string(),
    };
    let sha = rec
        .raw_sha256
        .clone()
        .ok_or_else(|| no_raw(&format!("never downloaded ({})", rec.reason)))?;
    let blobs = BlobStore::open(&gateway).map_err(ReplayError::Blobs)?;
    let raw = std::fs::read(blobs.raw_path(&sha)).map_err(|e| no_raw(&format!("{e} (deleted by retention?)")))?;
    let address = email
        .mailboxes
        .iter()
        .find(|m| m.name == rec.mailbox)
        .or(email.mailboxes.first())
        .map(|m| m.address.clone())
        .unwrap_or_default();
    let opts = super::parse_options(email, &address);
    let budget = email.limits.parse_timeout_ms;
    // Parse and store the attachments off the runtime; the budget is
    // enforced on the wait (a parse itself cannot be interrupted).
    let b = blobs.clone();
    let work = tokio::task::spawn_blocking(move || -> Result<Result<ParsedEmail, Rejection>, std::io::Error> {
        let parsed = parse_message(&raw, &opts);
        if let Ok(p) = &parsed {
            for blob in &p.blobs {
                b.put_attachment(&blob.sha256, &blob.bytes)?;
            }
            b.sync()?;
        }
        Ok(parsed)
    });
    let parsed = match tokio::time::timeout(Duration::from_millis(budget), work).await {
        Err(_) => return Err(ReplayError::ParseTimeout(budget)),
        Ok(Err(e)) => return Err(ReplayError::Task(e)),
        Ok(Ok(Err(e))) => return Err(ReplayError::Blobs(e)),
        Ok(Ok(Ok(p))) => p.map_err(ReplayError::Rejected)?,
    };
    let now = now_secs();
    let ext = parsed.inbound.external_id.clone().unwrap_or_default();
    let from = parsed.inbound.sender.address.clone();
    // The raw copy is what is replayed: these bytes were fetched before.
    if let SeenCheck::Seen(seen) = state.seen(&from, &ext, true, now)? {
        state.quarantine().mark_replayed(&rec.id, &seen.tracking, now)?;
        return Ok(ReplayOutcome {
            id: rec.id,
            tracking: seen.tracking,
            duplicate: true,
        });
    }
    let mut inbound = parsed.inbound;
    if inbound.in_reply_to.is_none() {
        inbound.in_reply_to = parsed.ack_reference.filter(|c| intake.tracking_exists(c));
    }
    inbound
        .reply_context
        .insert("replayed_from_quarantine".into(), rec.id.clone());
    if let (None, Some(smtp)) = (parsed.suppress, &email.smtp) {
        let day = wib_day(now);
        if !state.take_reply_quota(&inbound.sender.address, day, smtp.daily_limit_per_sender)? {
            inbound
                .reply_context
                .insert("suppress_reply".into(), "rate_limited".into());
        }
    }
    let span = info_span!("email_replay", quarantine_id = %rec.id, reason = %rec.reason);
    let receipt = intake
        .accept(inbound)
        .instrument(span)
        .await
        .map_err(ReplayError::Intake)?;
    let tracking = receipt.tracking.clone().unwrap_or_default();
    let expires = now + email.seen_retention_days * 86_400;
    state.mark_seen(&from, &ext, &tracking, expires)?;
    state.quarantine().mark_replayed(&rec.id, &tracking, now)?;
    intake.store().flush().await.map_err(ReplayError::Store)?;
    info!(quarantine_id = %rec.id, complaint_id = ?receipt.id, tracking = %tracking, "quarantined message replayed");
    Ok(ReplayOutcome {
        id: rec.id,
        tracking,
        duplicate: receipt.duplicate,
    })
}
