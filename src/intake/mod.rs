//! The intake pipeline: inbound message → complaint → dedupe + outbox, durable.
//!
//! [`Intake::accept`] returns only after the complaint (and its reply) is
//! written and flushed, so whatever a channel acknowledges to its provider
//! after this call can never be lost. The relay takes it from the outbox.
//!
//! With flood control ([`crate::flood`]) a sender over its rate has its
//! message held aside instead: just as durable, with its
//! dedupe keys, but not published and not acknowledged to the citizen.

mod hook;
mod parts;
mod release;

pub use hook::IntakeHook;

pub use release::{ReleaseReport, ReleaseRequest};

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use pintu_channels::normalize::{fingerprint_text, strip_markers};
use pintu_channels::{Inbound, Receipt, SenderKind};
use thiserror::Error;
use tracing::{debug, info, info_span, warn, Instrument};

use crate::broker::Names;
use crate::complaint::{Complaint, Flags, SCHEMA_VERSION};
use crate::flood::{Limiter, Verdict};
use crate::obs::mask;
use crate::replies::{OutboundReply, Templates};
use crate::stats::Stats;
use crate::store::dedupe::{provider_id_reuse, provider_key, sender_key, Record, Reuse, SenderHasher};
use crate::store::held::{preview, Held};
use crate::store::outbox::{new_key, Committed, Envelope, Target};
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
    /// Per-sender rate limits; `None`: off.
    flood: Option<Limiter>,
    /// Status loop (contacts, queries); `None`: off.
    hook: Option<Arc<dyn IntakeHook>>,
    /// The ops page's counters; the webhook handler and pollers record
    /// through it too ([`Intake::stats`]).
    stats: Arc<Stats>,
}

/// What intake made of one message.
struct Accepted {
    receipt: Receipt,
    /// The dedupe record the message now maps to (its own, or the original's
    /// for a duplicate); `None` while SMS parts wait for the rest.
    record: Option<Record>,
    /// Held by flood control (just now, or earlier for a duplicate).
    held: bool,
}

impl Accepted {
    fn waiting() -> Accepted {
        Accepted {
            receipt: Receipt {
                id: None,
                tracking: None,
                duplicate: false,
            },
            record: None,
            held: false,
        }
    }

    /// For a new complaint or a duplicate of `r`. A held complaint's code is
    /// not given out: no acknowledgement of any kind for it.
    fn of(r: Record, duplicate: bool) -> Accepted {
        Accepted {
            receipt: Receipt {
                id: Some(r.id.clone()),
                tracking: (!r.held).then(|| r.tracking.clone()),
                duplicate,
            },
            held: r.held,
            record: Some(r),
        }
    }

    fn duplicate(r: Record) -> Accepted {
        Accepted::of(r, true)
    }
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
        // Told of every outbox entry the writer committed: in a gateway, the
        // relay's feed (wired by `serve`; intake does not know the relay).
        feed: impl Committed,
    ) -> Intake {
        let writer = Writer::start(&store, feed);
        Intake {
            store,
            writer,
            hasher,
            templates,
            reply_providers: HashSet::new(),
            window,
            flood: None,
            hook: None,
            stats: Arc::new(Stats::new()),
        }
    }

    /// Record into `stats` (the gateway's one recorder) instead of a private one.
    pub fn with_stats(mut self, stats: Arc<Stats>) -> Intake {
        self.stats = stats;
        self
    }

    /// The ops page's counters of this gateway.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Per-sender rate limits (see [`crate::flood`]).
    pub fn with_flood(mut self, limiter: Option<Limiter>) -> Intake {
        self.flood = limiter;
        self
    }

    /// See [`IntakeHook`].
    pub fn with_hook(mut self, hook: Option<Arc<dyn IntakeHook>>) -> Intake {
        self.hook = hook;
        self
    }

    /// Whether a reply to `inbound`'s sender can be sent at all.
    fn can_reply(&self, inbound: &Inbound) -> bool {
        self.reply_providers.contains(&inbound.provider)
            && !inbound.reply_context.contains_key("suppress_reply")
            && !matches!(inbound.sender.kind, SenderKind::Shortcode | SenderKind::Alphanumeric)
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
        let whole = inbound.segment.is_none_or(|s| s.total <= 1);
        if let (true, Some(hook)) = (whole, &self.hook) {
            if hook.intercept(&inbound, self.can_reply(&inbound)).await {
                return Ok(Receipt {
                    id: None,
                    tracking: None,
                    duplicate: false,
                });
            }
        }
        let accepted = match inbound.segment {
            Some(seg) if seg.total > 1 => self.accept_part(inbound).await?,
            _ => self.accept_whole(inbound, 1, false, None).await?,
        };
        let receipt = accepted.receipt;
        if receipt.duplicate {
            metrics::counter!("pintu_duplicates_total", &labels).increment(1);
        } else if accepted.held {
            metrics::counter!("pintu_flood_held_total", &labels).increment(1);
            self.stats.held(&labels[0].1);
        } else if receipt.tracking.is_some() {
            metrics::counter!("pintu_received_total", &labels).increment(1);
        } else {
            metrics::counter!("pintu_sms_parts_waiting_total", &labels).increment(1);
        }
        self.stats.intake(&labels[0].1, &receipt);
        Ok(receipt)
    }

    async fn accept_whole(
        &self,
        mut inbound: Inbound,
        parts: u32,
        partial: bool,
        cleanup: Option<PartsCleanup>,
    ) -> Result<Accepted, IntakeError> {
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
        let sender_hash = self.hasher.hash(&inbound.sender.address);
        let verdict = match &self.flood {
            Some(l) => l.check(crate::flood::sender_tag(&sender_hash)),
            None => Verdict::Allowed,
        };
        let (flags, _) = strip_markers(&inbound.text);
        if inbound.in_reply_to.is_none() {
            inbound.in_reply_to = self.find_reply_target(&inbound);
        }
        // Before the id is minted: ids carry the time of acceptance.
        self.store.flow.admit().await;
        let id = ulid::Ulid::new().to_string();
        let span = info_span!("intake", complaint_id = %id, channel = %inbound.channel, provider = %inbound.provider);
        async move {
            let (code_number, code) = self.store.codes.issue().await?;
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
            let mut outbox = vec![Staged::new(new_key(), complaint_envelope(&id, &inbound, &complaint))];
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
                held: matches!(verdict, Verdict::Limited(_)),
            };
            let mut hold = None;
            if let Verdict::Limited(reason) = &verdict {
                // Kept whole, as it would have been published, reply included.
                let mut staged = outbox.drain(..).map(|s| s.envelope);
                let held = Held {
                    reason: reason.clone(),
                    at_ms: crate::stats::now_ms(),
                    channel: inbound.channel.as_str().to_string(),
                    provider: inbound.provider.clone(),
                    sender: mask(&inbound.sender.address),
                    sender_tag: hex::encode(&sender_hash[..4]),
                    tracking: code.clone(),
                    preview: if flags.confidential {
                        String::new()
                    } else {
                        preview(&inbound.text, 120)
                    },
                    complaint: staged
                        .next()
                        .unwrap_or_else(|| complaint_envelope(&id, &inbound, &complaint)),
                    reply: staged.next(),
                    dedupe_keys: keys.clone(),
                };
                hold = Some((crate::store::dedupe::ulid_bytes(&id), held.encode()));
            }
            let job = Job {
                dedupe_keys: keys,
                record: record.encode(),
                now,
                code_number: Some(code_number),
                outbox,
                cleanup: cleanup.map(|c| (c.group, c.parts)),
                hold,
                release: None,
            };
            if let Some(hook) = &self.hook {
                hook.accepting(&complaint, &inbound, self.can_reply(&inbound));
            }
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
                    if let Verdict::Limited(reason) = &verdict {
                        info!(sender = %mask(&inbound.sender.address), %reason, "message held by flood control");
                    } else {
                        // The tracking code only: beside even a masked sender it
                        // ties a complaint to a person (the span has the id).
                        debug!(tracking = %code, "complaint accepted");
                    }
                    Ok(Accepted::of(record, false))
                }
                WriteOutcome::Duplicate(r) => {
                    // A retry or a resend is not one more message of this sender.
                    if let (Some(l), Verdict::Allowed) = (&self.flood, &verdict) {
                        l.refund(crate::flood::sender_tag(&sender_hash));
                    }
                    debug!(tracking = %r.tracking, original = %r.id, "duplicate");
                    Ok(Accepted::duplicate(r))
                }
                // Only a release can find nothing to do.
                WriteOutcome::NotHeld => Err(IntakeError::Aborted),
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

/// The outbox entry of a complaint: to the intake exchange, `message_id` = id.
fn complaint_envelope(id: &str, inbound: &Inbound, complaint: &Complaint) -> Envelope {
    Envelope {
        target: Target::Intake,
        routing_key: Names::intake_key(inbound.channel.as_str()),
        message_id: id.to_string(),
        body: serde_json::to_vec(complaint).unwrap_or_default(),
    }
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
