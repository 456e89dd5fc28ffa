//! One fetch group of a folder: fetch, keep the raw copies, parse within the
//! budget, accept what is a citizen's complaint, quarantine the rest, mark.
//!
//! Order matters for exactly-once (see [`super::poller`]): the raw copies and
//! attachments are synced before intake, intake is durable before a message
//! is marked, and a quarantine record is flushed before its message is
//! moved. A message leaves the inbox either as a durable complaint or with a
//! durable quarantine record — so a mail that cannot be parsed in time, or
//! that killed the process while it was parsed, is decided once and the
//! mailbox moves on after a restart instead of stalling on it again.
//!
//! ## Crash guard
//! Before a group is parsed, each message's count of started-but-unfinished
//! parses goes up by one and is flushed; a finished parse (any outcome)
//! removes it. A process that dies inside a parse leaves the counts behind.
//! A group in which some message has such a count is parsed one message at a
//! time, each count flushed before its parse, so only the culprit's count
//! keeps growing; at [`MAX_UNFINISHED_PARSES`] it is quarantined
//! (`parse_aborted`) without being parsed again.

use std::collections::HashMap;

use futures_util::future::join_all;
use pintu_channels::email::parse::sha256_hex;
use pintu_channels::email::{ParsedEmail, Rejection};
use pintu_channels::Inbound;
use tracing::{debug, error, info_span, warn};

use super::mailbox::Mailbox;
use super::parse_worker::Outcome;
use super::poller::{now_secs, wib_day, PassStats, PollError, Poller};
use super::quarantine::{Location, QuarantineRecord};
use super::state::SeenCheck;
use crate::obs::mask;

/// Parses of one message started without finishing before it is quarantined.
pub const MAX_UNFINISHED_PARSES: u32 = 3;

/// Result of one group: the stats, the highest UID up to which the whole
/// group is handled, and a failure that must end the session (after what
/// could be marked was marked).
pub type GroupResult = (PassStats, Option<u32>, Option<PollError>);

impl Poller {
    fn quota_allows(&self, inbound: &Inbound) -> Result<bool, PollError> {
        let Some(limit) = self.daily_limit else { return Ok(true) };
        Ok(self
            .state
            .take_reply_quota(&inbound.sender.address, wib_day(now_secs()), limit)?)
    }

    fn flush(&self) -> Result<(), PollError> {
        self.rt.block_on(self.intake.store().flush()).map_err(PollError::Store)
    }

    /// Fetch, store, accept and mark one group of messages.
    pub(crate) fn process_batch(
        &self,
        mb: &mut dyn Mailbox,
        folder: &str,
        uidvalidity: u32,
        group: &[u32],
        sizes: &HashMap<u32, u64>,
    ) -> Result<GroupResult, PollError> {
        let name = &self.cfg.name;
        let loc = |uid| Location {
            mailbox: name,
            folder,
            uidvalidity,
            uid,
        };
        let mut quarantine: Vec<(u32, QuarantineRecord)> = Vec::new();
        let mut to_fetch = Vec::with_capacity(group.len());
        let now = now_secs();
        for uid in group {
            match sizes.get(uid) {
                // Expunged by someone else between SEARCH and FETCH: nothing to do.
                None => {}
                Some(&size) if size > self.cfg.max_message_bytes => quarantine.push((
                    *uid,
                    QuarantineRecord::new(
                        "too_large",
                        format!("{size} bytes > max_message_bytes {}", self.cfg.max_message_bytes),
                        size,
                        None,
                        now,
                    ),
                )),
                Some(_) => to_fetch.push(*uid),
            }
        }
        let fetched = mb.fetch(&to_fetch)?;
        metrics::counter!("pintu_email_fetched_total", "mailbox" => name.clone()).increment(fetched.len() as u64);

        let locs: Vec<Location<'_>> = fetched.iter().map(|f| loc(f.uid)).collect();
        let mut unfinished = Vec::with_capacity(locs.len());
        for l in &locs {
            unfinished.push(self.state.unfinished_parses(l)?);
        }
        let suspect = unfinished.iter().any(|n| *n > 0);
        if suspect {
            warn!(mailbox = %name, folder, "a parse in this group never finished before; parsing one at a time");
        } else if !locs.is_empty() {
            self.state.begin_parse(&locs, now)?;
            self.flush()?;
        }

        let mut done: Vec<u32> = Vec::with_capacity(fetched.len());
        let mut work: Vec<(u32, String, String, Inbound)> = Vec::with_capacity(fetched.len());
        let mut stats = PassStats::default();
        // The first message not handled because of a shutdown mid-group.
        let mut stopped_at: Option<u32> = None;
        for ((f, l), before) in fetched.into_iter().zip(locs.iter()).zip(unfinished) {
            let uid = f.uid;
            let size = f.raw.len() as u64;
            let raw_sha = sha256_hex(&f.raw);
            // Keep the original of everything we fetched, ingested or not.
            // Already there: these very bytes were fetched before.
            let fetched_before = !self.blobs.put_raw(&raw_sha, &f.raw)?;
            if suspect {
                if before >= MAX_UNFINISHED_PARSES {
                    let detail = format!("parsing was started {before} times and never finished (the process died)");
                    quarantine.push((
                        uid,
                        QuarantineRecord::new("parse_aborted", detail, size, Some(raw_sha), now),
                    ));
                    self.state.end_parse(l)?;
                    continue;
                }
                self.state.begin_parse(std::slice::from_ref(l), now)?;
                self.flush()?;
            }
            let outcome = self.parse(f.raw);
            // Finished one way or another (a stop is no crash either).
            self.state.end_parse(l)?;
            let parsed = match outcome {
                Outcome::Stopped => {
                    stopped_at = Some(uid);
                    break;
                }
                Outcome::TimedOut => {
                    let detail = format!("parsing took longer than {} ms", self.parse_budget.as_millis());
                    quarantine.push((
                        uid,
                        QuarantineRecord::new("parse_timeout", detail, size, Some(raw_sha), now),
                    ));
                    continue;
                }
                Outcome::Parsed(answer) => match *answer {
                    Err(rej) => {
                        quarantine.push((uid, rejected(&rej, size, raw_sha, now)));
                        continue;
                    }
                    Ok(p) => p,
                },
            };
            let ext = parsed.inbound.external_id.clone().unwrap_or_default();
            let from = parsed.inbound.sender.address.clone();
            match self.state.seen(&from, &ext, fetched_before, now)? {
                SeenCheck::Seen(seen) => {
                    // Ingested before (a restored mailbox, a UIDVALIDITY reset
                    // past the dedupe window): only mark it.
                    debug!(mailbox = %name, uid, tracking = %seen.tracking, "already ingested");
                    metrics::counter!("pintu_email_reseen_total", "mailbox" => name.clone()).increment(1);
                    stats.duplicates += 1;
                    done.push(uid);
                    continue;
                }
                SeenCheck::Reused { .. } => {
                    metrics::counter!("pintu_email_message_id_reused_total", "mailbox" => name.clone()).increment(1);
                    warn!(mailbox = %name, uid, sender = %mask(&from),
                        "Message-ID already on record for another sender; ingested as a new message");
                }
                SeenCheck::New => {}
            }
            if let Some(rec) = not_a_citizens(&parsed, size, &raw_sha, now) {
                // Never published, never linked to a complaint, never answered.
                quarantine.push((uid, rec));
                continue;
            }
            for b in &parsed.blobs {
                self.blobs.put_attachment(&b.sha256, &b.bytes)?;
            }
            let mut inbound = parsed.inbound;
            if inbound.in_reply_to.is_none() {
                // Only codes we issued: a forged In-Reply-To must not link a
                // message to a complaint the sender invented.
                inbound.in_reply_to = parsed.ack_reference.filter(|c| self.intake.tracking_exists(c));
            }
            if parsed.suppress.is_none() && !self.quota_allows(&inbound)? {
                inbound
                    .reply_context
                    .insert("suppress_reply".into(), "rate_limited".into());
                metrics::counter!("pintu_email_replies_suppressed_total", "reason" => "rate_limited").increment(1);
            }
            if let Some(reason) = inbound.reply_context.get("suppress_reply") {
                debug!(mailbox = %name, uid, reason = %reason, "no acknowledgement for this message");
            }
            work.push((uid, ext, from, inbound));
        }
        if let Some(s) = stopped_at {
            // Not parsed at all: no count may stay behind for them.
            for l in locs.iter().filter(|l| l.uid >= s) {
                self.state.end_parse(l)?;
            }
        }
        // Attachments and raw copies on disk before any complaint that names them.
        self.blobs.sync()?;
        self.blobs.check_quota();

        let accepts = work.into_iter().map(|(uid, ext, from, inbound)| {
            let intake = self.intake.clone();
            async move { (uid, ext, from, intake.accept(inbound).await) }
        });
        let results = self.rt.block_on(join_all(accepts));
        let mut failed: Option<u32> = stopped_at;
        let mut failure: Option<PollError> = None;
        let expires = now + self.seen_retention.as_secs();
        for (uid, ext, from, r) in results {
            match r {
                Ok(receipt) => {
                    let id = receipt.id.clone().unwrap_or_default();
                    let span = info_span!("email_ingest", complaint_id = %id, mailbox = %name, uid);
                    let _g = span.enter();
                    if let Some(t) = &receipt.tracking {
                        self.state.mark_seen(&from, &ext, t, expires)?;
                    }
                    if receipt.duplicate {
                        stats.duplicates += 1;
                    } else {
                        stats.accepted += 1;
                    }
                    metrics::counter!("pintu_email_ingested_total", "mailbox" => name.clone(),
                        "duplicate" => if receipt.duplicate { "true" } else { "false" })
                    .increment(1);
                    // The span names the complaint; no address beside the tracking
                    // code, which together would tie the complaint to a person.
                    debug!(tracking = ?receipt.tracking, duplicate = receipt.duplicate, "e-mail accepted");
                    done.push(uid);
                }
                Err(e) => {
                    error!(mailbox = %name, uid, error = %e, "intake failed; message stays unmarked for retry");
                    metrics::counter!("pintu_email_intake_errors_total", "mailbox" => name.clone()).increment(1);
                    failed = Some(failed.map_or(uid, |f: u32| f.min(uid)));
                    failure.get_or_insert(PollError::Intake(e));
                }
            }
        }

        if !quarantine.is_empty() {
            for (uid, rec) in &quarantine {
                let stored = self.state.record_quarantine(name, folder, uidvalidity, *uid, rec)?;
                metrics::counter!("pintu_rejected_total", "channel" => "email", "reason" => rec.reason.clone())
                    .increment(1);
                self.intake.stats().rejected("email");
                warn!(mailbox = %name, folder, uid, id = %stored.id, reason = %rec.reason, detail = %rec.detail,
                    "message quarantined");
            }
            // The record and the raw copy are on disk before the message leaves the inbox.
            self.flush()?;
            let uids: Vec<u32> = quarantine.iter().map(|(u, _)| *u).collect();
            mb.quarantine(&uids)?;
            stats.quarantined += uids.len();
        }
        mb.mark_processed(&done)?;
        let handled_up_to = match failed {
            Some(f) => group.iter().copied().filter(|u| *u < f).max(),
            None => group.iter().copied().max(),
        };
        Ok((stats, handled_up_to, failure))
    }
}

fn rejected(rej: &Rejection, size: u64, raw_sha: String, now: u64) -> QuarantineRecord {
    QuarantineRecord::new(rej.reason(), rej.to_string(), size, Some(raw_sha), now)
}

/// The quarantine record of a message no citizen wrote, if it is one.
fn not_a_citizens(parsed: &ParsedEmail, size: u64, raw_sha: &str, now: u64) -> Option<QuarantineRecord> {
    let nc = parsed.not_citizen.as_ref()?;
    let ib = &parsed.inbound;
    let rec = QuarantineRecord::new(
        nc.kind.as_str(),
        nc.evidence.clone(),
        size,
        Some(raw_sha.to_string()),
        now,
    )
    .describe(
        ib.external_id.as_deref(),
        Some(&ib.sender.address),
        ib.subject.as_deref(),
    );
    Some(rec)
}
