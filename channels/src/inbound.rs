//! The provider-neutral fields of one message received from a citizen.
//!
//! The runtime turns an [`Inbound`] into a complaint message (schema v1) by adding
//! the id, tracking code, reception time and fingerprint.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The channel a complaint arrived through (docs/routing.md §5 values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
    X,
    Telegram,
    Whatsapp,
    Facebook,
    Instagram,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Sms,
        Channel::Email,
        Channel::X,
        Channel::Telegram,
        Channel::Whatsapp,
        Channel::Facebook,
        Channel::Instagram,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::X => "x",
            Channel::Telegram => "telegram",
            Channel::Whatsapp => "whatsapp",
            Channel::Facebook => "facebook",
            Channel::Instagram => "instagram",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of address identifies the sender.
///
/// Schema v1 names `msisdn`, `email` and `handle`; short codes and alphanumeric
/// sender ids (banks, operators) are kept verbatim and flagged so that no reply
/// is ever attempted to a number that cannot receive one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderKind {
    Msisdn,
    Shortcode,
    Alphanumeric,
    Email,
    Handle,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    pub kind: SenderKind,
    /// E.164 for phones, lower-cased for e-mail, the platform's stable user id for handles.
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// Attachment metadata; the bytes live in the runtime's content-addressed store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-256 of the content; empty when only a remote media reference is known.
    pub sha256: String,
    /// Provider media reference (e.g. a WhatsApp media id) when the bytes were not fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// One part of a concatenated SMS, as announced by its UDH (or the provider's fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub reference: u16,
    pub total: u8,
    /// 1-based sequence number.
    pub seq: u8,
}

/// A message from a citizen, as fields the runtime can build a complaint from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inbound {
    pub channel: Channel,
    pub provider: String,
    /// The provider's message id; the key of provider-retry dedupe.
    pub external_id: Option<String>,
    pub sender: Sender,
    /// Short code / mailbox / account the citizen wrote to.
    pub recipient: Option<String>,
    pub subject: Option<String>,
    /// Normalised text (NFC, no control characters).
    pub text: String,
    pub attachments: Vec<Attachment>,
    /// Tracking code of an earlier complaint this message answers.
    pub in_reply_to: Option<String>,
    /// Set when this is one part of a concatenated SMS still to be joined.
    pub segment: Option<Segment>,
    /// When the provider says the message was sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// Provider-specific facts the reply needs (chat id, tweet id, Message-ID, …).
    pub reply_context: BTreeMap<String, String>,
}

impl Inbound {
    /// A text message with no optional fields set; adapters fill in the rest.
    pub fn new(channel: Channel, provider: &str, sender: Sender, text: String) -> Inbound {
        Inbound {
            channel,
            provider: provider.to_string(),
            external_id: None,
            sender,
            recipient: None,
            subject: None,
            text,
            attachments: Vec::new(),
            in_reply_to: None,
            segment: None,
            sent_at: None,
            reply_context: BTreeMap::new(),
        }
    }
}
