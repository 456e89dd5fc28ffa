//! The one trait every webhook-driven provider implements.
//!
//! The runtime calls [`WebhookAdapter::authenticate`] first (a failure is counted
//! and answered 401/403, never ingested), then [`WebhookAdapter::parse`], makes the
//! resulting messages durable, and only then answers with
//! [`WebhookAdapter::accepted`] — the provider's own idea of "got it".

use std::net::IpAddr;

use http::{HeaderMap, Method, Uri};
use thiserror::Error;

use crate::inbound::{Channel, Inbound};

/// A provider's HTTP request, reduced to what an adapter may look at.
#[derive(Debug, Clone, Copy)]
pub struct WebRequest<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    /// The URL as the provider called it (scheme, host, path, query); signature
    /// schemes such as Twilio's sign this, not what a proxy forwarded.
    pub public_url: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub remote: Option<IpAddr>,
}

impl<'a> WebRequest<'a> {
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query(&self) -> &'a [u8] {
        self.uri.query().unwrap_or("").as_bytes()
    }

    pub fn content_type(&self) -> &'a str {
        self.header("content-type").unwrap_or("")
    }
}

/// An HTTP answer chosen by an adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl WebResponse {
    pub fn text(status: u16, body: impl Into<String>) -> WebResponse {
        WebResponse {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: &serde_json::Value) -> WebResponse {
        WebResponse {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }
}

/// What a valid request turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Citizen messages to make durable before answering.
    Messages(Vec<Inbound>),
    /// A protocol exchange that carries no complaint (subscription challenge, CRC).
    Respond(WebResponse),
    /// A valid event that is not a citizen message (delivery status, our own echo).
    Ignored(String),
    /// A signed batch in which some items could not be read: make `messages`
    /// durable, count `skipped_total` items, and answer as accepted — the
    /// provider redelivering the same bytes cannot make them readable, and
    /// refusing the batch would refuse its valid messages with it.
    Batch {
        messages: Vec<Inbound>,
        /// Why the first skipped items could not be read (a few, for the log).
        skipped: Vec<String>,
        /// Every skipped item, however many reasons are kept.
        skipped_total: usize,
    },
}

/// The outcome of intake for one message, used to build the provider's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub id: Option<String>,
    /// None while a concatenated SMS still waits for its other parts.
    pub tracking: Option<String>,
    pub duplicate: bool,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing credential: {0}")]
    Missing(&'static str),
    #[error("invalid credential: {0}")]
    Invalid(&'static str),
    #[error("source address not allowed")]
    SourceNotAllowed,
}

impl AuthError {
    /// 401 when nothing was presented, 403 when what was presented is wrong.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Missing(_) => 401,
            AuthError::Invalid(_) | AuthError::SourceNotAllowed => 403,
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AdapterError {
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("invalid field `{field}`: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("malformed body: {0}")]
    Malformed(String),
    #[error("unsupported method {0}")]
    Method(String),
}

impl AdapterError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> AdapterError {
        AdapterError::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

/// One provider's webhook: authentication, parsing, and the answer it expects.
pub trait WebhookAdapter: Send + Sync {
    /// Stable provider name (`kannel`, `jasmin`, `meta-whatsapp`, …); part of dedupe keys.
    fn provider(&self) -> &'static str;
    fn channel(&self) -> Channel;
    fn authenticate(&self, req: &WebRequest<'_>) -> Result<(), AuthError>;
    fn parse(&self, req: &WebRequest<'_>) -> Result<Parsed, AdapterError>;
    /// When the provider's signature covers each message's `sent_at` (X signs
    /// the body holding the tweet's creation time), how old a genuine delivery
    /// can be; the runtime refuses older messages as replays. `None`: no
    /// signed time (the replay id store protects those providers).
    fn signed_time_max_age(&self) -> Option<std::time::Duration> {
        None
    }

    /// The answer once every message of the request is durable.
    fn accepted(&self, receipts: &[Receipt]) -> WebResponse {
        let items: Vec<serde_json::Value> = receipts
            .iter()
            .map(|r| serde_json::json!({"id": r.id, "tracking": r.tracking, "duplicate": r.duplicate}))
            .collect();
        WebResponse::json(200, &serde_json::json!({ "accepted": items }))
    }
}
