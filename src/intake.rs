//! The intake pipeline: inbound message → complaint → dedupe + outbox, durable.
//!
//! [`Intake::accept`] returns only after the complaint (and its reply) is
//! written and flushed, so whatever a channel acknowledges to its provider
//! after this call can never be lost. The relay takes it from the outbox.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use pintu_channels::normalize::{fingerprint_text, strip_markers};
use pintu_channels::{Inbound, Receipt, SenderKind};
use sled::transaction::{TransactionError, Transactional};
use thiserror::Error;
use tracing::{debug, info_span, warn, Instrument};

use crate::broker::Names;
use crate::complaint::{Complaint, Flags, SCHEMA_VERSION};
use crate::obs::mask;
use crate::relay::FeedTx;
use crate::replies::{OutboundReply, Templates};
use crate::store::dedupe::{provider_id_reuse, provider_key, sender_key, Record, Reuse, SenderHasher};
use crate::store::outbox::{new_key, Envelope, Target};
use crate::store::parts::{group_key, part_key, Group};
use crate::store::writer::{Job, Outcome as WriteOutcome, Staged, Writer};
use crate::store::{Store, StoreError};
use crate::tracking;

#[derive(Debug, Error)]
pub enum IntakeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("storage transaction aborted")]
    Aborted,
}

impl From<sled::Error> for IntakeError {
    fn from(e: sled::Error) -> Self {
        IntakeError::Store(StoreError::Sled(e))
    }
}

pub struct Intake {
    store: Store,
    writer: Writer,
    hasher: SenderHasher,
    templates: Option<Arc<Templates>>,
    /// Providers that have a reply transport; no reply is queued for others
    /// (it could only end up dead-lettered).
    reply_providers: HashSet<String>,
    window: Duration,
}

/// Parts to delete when a concatenated SMS is assembled.
struct PartsCleanup {
    group: Vec<u8>,
    parts: Vec<Vec<u8>>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Intake {
    pub fn new(
        store: Store,
        hasher: SenderHasher,
        templates: Option<Arc<Templates>>,
        window: Duration,
        // The relay's feed: the intake writer announces what it committed.
        feed: FeedTx,
    ) -> Intake {
        let writer = Writer::start(&store, feed);
        Intake {
            store,
            writer,
            hasher,
            templates,
            reply_providers: HashSet::new(),
            window,
        }
    }

    /// Declare which providers can send replies (see `reply_providers`).
    pub fn with_reply_providers(mut self, providers: impl IntoIterator<Item = String>) -> Intake {
        self.reply_providers = providers.into_iter().collect();
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The gateway's sled database, for channel state (IMAP progress, X cursor)
    /// kept in the same process.
    pub fn db(&self) -> &sled::Db {
        &self.store.db
    }

    pub fn tracking_exists(&self, code: &str) -> bool {
        tracking::is_valid(code) && self.store.codes.issued(code)
    }

    /// Make one inbound message durable; see the module docs.
    pub async fn accept(&self, inbound: Inbound) -> Result<Receipt, IntakeError> {
        let labels = [
            ("channel", inbound.channel.as_str().to_string()),
            ("provider", inbound.provider.clone()),
        ];
        let receipt = match inbound.segment {
            Some(seg) if seg.total > 1 => self.accept_part(inbound).await?,
            _ => self.accept_whole(inbound, 1, false, None).await?,
        };
        if receipt.duplicate {
            metrics::counter!("pintu_duplicates_total", &labels).increment(1);
        } else if receipt.tracking.is_some() {
            metrics::counter!("pintu_received_total", &labels).increment(1);
        } else {
            metrics::counter!("pintu_sms_parts_waiting_total", &labels).increment(1);
        }
        crate::ops::stats::global().intake(&labels[0].1, &receipt);
        Ok(receipt)
    }

    async fn accept_whole(
        &self,
        mut inbound: Inbound,
        parts: u32,
        partial: bool,
        cleanup: Option<PartsCleanup>,
    ) -> Result<Receipt, IntakeError> {
        let now = now_secs();
        let expires_at = now + self.window.as_secs();
        let fingerprint = fingerprint_of(&inbound);
        let mut keys = Vec::with_capacity(2);
        let mut reuse = None;
        if let Some(ext) = inbound.external_id.as_deref() {
            keys.push(provider_key(
                &self.hasher,
                &inbound.provider,
                &inbound.sender.address,
                ext,
            ));
            reuse = self.provider_id_reuse(&inbound, ext, now);
        }
        keys.push(sender_key(&self.hasher, &inbound.sender.address, &fingerprint));
        let (flags, _) = strip_markers(&inbound.text);
        if inbound.in_reply_to.is_none() {
            inbound.in_reply_to = self.find_reply_target(&inbound);
        }
        // Before the id is minted: ids carry the time of acceptance.
        self.store.flow.admit().await;
        let id = ulid::Ulid::new().to_string();
        let span = info_span!("intake", complaint_id = %id, channel = %inbound.channel, provider = %inbound.provider);
        async move {
            let (code_number, code) = self.store.codes.issue()?;
            let complaint = Complaint {
                schema: SCHEMA_VERSION,
                id: id.clone(),
                tracking: code.clone(),
                received_at: Utc::now(),
                channel: inbound.channel,
                provider: inbound.provider.clone(),
                external_id: inbound.external_id.clone(),
                sender: Some(inbound.sender.clone()),
                recipient: inbound.recipient.clone(),
                subject: inbound.subject.clone(),
                text: inbound.text.clone(),
                attachments: inbound.attachments.clone(),
                flags: Flags {
                    confidential: flags.confidential,
                    anonymous: flags.anonymous,
                    partial,
                },
                in_reply_to: inbound.in_reply_to.clone(),
                parts,
                fingerprint,
                routing: None,
            };
            let mut outbox = vec![Staged::new(
                new_key(),
                Envelope {
                    target: Target::Intake,
                    routing_key: Names::intake_key(inbound.channel.as_str()),
                    message_id: id.clone(),
                    body: serde_json::to_vec(&complaint).unwrap_or_default(),
                },
            )];
            if let Some(reply) = self.reply_for(&inbound, &complaint) {
                outbox.push(Staged::new(
                    new_key(),
                    Envelope {
                        target: Target::Outbound,
                        routing_key: Names::outbound_key(reply.channel.as_str(), &reply.provider),
                        message_id: reply.id.clone(),
                        body: serde_json::to_vec(&reply).unwrap_or_default(),
                    },
                ));
            }
            let record = Record {
                id: id.clone(),
                tracking: code.clone(),
                expires_at,
            }
            .encode();
            let job = Job {
                dedupe_keys: keys,
                record,
                now,
                code_number,
                outbox,
                cleanup: cleanup.map(|c| (c.group, c.parts)),
            };
            // The writer answers once the batch holding this job is flushed,
            // for duplicates too (the original may have been in that batch).
            // It has counted and announced the entries by then: nothing after
            // this await may be needed for the complaint to reach the broker,
            // because this future is dropped when the client goes away.
            match self.writer.write(job).await? {
                WriteOutcome::Inserted => {
                    if let Some(reuse) = reuse {
                        log_reuse(&inbound, &reuse);
                    }
                    // The tracking code only: beside even a masked sender it
                    // ties a complaint to a person (the span has the id).
                    debug!(tracking = %code, "complaint accepted");
                    Ok(Receipt {
                        id: Some(id),
                        tracking: Some(code),
                        duplicate: false,
                    })
                }
                WriteOutcome::Duplicate(r) => {
                    debug!(tracking = %r.tracking, original = %r.id, "duplicate");
                    Ok(Receipt {
                        id: Some(r.id),
                        tracking: Some(r.tracking),
                        duplicate: true,
                    })
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Whether this message's provider id is on record for someone else (see
    /// [`crate::store::dedupe::provider_id_reuse`]); only for the log, so a
    /// read error is logged and otherwise ignored.
    fn provider_id_reuse(&self, inbound: &Inbound, ext: &str, now: u64) -> Option<Reuse> {
        let legacy = self.store.legacy_provider_keys.load(Ordering::Relaxed);
        let dedupe = &self.store.dedupe;
        match provider_id_reuse(
            dedupe,
            &self.hasher,
            &inbound.provider,
            &inbound.sender.address,
            ext,
            now,
            legacy,
        ) {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "could not read dedupe records for the provider id check");
                None
            }
        }
    }

    /// A tracking code quoted in the subject or text that we issued.
    fn find_reply_target(&self, inbound: &Inbound) -> Option<String> {
        let candidates = [inbound.subject.as_deref(), Some(inbound.text.as_str())];
        candidates
            .into_iter()
            .flatten()
            .filter_map(tracking::find_in)
            .find(|code| self.tracking_exists(code))
    }

    fn reply_for(&self, inbound: &Inbound, complaint: &Complaint) -> Option<OutboundReply> {
        let templates = self.templates.as_ref()?;
        if !self.reply_providers.contains(&inbound.provider) {
            metrics::counter!("pintu_replies_skipped_total", "reason" => "no transport").increment(1);
            return None;
        }
        if inbound.reply_context.contains_key("suppress_reply")
            || matches!(inbound.sender.kind, SenderKind::Shortcode | SenderKind::Alphanumeric)
        {
            return None;
        }
        let followup = complaint.in_reply_to.is_some();
        let shown = complaint.in_reply_to.as_deref().unwrap_or(&complaint.tracking);
        let (subject, text) = templates.render(inbound.channel.as_str(), shown, followup);
        Some(OutboundReply {
            id: ulid::Ulid::new().to_string(),
            complaint_id: complaint.id.clone(),
            tracking: complaint.tracking.clone(),
            channel: inbound.channel,
            provider: inbound.provider.clone(),
            to: inbound.sender.address.clone(),
            subject,
            text,
            context: inbound.reply_context.clone(),
        })
    }

    /// Store one part of a concatenated SMS; assemble when the last arrives.
    async fn accept_part(&self, inbound: Inbound) -> Result<Receipt, IntakeError> {
        let Some(seg) = inbound.segment else {
            return self.accept_whole(inbound, 1, false, None).await;
        };
        let gkey = group_key(&inbound.provider, &inbound.sender.address, seg.reference, seg.total);
        let pkey = part_key(&gkey, seg.seq);
        let provider_dup = inbound
            .external_id
            .as_deref()
            .map(|e| provider_key(&self.hasher, &inbound.provider, &inbound.sender.address, e));
        // JSON, not bincode: `Inbound` uses skip_serializing_if, which a
        // non-self-describing format cannot read back.
        let encoded = serde_json::to_vec(&inbound).unwrap_or_default();
        let now = now_secs();
        let s = &self.store;
        // As the writer does: never hand sled a write the disk may not hold.
        s.health.check()?;
        let result: Result<Result<Group, Record>, TransactionError<()>> = (&s.dedupe, &s.parts, &s.part_groups)
            .transaction(|(dd, pt, pg)| {
                if let Some(k) = &provider_dup {
                    if let Some(v) = dd.get(k)? {
                        if let Ok(r) = Record::decode(&v) {
                            if r.expires_at > now {
                                return Ok(Err(r));
                            }
                        }
                    }
                }
                let mut group = match pg.get(gkey.as_slice())? {
                    Some(v) => Group::decode(&v).unwrap_or_else(|_| Group::new(now, seg.total)),
                    None => Group::new(now, seg.total),
                };
                group.mark(seg.seq);
                pt.insert(pkey.as_slice(), encoded.as_slice())?;
                pg.insert(gkey.as_slice(), group.encode())?;
                Ok(Ok(group))
            });
        match result {
            Ok(Err(r)) => {
                self.store.flush().await?;
                Ok(Receipt {
                    id: Some(r.id),
                    tracking: Some(r.tracking),
                    duplicate: true,
                })
            }
            Ok(Ok(group)) if group.complete() => match self.assemble(&gkey).await? {
                Some(r) => Ok(r),
                None => self.receipt_of_assembled(provider_dup.as_deref()).await,
            },
            Ok(Ok(_)) => {
                self.store.flush().await?;
                Ok(Receipt {
                    id: None,
                    tracking: None,
                    duplicate: false,
                })
            }
            Err(TransactionError::Abort(())) => Err(IntakeError::Aborted),
            Err(TransactionError::Storage(e)) => {
                self.store.health.note(&e);
                Err(e.into())
            }
        }
    }

    /// Another request assembled the group first: answer with its receipt.
    async fn receipt_of_assembled(&self, provider_dup: Option<&[u8]>) -> Result<Receipt, IntakeError> {
        self.store.flush().await?;
        if let Some(k) = provider_dup {
            if let Some(v) = self.store.dedupe.get(k)? {
                let r = Record::decode(&v)?;
                return Ok(Receipt {
                    id: Some(r.id),
                    tracking: Some(r.tracking),
                    duplicate: true,
                });
            }
        }
        Ok(Receipt {
            id: None,
            tracking: None,
            duplicate: false,
        })
    }

    /// Join the parts of a group into one complaint (partial if some are missing).
    /// `None` when the group is already gone (assembled by someone else).
    pub async fn assemble(&self, gkey: &[u8]) -> Result<Option<Receipt>, IntakeError> {
        let Some(gv) = self.store.part_groups.get(gkey)? else {
            return Ok(None);
        };
        let group = Group::decode(&gv)?;
        let mut parts: Vec<Inbound> = Vec::new();
        let mut keys = Vec::new();
        let mut text = String::new();
        for seq in 1..=group.total {
            let k = part_key(gkey, seq);
            match self.store.parts.get(&k)? {
                Some(v) => {
                    let part: Inbound = serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                        tree: "parts",
                        reason: e.to_string(),
                    })?;
                    text.push_str(&part.text);
                    parts.push(part);
                    keys.push(k);
                }
                // Show the reader where text is missing rather than gluing words.
                None if !text.ends_with(" […] ") => text.push_str(" […] "),
                None => {}
            }
        }
        let Some(mut whole) = parts.first().cloned() else {
            self.store.part_groups.remove(gkey)?;
            return Ok(None);
        };
        let received = parts.len() as u32;
        let partial = received < group.total as u32;
        whole.text = pintu_channels::normalize::normalize_text(&text);
        whole.segment = None;
        let cleanup = PartsCleanup {
            group: gkey.to_vec(),
            parts: keys,
        };
        let receipt = self.accept_whole(whole, received, partial, Some(cleanup)).await?;
        // Map every part's provider id to the complaint, so a retried part is a
        // duplicate and not the start of a new group.
        if let (Some(id), Some(code)) = (&receipt.id, &receipt.tracking) {
            let expires_at = now_secs() + self.window.as_secs();
            let rec = Record {
                id: id.clone(),
                tracking: code.clone(),
                expires_at,
            }
            .encode();
            for p in &parts {
                if let Some(ext) = &p.external_id {
                    let k = provider_key(&self.hasher, &p.provider, &p.sender.address, ext);
                    self.store.dedupe.insert(k.as_slice(), rec.as_slice())?;
                }
            }
            self.store.flush().await?;
        }
        if partial {
            metrics::counter!("pintu_sms_partial_total").increment(1);
        }
        Ok(Some(receipt))
    }

    /// Assemble groups older than `timeout` as partial complaints.
    pub async fn expire_parts(&self, timeout: Duration) -> Result<usize, IntakeError> {
        let cutoff = now_secs().saturating_sub(timeout.as_secs());
        let mut stale = Vec::new();
        for entry in self.store.part_groups.iter() {
            let (k, v) = entry?;
            match Group::decode(&v) {
                Ok(g) if g.first_seen <= cutoff => stale.push(k.to_vec()),
                Ok(_) => {}
                Err(_) => stale.push(k.to_vec()),
            }
        }
        let mut n = 0;
        for k in stale {
            if self.assemble(&k).await?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Drop dedupe records older than the window.
    pub fn sweep_dedupe(&self) -> Result<usize, IntakeError> {
        let n = crate::store::dedupe::sweep(&self.store.dedupe, now_secs())?;
        // Once the last record keyed by provider id alone expired, stop looking.
        let legacy = crate::store::dedupe::has_legacy_provider_keys(&self.store.dedupe);
        self.store.legacy_provider_keys.store(legacy, Ordering::Relaxed);
        Ok(n)
    }
}

/// A provider id that another sender used (or a record that cannot say whose
/// it was) did not make this message a duplicate: say so, it is either a
/// provider reusing ids or someone replaying them.
fn log_reuse(inbound: &Inbound, reuse: &Reuse) {
    let (kind, earlier) = match reuse {
        Reuse::OtherSender { id } => ("other_sender", id),
        Reuse::Legacy { id } => ("legacy_record", id),
    };
    metrics::counter!("pintu_dedupe_sender_mismatch_total", "provider" => inbound.provider.clone(), "kind" => kind)
        .increment(1);
    warn!(
        provider = %inbound.provider,
        external_id = %inbound.external_id.as_deref().unwrap_or_default(),
        sender = %mask(&inbound.sender.address),
        earlier_complaint = %earlier,
        kind,
        "provider id already on record for another sender; ingested as a new complaint"
    );
}

/// The text hash plus attachment hashes: a photo-only message still has a key.
fn fingerprint_of(inbound: &Inbound) -> String {
    if inbound.attachments.is_empty() {
        return fingerprint_text(&inbound.text);
    }
    let mut s = inbound.text.clone();
    for a in &inbound.attachments {
        s.push(' ');
        s.push_str(if a.sha256.is_empty() {
            a.reference.as_deref().unwrap_or(&a.name)
        } else {
            &a.sha256
        });
    }
    fingerprint_text(&s)
}
