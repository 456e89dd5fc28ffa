//! What the gateway keeps per complaint for the loop back: the [`Record`]
//! (agency, stage, history, the routed copy the agency saw) and the
//! [`Contact`] (how to reach the citizen; never shown to an agency).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use pintu_channels::Channel;
use serde::{Deserialize, Serialize};

use super::contract::{Cause, Stage, StageChange};
use crate::complaint::Complaint;

/// History entries kept per complaint; the oldest (after the first) go first,
/// so a misbehaving agency system cannot grow one record without bound.
pub const MAX_HISTORY: usize = 100;

/// One step in a complaint's history, as the agency API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub stage: Stage,
    pub agency: String,
    pub cause: Cause,
    pub at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// The message sent to the citizen, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Internal note (agency to agency / triage); never sent to the citizen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The status of one complaint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub complaint_id: String,
    pub tracking: String,
    /// The agency responsible now.
    pub agency: String,
    pub stage: Stage,
    pub category: Option<String>,
    pub region: Option<String>,
    pub routed_at: DateTime<Utc>,
    /// Agencies that said `bukan_wewenang`: never routed to again.
    #[serde(default)]
    pub excluded: Vec<String>,
    /// The last message sent to the citizen (what `CEK` repeats).
    #[serde(default)]
    pub last_message: Option<String>,
    pub history: Vec<HistoryEntry>,
    /// Position in the agency feed (`?since=` cursor) of the current assignment.
    pub seq: u64,
    /// Times reopened by the citizen.
    #[serde(default)]
    pub reopened: u32,
    /// The complaint as the agency received it (anonymous ones without the
    /// sender, rule 7): what the pull API lists and a re-route republishes.
    pub complaint: Complaint,
}

impl Record {
    /// Push a history entry (bounded) and return the change it is.
    pub fn push(
        &mut self,
        to: Stage,
        cause: Cause,
        at: DateTime<Utc>,
        message: Option<String>,
        note: Option<String>,
    ) -> StageChange {
        let now = Utc::now();
        let from = (!self.history.is_empty()).then_some(self.stage);
        self.stage = to;
        if self.history.len() >= MAX_HISTORY {
            self.history.remove(1);
        }
        self.history.push(HistoryEntry {
            stage: to,
            agency: self.agency.clone(),
            cause: cause.clone(),
            at,
            recorded_at: now,
            message,
            note,
        });
        StageChange {
            complaint_id: self.complaint_id.clone(),
            tracking: self.tracking.clone(),
            agency: self.agency.clone(),
            from,
            to,
            cause,
            at,
            recorded_at: now,
            category: self.category.clone(),
            region: self.region.clone(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// How to answer the citizen: the reply address and provider facts from
/// intake (the same fields an acknowledgement carries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub complaint_id: String,
    pub channel: Channel,
    pub provider: String,
    /// E.164 number, e-mail address or platform user id.
    pub to: String,
    /// Whether replies can be sent at all (a reply transport exists and the
    /// sender can receive: not a short code, not an auto-reply).
    pub can_reply: bool,
    pub anonymous: bool,
    pub confidential: bool,
    #[serde(default)]
    pub context: BTreeMap<String, String>,
}

impl Contact {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use crate::complaint::{Flags, Routing};

    /// A record freshly routed to `agency`.
    pub fn record(agency: &str) -> Record {
        let complaint = Complaint {
            schema: 1,
            id: ulid::Ulid::new().to_string(),
            tracking: "LPR-7K3Q9X".into(),
            received_at: Utc::now(),
            channel: Channel::Sms,
            provider: "kannel".into(),
            external_id: None,
            sender: None,
            recipient: None,
            subject: None,
            text: "jalan rusak di bandung".into(),
            attachments: vec![],
            flags: Flags::default(),
            in_reply_to: None,
            parts: 1,
            fingerprint: "f".into(),
            routing: Some(Routing {
                category: Some("pekerjaan-umum".into()),
                region: Some("3273".into()),
                agency: agency.into(),
                report_type: "pengaduan".into(),
                reasons: vec![],
                router_version: "t".into(),
                routed_at: Utc::now(),
                confidence: None,
                suggested_agency: None,
            }),
        };
        let mut r = Record {
            complaint_id: complaint.id.clone(),
            tracking: complaint.tracking.clone(),
            agency: agency.into(),
            stage: Stage::initial(agency),
            category: Some("pekerjaan-umum".into()),
            region: Some("3273".into()),
            routed_at: Utc::now(),
            excluded: vec![],
            last_message: None,
            history: vec![],
            seq: 0,
            reopened: 0,
            complaint,
        };
        r.push(Stage::initial(agency), Cause::Routed, Utc::now(), None, None);
        r
    }
}
