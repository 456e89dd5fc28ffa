//! The citizen's side, called by intake ([`crate::intake::IntakeHook`]):
//! the contact of every new complaint is kept (before intake commits it, so
//! intake's flush makes it durable), and short messages that are status
//! queries or PUAS/BELUM answers are answered here instead of becoming
//! complaints.

use std::path::Path;
use std::sync::atomic::Ordering;

use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use pintu_channels::Inbound;
use sha2::Sha256;
use tracing::{debug, warn};

use super::apply::{Answer, Plan};
use super::query::{self, Query};
use super::record::{Contact, Record};
use super::service::StatusService;
use super::templates::Kind;
use super::StatusError;
use crate::complaint::Complaint;

/// Keyed hash of a sender's address (the awaiting index and the query
/// budget are then no directory of citizens' numbers).
pub struct SenderKey(Vec<u8>);

impl SenderKey {
    pub fn open(dir: &Path) -> Result<SenderKey, StatusError> {
        Ok(SenderKey(crate::store::key_file(&dir.join("status.key"))?))
    }

    pub fn hash(&self, channel: &str, address: &str) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| {
            // HMAC accepts keys of any length; unreachable.
            <Hmac<Sha256> as Mac>::new_from_slice(b"pintu").expect("static key")
        });
        m.update(channel.as_bytes());
        m.update(&[0]);
        m.update(address.as_bytes());
        m.finalize().into_bytes().into()
    }
}

/// The contact of a message (the citizen, as intake saw them).
pub fn contact_of(
    complaint_id: &str,
    inbound: &Inbound,
    can_reply: bool,
    anonymous: bool,
    confidential: bool,
) -> Contact {
    Contact {
        complaint_id: complaint_id.to_string(),
        channel: inbound.channel,
        provider: inbound.provider.clone(),
        to: inbound.sender.address.clone(),
        can_reply,
        anonymous,
        confidential,
        context: inbound.reply_context.clone(),
    }
}

/// Same citizen: same channel and address (the same number, e-mail address
/// or handle), whatever the provider.
fn same_sender(c: &Contact, inbound: &Inbound) -> bool {
    c.channel == inbound.channel && c.to == inbound.sender.address
}

impl crate::intake::IntakeHook for StatusService {
    fn accepting(&self, complaint: &Complaint, inbound: &Inbound, can_reply: bool) {
        let c = contact_of(
            &complaint.id,
            inbound,
            can_reply,
            complaint.flags.anonymous,
            complaint.flags.confidential,
        );
        if let Err(e) = self.store.record_contact(&complaint.tracking, &c) {
            warn!(error = %e, "contact not kept: the citizen will not hear back");
        }
    }

    fn intercept<'a>(&'a self, inbound: &'a Inbound, can_reply: bool) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            // An e-mail may ask in its subject with an empty body.
            let subject = inbound.subject.as_deref().filter(|_| inbound.text.trim().is_empty());
            let Some(q) = query::parse(&inbound.text).or_else(|| subject.and_then(query::parse)) else {
                return false;
            };
            match self.answer_query(inbound, can_reply, q).await {
                Ok(()) => true,
                Err(e) => {
                    // Not lost: taken as an ordinary message instead.
                    warn!(error = %e, "status query failed; ingested as a message");
                    false
                }
            }
        })
    }
}

impl StatusService {
    async fn answer_query(&self, inbound: &Inbound, can_reply: bool, q: Query) -> Result<(), StatusError> {
        let sender = self.sender_key.hash(inbound.channel.as_str(), &inbound.sender.address);
        let me = contact_of("", inbound, can_reply, false, false);
        if !self.queries.allow(sender) {
            self.counters.queries_refused.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("pintu_status_queries_total", "outcome" => "limited").increment(1);
            return self.say(&me, None, Kind::Limited).await;
        }
        self.counters.queries.fetch_add(1, Ordering::Relaxed);
        let (code, answer) = match q {
            Query::Status(code) => (Some(code), None),
            Query::Answer(a, code) => (code.or(self.store.awaiting(&sender)?), Some(a)),
        };
        let owned = match &code {
            Some(code) => self
                .store
                .contact(code)?
                .filter(|c| same_sender(c, inbound))
                .map(|c| (code.clone(), c)),
            None => None,
        };
        let Some((code, contact)) = owned else {
            metrics::counter!("pintu_status_queries_total", "outcome" => "neutral").increment(1);
            debug!("status query for a code not of this sender: neutral answer");
            return self.say(&me, None, Kind::Neutral).await;
        };
        let rec = self.store.get(&code)?;
        if let (Some(a), Some(_)) = (answer, &rec) {
            let notify = |r: &Record, p: &Plan| self.notices(r, p);
            if self
                .store
                .apply_answer(&code, a, chrono::Utc::now(), &notify)
                .await?
                .is_some()
            {
                let counter = match a {
                    Answer::Belum => &self.counters.reopened,
                    Answer::Puas => &self.counters.closed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("pintu_status_answers_total", "answer" => format!("{a:?}").to_lowercase())
                    .increment(1);
                return Ok(());
            }
        }
        metrics::counter!("pintu_status_queries_total", "outcome" => "answered").increment(1);
        // Answer through the provider and context the question came by
        // (the same number may have written through another SMS gateway).
        let contact = Contact {
            complaint_id: contact.complaint_id,
            ..me
        };
        match rec {
            Some(r) => {
                let p = self.notifier.pending(
                    &contact,
                    &r,
                    Kind::Query,
                    &r.agency,
                    r.stage.words(),
                    r.last_message.as_deref().unwrap_or(""),
                );
                self.store.enqueue(&p).await
            }
            None => self.say(&contact, Some(&code), Kind::QueryUnrouted).await,
        }
    }

    /// A fixed answer to `to`.
    async fn say(&self, to: &Contact, tracking: Option<&str>, kind: Kind) -> Result<(), StatusError> {
        if !to.can_reply {
            return Ok(());
        }
        let code = tracking.unwrap_or("");
        let text = self.notifier.templates.render(
            to.channel.as_str(),
            kind,
            &super::templates::Fill {
                tracking: code,
                ..Default::default()
            },
        );
        self.store.enqueue(&self.notifier.reply(to, code, text)).await
    }
}

/// After an update that asked PUAS/BELUM: remember for whom, so an answer
/// without the code finds its complaint.
pub fn remember_awaiting(svc: &StatusService, tracking: &str) {
    match svc.store.contact(tracking) {
        Ok(Some(c)) => {
            let h = svc.sender_key.hash(c.channel.as_str(), &c.to);
            if let Err(e) = svc.store.set_awaiting(&h, tracking) {
                warn!(error = %e, "awaiting answer not recorded");
            }
        }
        Ok(None) => {}
        Err(e) => warn!(error = %e, "contact unreadable"),
    }
}
