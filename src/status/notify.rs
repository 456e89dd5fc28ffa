//! From a plan's notices to replies on the citizen's own channel: rendered
//! from the status templates, the agency named from the [`Directory`], sent
//! to the [`Contact`] the gateway kept at intake (also for anonymous
//! complaints: the agency never had it, the gateway did) and queued as
//! `pintu.outbound` messages, the same durable path acknowledgements take.

use super::apply::{Exchange, Notice, Pending, Plan};
use super::contract::Stage;
use super::directory::Directory;
use super::record::{Contact, Record};
use super::store::StatusStore;
use super::templates::{Fill, Kind, StatusTemplates};
use crate::broker::Names;
use crate::replies::OutboundReply;

pub struct Notifier {
    pub templates: StatusTemplates,
    pub directory: Directory,
}

impl Notifier {
    /// The replies for `plan`'s notices (none when the citizen cannot be
    /// reached: no contact, or a sender that cannot receive).
    pub fn replies(&self, store: &StatusStore, rec: &Record, plan: &Plan) -> Vec<Pending> {
        let contact = match store.contact(&rec.tracking) {
            Ok(Some(c)) if c.can_reply => c,
            Ok(_) => {
                if !plan.notices.is_empty() {
                    metrics::counter!("pintu_status_notices_skipped_total", "reason" => "no contact").increment(1);
                }
                return Vec::new();
            }
            Err(e) => {
                tracing::warn!(error = %e, tracking = %rec.tracking, "contact unreadable: notice not sent");
                return Vec::new();
            }
        };
        plan.notices
            .iter()
            .map(|n| {
                let (kind, agency, stage, message) = match n {
                    Notice::Stage { stage, agency, message } => (
                        if *stage == Stage::Selesai {
                            Kind::Selesai
                        } else {
                            Kind::Stage
                        },
                        agency.as_str(),
                        stage.words(),
                        message.clone(),
                    ),
                    Notice::Forwarded { to, message } => (Kind::Forwarded, to.as_str(), "", message.clone()),
                    Notice::Reopened { agency } => (Kind::Reopened, agency.as_str(), "", None),
                    Notice::Closed => (Kind::Closed, rec.agency.as_str(), "", None),
                };
                self.pending(&contact, rec, kind, agency, stage, message.as_deref().unwrap_or(""))
            })
            .collect()
    }

    /// One reply of `kind` to `contact` about `rec`.
    pub fn pending(
        &self,
        contact: &Contact,
        rec: &Record,
        kind: Kind,
        agency: &str,
        stage: &str,
        message: &str,
    ) -> Pending {
        let channel = contact.channel.as_str();
        let name = self.directory.name(agency);
        let text = self.templates.render(
            channel,
            kind,
            &Fill {
                tracking: &rec.tracking,
                agency: &name,
                stage,
                message,
            },
        );
        self.reply(contact, &rec.tracking, text)
    }

    /// A reply carrying `text` to `contact`.
    pub fn reply(&self, contact: &Contact, tracking: &str, text: String) -> Pending {
        let reply = OutboundReply {
            id: ulid::Ulid::new().to_string(),
            complaint_id: contact.complaint_id.clone(),
            tracking: tracking.to_string(),
            channel: contact.channel,
            provider: contact.provider.clone(),
            to: contact.to.clone(),
            subject: self.templates.subject(contact.channel.as_str(), tracking),
            text,
            context: contact.context.clone(),
        };
        metrics::counter!("pintu_status_notices_total", "channel" => contact.channel.as_str()).increment(1);
        Pending {
            exchange: Exchange::Outbound,
            routing_key: Names::outbound_key(contact.channel.as_str(), &contact.provider),
            message_id: reply.id.clone(),
            body: serde_json::to_vec(&reply).unwrap_or_default(),
            headers: Vec::new(),
        }
    }
}
