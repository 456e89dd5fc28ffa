//! E-mail: one RFC 5322 message, as fetched over IMAP, to complaint fields.
//!
//! Pure functions, like every adapter in this crate: the runtime fetches the
//! bytes, calls [`parse_message`], stores the returned blobs (attachments and
//! the raw message) content-addressed, and hands the [`Inbound`] to intake.
//! One module per concern:
//! - [`parse`]: MIME structure, headers, sender, body selection;
//! - [`attachments`]: attachment names, types, bytes and limits;
//! - [`recover`]: decoding parts whose closing boundary is missing;
//! - [`html`]: HTML bodies to text;
//! - [`quote`]: quoted history and signatures (not disclaimers);
//! - [`loops`]: auto-replies, lists, bounces, no-reply senders (RFC 3834),
//!   and mail no citizen wrote ([`NotCitizen`]: the runtime quarantines it);
//! - [`threading`]: Message-IDs of our acknowledgements and mapping replies back.
//!
//! Hostile input never panics the caller: structural limits turn into a
//! [`Rejection`] (the runtime quarantines the message with that reason), and
//! the third-party MIME parser runs under `catch_unwind` as a last line.

pub mod attachments;
pub mod html;
pub mod loops;
pub mod parse;
pub mod quote;
pub mod recover;
pub mod threading;

use thiserror::Error;

use crate::inbound::Inbound;

pub use loops::{Automated, NotCitizen, Suppress};
pub use parse::parse_message;

/// Provider name of e-mail complaints (part of dedupe keys and reply routing).
pub const PROVIDER: &str = "imap";

/// Structural limits; a message beyond them is quarantined, not ingested.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest header block of the top-level message (bytes).
    pub max_header_bytes: usize,
    /// Deepest nesting of multiparts and attached messages.
    pub max_depth: usize,
    /// Most MIME parts in the whole message.
    pub max_parts: usize,
    /// Attachments kept; more are listed as omitted (the raw copy still has them).
    pub max_attachments: usize,
    /// Largest single attachment kept (bytes).
    pub max_attachment_bytes: usize,
    /// Largest sum of kept attachments (bytes).
    pub max_total_attachment_bytes: usize,
    /// Most text (bytes) converted and quote-stripped per part and in total;
    /// an HTML part's source may be 4× this. The rest stays in the raw copy.
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 256 * 1024,
            max_depth: 12,
            max_parts: 256,
            max_attachments: 20,
            max_attachment_bytes: 10 * 1024 * 1024,
            max_total_attachment_bytes: 25 * 1024 * 1024,
            max_text_bytes: 256 * 1024,
        }
    }
}

/// What the runtime tells the parser about the mailbox.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    pub limits: Limits,
    /// Address of the mailbox the message was read from (`Inbound.recipient`).
    pub mailbox_address: String,
    /// `X-Loop` value our replies carry; a message with it is never answered.
    pub loop_id: Option<String>,
    /// Domain of our acknowledgement Message-IDs (see [`threading`]).
    pub ack_domain: Option<String>,
}

/// Bytes the runtime must store content-addressed before intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// A message turned into complaint fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEmail {
    /// `external_id` is the Message-ID (or `sha256:<raw hash>` when there is none).
    pub inbound: Inbound,
    /// Attachment contents, one per kept entry of `inbound.attachments`.
    pub blobs: Vec<Blob>,
    /// SHA-256 of the raw message: the name of its stored copy.
    pub raw_sha256: String,
    /// Tracking code read from an `In-Reply-To`/`References` id of one of our
    /// acknowledgements; the runtime checks it exists before setting `in_reply_to`.
    pub ack_reference: Option<String>,
    /// Why no acknowledgement may be sent (also set in `reply_context`).
    pub suppress: Option<Suppress>,
    /// Set when no citizen wrote this (an out-of-office, a newsletter, a
    /// bounce …): the runtime quarantines it instead of ingesting it.
    pub not_citizen: Option<NotCitizen>,
}

/// A message that cannot become a complaint; the runtime quarantines it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    #[error("not an e-mail message: {0}")]
    Unparseable(String),
    #[error("header block larger than {0} bytes")]
    HeaderTooLarge(usize),
    #[error("MIME nesting deeper than {0}")]
    TooDeep(usize),
    #[error("more than {0} MIME parts")]
    TooManyParts(usize),
    #[error("no usable sender address")]
    NoSender,
    #[error("no text, subject or attachment")]
    Empty,
}

impl Rejection {
    /// Label value of `pintu_rejected_total{channel="email",reason=…}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Unparseable(_) => "unparseable",
            Rejection::HeaderTooLarge(_) => "header_too_large",
            Rejection::TooDeep(_) => "too_deep",
            Rejection::TooManyParts(_) => "too_many_parts",
            Rejection::NoSender => "no_sender",
            Rejection::Empty => "empty",
        }
    }
}
