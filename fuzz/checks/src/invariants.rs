//! Properties every adapter's output must have, whatever the input:
//! - text is normalised and normalising it again changes nothing;
//! - an SMS part's sequence is within its total;
//! - a phone number is E.164 and normalising it again changes nothing;
//! - the output (messages, reasons, errors, answers) is bounded by the input:
//!   no input can make an adapter produce more than a constant factor of what
//!   it was sent, plus a fixed overhead per message.

use pintu_channels::normalize::text::MAX_TEXT_CHARS;
use pintu_channels::normalize::{clean_fragment, normalize_sender, normalize_text};
use pintu_channels::{AdapterError, Inbound, Parsed, SenderKind};

/// Output bytes allowed per input byte (charset decoding can turn one byte
/// into a three-byte character; JSON escapes add a little).
pub const OUTPUT_FACTOR: usize = 4;
/// Output bytes allowed per message beyond that: field names, ids, provider.
pub const PER_MESSAGE: usize = 1024;
/// Output bytes allowed per request.
pub const PER_REQUEST: usize = 1024;

/// Check one message; `ctx` names the target and adapter in a panic.
pub fn inbound(m: &Inbound, ctx: &str) {
    let chars = m.text.chars().count();
    assert!(chars <= MAX_TEXT_CHARS, "{ctx}: text of {chars} characters");
    match m.segment {
        None => assert_eq!(normalize_text(&m.text), m.text, "{ctx}: text normalised twice differs"),
        Some(s) => {
            assert!(
                s.total >= 1 && s.seq >= 1 && s.seq <= s.total,
                "{ctx}: part {} of {}",
                s.seq,
                s.total
            );
            assert_eq!(clean_fragment(&m.text), m.text, "{ctx}: fragment cleaned twice differs");
        }
    }
    assert!(!m.provider.is_empty(), "{ctx}: no provider");
    let s = &m.sender;
    match s.kind {
        SenderKind::Msisdn => {
            let digits = s.address.strip_prefix('+').unwrap_or("");
            assert!(
                (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()),
                "{ctx}: MSISDN {:?} is not E.164",
                s.address
            );
        }
        SenderKind::Shortcode => assert!(
            s.address.len() <= 8 && s.address.bytes().all(|b| b.is_ascii_digit()),
            "{ctx}: short code {:?}",
            s.address
        ),
        _ => {}
    }
    if matches!(
        s.kind,
        SenderKind::Msisdn | SenderKind::Shortcode | SenderKind::Alphanumeric
    ) {
        let again = normalize_sender(&s.address);
        assert!(
            again.kind == s.kind && again.address == s.address,
            "{ctx}: sender {:?} ({:?}) normalised again is {:?} ({:?})",
            s.address,
            s.kind,
            again.address,
            again.kind
        );
    }
    if let Some(n) = &s.display_name {
        assert!(!n.trim().is_empty(), "{ctx}: blank display name");
    }
}

/// Serialised size of the messages (what travels through the queues).
pub fn output_size(messages: &[Inbound]) -> usize {
    messages
        .iter()
        .map(|m| serde_json::to_vec(m).map_or(0, |v| v.len()))
        .sum()
}

/// Messages of one input of `len` bytes: each checked, and the whole bounded.
pub fn messages(messages: &[Inbound], len: usize, ctx: &str) {
    for m in messages {
        inbound(m, ctx);
    }
    let size = output_size(messages);
    let allowed = OUTPUT_FACTOR * len + PER_MESSAGE * messages.len() + PER_REQUEST;
    assert!(
        size <= allowed,
        "{ctx}: {} messages of {size} bytes from {len} input bytes (allowed {allowed})",
        messages.len()
    );
}

/// An adapter's answer to one input of `len` bytes.
pub fn parsed(result: &Result<Parsed, AdapterError>, len: usize, ctx: &str) {
    match result {
        Ok(Parsed::Messages(m)) => {
            assert!(!m.is_empty(), "{ctx}: Messages with no message");
            messages(m, len, ctx);
        }
        Ok(Parsed::Batch {
            messages: m,
            skipped,
            skipped_total,
        }) => {
            assert!(
                !skipped.is_empty() && *skipped_total >= skipped.len(),
                "{ctx}: Batch of {skipped_total} skipped items with {} reasons",
                skipped.len()
            );
            messages(m, len, ctx);
            let bytes: usize = skipped.iter().map(String::len).sum();
            let allowed = OUTPUT_FACTOR * len + PER_REQUEST;
            assert!(
                bytes <= allowed,
                "{ctx}: {} skip reasons of {bytes} bytes from {len} input bytes (allowed {allowed})",
                skipped.len()
            );
        }
        Ok(Parsed::Ignored(reason)) => assert!(
            reason.len() <= len + 512,
            "{ctx}: ignore reason of {} bytes",
            reason.len()
        ),
        Ok(Parsed::Respond(r)) => assert!(r.body.len() <= 1024, "{ctx}: answer of {} bytes", r.body.len()),
        Err(e) => {
            let shown = e.to_string().len();
            assert!(shown <= len + 512, "{ctx}: error message of {shown} bytes");
        }
    }
}
