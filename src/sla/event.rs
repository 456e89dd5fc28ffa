//! What goes in and out of the clock, as JSON on `<prefix>.sla`.
//!
//! In: [`StageEvent`] (routing key `stage.<kind>`) — the router announces a
//! disposition; the status loop announces follow-ups, pauses, reopenings and
//! closings (docs/sla.md says how each LAPOR! stage maps). Out: [`SlaEvent`]
//! — `reminder`, `overdue`, `close_due`, `outer_bound` under `sla.<agency>`,
//! and escalation copies under `escalation.<target>`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::Stage;

/// A complaint's stage changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// Routed to an agency (or the triage desk): the clock starts, or
    /// restarts for a new agency (re-routing, `diteruskan`, `bukan_wewenang`).
    Dispositioned,
    /// The agency followed up (`selesai` answer to the citizen): the
    /// citizen-reply clock starts.
    FollowedUp,
    /// `tertunda`: the clock stops (when configured).
    Paused,
    /// Out of `tertunda`: the clock goes on with what was left.
    Resumed,
    /// The citizen reopened the case: a fresh follow-up clock.
    Reopened,
    /// Finished: the clock is removed.
    Closed,
}

impl StageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Dispositioned => "dispositioned",
            StageKind::FollowedUp => "followed_up",
            StageKind::Paused => "paused",
            StageKind::Resumed => "resumed",
            StageKind::Reopened => "reopened",
            StageKind::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageEvent {
    pub complaint: String,
    pub agency: String,
    pub kind: StageKind,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// Longest id, agency code or label accepted from the wire.
const MAX_FIELD: usize = 96;

fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_FIELD
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl StageEvent {
    /// Parse and check a message body: the reason when it is not usable.
    pub fn from_wire(body: &[u8]) -> Result<StageEvent, String> {
        let e: StageEvent = serde_json::from_slice(body).map_err(|e| format!("not a stage event: {e}"))?;
        if !plain(&e.complaint) {
            return Err("complaint: not an id (ASCII letters, digits, '-', '_', '.')".into());
        }
        if !plain(&e.agency) {
            return Err("agency: not an agency code".into());
        }
        for (name, v) in [
            ("report_type", &e.report_type),
            ("category", &e.category),
            ("region", &e.region),
            ("channel", &e.channel),
        ] {
            if v.as_deref().is_some_and(|v| !plain(v)) {
                return Err(format!("{name}: not a plain label"));
            }
        }
        Ok(e)
    }

    /// The router's decision as a disposition (none for an unrouted complaint).
    pub fn disposition(c: &crate::complaint::Complaint) -> Option<StageEvent> {
        let r = c.routing.as_ref()?;
        let channel = Some(c.channel.as_str().to_string());
        Some(StageEvent {
            complaint: c.id.clone(),
            agency: r.agency.clone(),
            kind: StageKind::Dispositioned,
            at: r.routed_at,
            report_type: Some(r.report_type.clone()).filter(|s| plain(s)),
            category: r.category.clone().filter(|s| plain(s)),
            region: r.region.clone().filter(|s| plain(s)),
            channel: channel.filter(|s| plain(s)),
        })
    }

    /// Routing key on `<prefix>.sla`.
    pub fn routing_key(&self) -> String {
        format!("stage.{}", self.kind.as_str())
    }

    /// Same event, same id: redeliveries are recognisable downstream.
    pub fn message_id(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.complaint,
            self.kind.as_str(),
            self.agency,
            self.at.timestamp_millis()
        )
    }
}

/// What the clock announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaKind {
    Reminder,
    Overdue,
    Escalation,
    /// The citizen did not answer the follow-up in time: the case may close.
    CloseDue,
    /// The outer bound of the case (60 days) passed.
    OuterBound,
}

impl SlaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaKind::Reminder => "reminder",
            SlaKind::Overdue => "overdue",
            SlaKind::Escalation => "escalation",
            SlaKind::CloseDue => "close_due",
            SlaKind::OuterBound => "outer_bound",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaEvent {
    pub schema: u32,
    pub kind: SlaKind,
    pub complaint: String,
    /// The agency the complaint stays with (the clock never moves it).
    pub agency: String,
    pub stage: Stage,
    pub due_at: DateTime<Utc>,
    /// When this event was due (the timer's instant).
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `<complaint>.<clock generation>.<kind>[.<level>]`: the same for a
    /// republished event, so a consumer can drop the copy.
    pub event_id: String,
}

impl SlaEvent {
    pub fn routing_key(&self) -> String {
        match (&self.kind, &self.target) {
            (SlaKind::Escalation, Some(t)) => format!("escalation.{t}"),
            _ => format!("sla.{}", self.agency),
        }
    }
}
