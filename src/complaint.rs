//! The complaint message, schema v1 (docs/design.md), as it travels on the wire.
//!
//! `schema/complaint-v1.json` is the JSON Schema of this type; a test checks
//! that every message the gateway publishes validates against it.

use chrono::{DateTime, Utc};
use pintu_channels::{Attachment, Channel, Sender};
use serde::{Deserialize, Serialize};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    pub confidential: bool,
    pub anonymous: bool,
    /// A concatenated SMS whose missing parts never arrived; ingested as received.
    #[serde(default)]
    pub partial: bool,
}

/// The router's decision, added by `pintu route`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Routing {
    pub category: Option<String>,
    pub region: Option<String>,
    pub agency: String,
    pub report_type: String,
    pub reasons: Vec<String>,
    pub router_version: String,
    pub routed_at: DateTime<Utc>,
    /// Rule 9: how likely `agency` is right (0-1); absent in decisions made
    /// before confidences existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// When held back for the triage desk (low confidence or no category):
    /// the agency the router would have chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_agency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Complaint {
    pub schema: u32,
    /// ULID; also the AMQP `message_id`.
    pub id: String,
    /// Short code the citizen quotes (`LPR-7K3Q9X`).
    pub tracking: String,
    pub received_at: DateTime<Utc>,
    pub channel: Channel,
    pub provider: String,
    pub external_id: Option<String>,
    /// `None` only after the router removed it from an anonymous complaint.
    pub sender: Option<Sender>,
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub flags: Flags,
    pub in_reply_to: Option<String>,
    /// Number of concatenated SMS parts received (1 for everything else).
    pub parts: u32,
    /// Hex hash of the folded text (not of the sender): spots campaigns and repeats.
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
}
