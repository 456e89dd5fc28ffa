//! Social channel adapters: X (mentions polling and the Account Activity
//! webhook), Meta (WhatsApp Cloud API, Messenger, Instagram) and Telegram.
//!
//! Every citizen becomes one sender per channel: `kind = handle`, the address is
//! the platform's stable user id (X author id, WhatsApp `wa_id`, page-scoped or
//! Instagram-scoped id, Telegram user id) and the human name goes to
//! `display_name`, because names and @usernames change while ids do not — and
//! the dedupe key (sender + text) must survive a rename.
//!
//! What a reply needs (tweet id, phone-number id, chat id) travels in
//! `reply_context`; the runtime's transports read it back.

pub mod meta;
pub mod telegram;
pub mod x;

use chrono::{DateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;

use crate::adapter::{AdapterError, Parsed, WebRequest};
use crate::form::Fields;
use crate::inbound::{Attachment, Inbound};
use crate::normalize::normalize_text;

/// Raw text beyond this is refused: the longest post any of these platforms
/// allows (an X long post, 25,000 characters) fits with room to spare.
pub const MAX_TEXT_BYTES: usize = 128 * 1024;

/// Content type of a location "attachment": the reference is an RFC 5870
/// `geo:` URI, not a file.
pub const GEO_CONTENT_TYPE: &str = "text/x-geo-uri";

pub(crate) fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, AdapterError> {
    if body.is_empty() {
        return Err(AdapterError::Malformed("empty body".into()));
    }
    serde_json::from_slice(body).map_err(|e| AdapterError::Malformed(format!("not the expected JSON: {e}")))
}

pub(crate) fn query_param(req: &WebRequest<'_>, name: &str) -> Option<String> {
    Fields::from_bytes(req.query()).text(name)
}

/// Normalised text, refusing what no platform can have sent.
pub(crate) fn clean_text(field: &'static str, raw: &str) -> Result<String, AdapterError> {
    if raw.len() > MAX_TEXT_BYTES {
        return Err(AdapterError::invalid(
            field,
            format!("{} bytes is more than the platform allows", raw.len()),
        ));
    }
    Ok(normalize_text(raw))
}

/// Longest name or username kept (characters). Platforms allow far less
/// (X 50, Telegram 64), and a payload may name one sender for many messages:
/// an unbounded name would be normalised and copied into each of them.
pub(crate) const MAX_NAME_CHARS: usize = 128;

/// `Name (@username)`, `Name`, `@username`, or nothing.
pub(crate) fn display_name(name: Option<&str>, username: Option<&str>) -> Option<String> {
    // Cut first: the work per message stays bounded whatever was sent.
    let cut = |s: &str| -> String { s.chars().take(MAX_NAME_CHARS).collect::<String>().trim().to_string() };
    let name = name.map(cut).filter(|s| !s.is_empty());
    let username = username.map(cut).filter(|s| !s.is_empty());
    let shown = match (name, username) {
        (Some(n), Some(u)) => format!("{n} (@{u})"),
        (Some(n), None) => n.to_string(),
        (None, Some(u)) => format!("@{u}"),
        (None, None) => return None,
    };
    Some(normalize_text(&shown)).filter(|s| !s.is_empty())
}

/// A shared location as an attachment; the place's name goes into the text
/// separately because the router reads regions from text.
pub(crate) fn geo_attachment(lat: f64, lon: f64) -> Option<Attachment> {
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return None;
    }
    Some(Attachment {
        name: "location".into(),
        content_type: GEO_CONTENT_TYPE.into(),
        size: 0,
        sha256: String::new(),
        reference: Some(format!("geo:{lat},{lon}")),
    })
}

/// A media file known only by the platform's reference.
pub(crate) fn media(name: &str, content_type: Option<&str>, size: Option<u64>, reference: &str) -> Attachment {
    Attachment {
        name: name.to_string(),
        content_type: content_type
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .unwrap_or("application/octet-stream")
            .to_string(),
        size: size.unwrap_or(0),
        sha256: String::new(),
        reference: Some(reference.to_string()),
    }
}

pub(crate) fn unix_secs(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}

pub(crate) fn unix_millis(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// Join text pieces (message text, caption, place name) with newlines.
pub(crate) fn join_text(parts: &[Option<&str>]) -> String {
    parts
        .iter()
        .flatten()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One item of a batch as `T`, or `None` when it cannot be read (skipped,
/// with the reason). A non-object is refused before serde formats an error
/// for it: a batch of 100,000 `1`s costs no more than reading them.
pub(crate) fn batch_item<T: DeserializeOwned>(out: &mut Collected, what: &str, item: serde_json::Value) -> Option<T> {
    if !item.is_object() {
        out.skip(format_args!("{what}: not an object"));
        return None;
    }
    match serde_json::from_value(item) {
        Ok(t) => Some(t),
        Err(e) => {
            out.skip(format_args!("{what}: {e}"));
            None
        }
    }
}

/// Longest ignore reason shown (bytes); more is cut.
const MAX_REASON_BYTES: usize = 300;

/// Skip reasons kept per request; the others are only counted.
pub(crate) const MAX_SKIP_REASONS: usize = 16;

/// Messages found in one webhook call, why the other items were ignored
/// (valid events that are not complaints), and which could not be read.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub messages: Vec<Inbound>,
    pub ignored: Vec<String>,
    /// Why the first malformed items could not be read.
    pub skipped: Vec<String>,
    /// Every malformed item (each is counted).
    pub skipped_total: usize,
    /// Bytes of `ignored` once joined.
    ignored_bytes: usize,
}

impl Collected {
    pub fn ignore(&mut self, reason: impl Into<String>) {
        // Reasons past what `finish` shows are not kept: checking each new one
        // against thousands of earlier ones would be quadratic in the request.
        if self.ignored_bytes >= MAX_REASON_BYTES {
            return;
        }
        let reason = reason.into();
        if !self.ignored.contains(&reason) {
            self.ignored_bytes += reason.len() + "; ".len();
            self.ignored.push(reason);
        }
    }

    /// An item that cannot be read; the rest of the batch still counts.
    pub fn skip(&mut self, reason: impl std::fmt::Display) {
        self.skipped_total += 1;
        // A request of 120,000 unreadable items must not become 120,000
        // reasons (and log lines): a few say what was wrong, and the others
        // are not even formatted.
        if self.skipped.len() < MAX_SKIP_REASONS {
            let reason: String = reason.to_string().chars().take(300).collect();
            self.skipped.push(reason);
        }
    }

    /// A batch with skipped items; else messages if there is at least one;
    /// otherwise every ignore reason, one line.
    pub fn finish(self) -> Parsed {
        if !self.skipped.is_empty() {
            return Parsed::Batch {
                messages: self.messages,
                skipped: self.skipped,
                skipped_total: self.skipped_total,
            };
        }
        if !self.messages.is_empty() {
            return Parsed::Messages(self.messages);
        }
        if self.ignored.is_empty() {
            return Parsed::Ignored("no messages in the event".into());
        }
        let mut reason = self.ignored.join("; ");
        if reason.len() > MAX_REASON_BYTES {
            let cut = (0..=MAX_REASON_BYTES)
                .rev()
                .find(|i| reason.is_char_boundary(*i))
                .unwrap_or(0);
            reason.truncate(cut);
        }
        Parsed::Ignored(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            display_name(Some("Budi"), Some("budi_s")).as_deref(),
            Some("Budi (@budi_s)")
        );
        assert_eq!(display_name(Some(" "), Some("budi")).as_deref(), Some("@budi"));
        assert_eq!(display_name(None, None), None);
    }

    /// Found with the `social` fuzz target's time bound: a WhatsApp payload
    /// names one contact for all its messages (and an X page one user for all
    /// its tweets), so a 60 KB name was normalised and copied into each of
    /// 2,500 messages (8 s, and 20 KB per message).
    #[test]
    fn long_names_are_cut() {
        let long = "N".repeat(60_000);
        let shown = display_name(Some(&long), Some(&long)).unwrap_or_default();
        assert!(
            shown.chars().count() <= 2 * MAX_NAME_CHARS + 4,
            "{} characters",
            shown.chars().count()
        );
        assert_eq!(
            display_name(Some(&format!("Budi{}", " ".repeat(200))), None).as_deref(),
            Some("Budi")
        );
    }

    /// Found with the `social` fuzz target's time bound: every distinct
    /// reason was checked against all earlier ones (7,000 unsupported
    /// message types: 2 s), though `finish` shows only the first 300 bytes.
    #[test]
    fn ignore_reasons_stop_at_what_is_shown() {
        let mut c = Collected::default();
        for i in 0..10_000 {
            c.ignore(format!("message type `t{i}` not supported"));
        }
        assert!(c.ignored.len() <= 16, "{} reasons kept", c.ignored.len());
        match c.finish() {
            Parsed::Ignored(r) => {
                assert!(r.starts_with("message type `t0` not supported; message type `t1`"));
                assert!(r.len() <= 300);
            }
            other => panic!("{other:?}"),
        }
    }

    /// Found by the `social` fuzz target's output bound: a WhatsApp batch of
    /// 120,000 unreadable items (`[1,1,…]`, 240 KB) gave 120,000 skip reasons,
    /// 7.3 MB, each logged as a warning.
    #[test]
    fn skipped_items_are_counted_and_a_few_reasons_kept() {
        let mut c = Collected::default();
        for i in 0..10_000 {
            c.skip(format_args!("message: invalid type: integer `{i}`"));
        }
        match c.finish() {
            Parsed::Batch {
                skipped, skipped_total, ..
            } => {
                assert_eq!(skipped_total, 10_000);
                assert_eq!(skipped.len(), MAX_SKIP_REASONS);
                assert!(skipped[0].ends_with("`0`"));
            }
            other => panic!("{other:?}"),
        }
    }

    /// A non-object item is skipped without serde formatting an error for
    /// it (a 240 KB batch of `1`s took 253 ms under the fuzz target's
    /// sanitizer, 50 ms now); an object that does not fit still says why.
    #[test]
    fn batch_items_that_are_not_objects() {
        #[derive(serde::Deserialize, Debug)]
        struct Item {
            #[allow(dead_code)]
            id: String,
        }
        let mut c = Collected::default();
        assert!(batch_item::<Item>(&mut c, "message", serde_json::json!(1)).is_none());
        assert!(batch_item::<Item>(&mut c, "message", serde_json::json!({})).is_none());
        assert!(batch_item::<Item>(&mut c, "message", serde_json::json!({"id": "a"})).is_some());
        assert_eq!(c.skipped_total, 2);
        assert_eq!(c.skipped[0], "message: not an object");
        assert!(c.skipped[1].contains("missing field `id`"), "{}", c.skipped[1]);
    }

    #[test]
    fn geo_bounds() {
        assert!(geo_attachment(-6.2, 106.8).is_some());
        assert!(geo_attachment(91.0, 0.0).is_none());
        assert!(geo_attachment(f64::NAN, 0.0).is_none());
    }
}
