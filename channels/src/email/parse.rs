//! One raw message to [`ParsedEmail`]: structure limits, sender, subject, body
//! selection, forwarded messages and attachments.
//!
//! Body selection follows what the citizen saw: `text/plain` when the client
//! sent one, otherwise the HTML converted to text; every inline text part of a
//! `multipart/mixed` is joined (Apple Mail splits text around inline photos).
//! Quoted history is stripped from the citizen's own text only; a message
//! forwarded as an attachment is appended in full, because it usually *is* the
//! complaint ("see what the village head wrote to me").
//!
//! The text that is converted and stripped is capped ([`Limits::max_text_bytes`]
//! per part and in total; an HTML part's source may be four times that): the
//! complaint keeps at most `normalize::MAX_TEXT_CHARS` characters anyway, and
//! the raw copy keeps everything.

use std::panic::{catch_unwind, AssertUnwindSafe};

use chrono::{TimeZone, Utc};
use mail_parser::{Address, HeaderValue, Message, MessageParser, MessagePart, PartType};
use sha2::{Digest, Sha256};

use super::attachments::{collect_attachments, content_type_of};
use super::html::html_to_text;
use super::loops::{self, is_no_reply_address, is_report_type, suppress_reason};
use super::quote::strip_quotes;
use super::recover::broken_text;
use super::threading::{message_ids, tracking_from_message_id};
use super::{Limits, ParseOptions, ParsedEmail, Rejection};
use crate::inbound::{Channel, Inbound, Sender, SenderKind};
use crate::normalize::normalize_text;

/// Longest subject kept (characters); RFC 5322's line limit.
const MAX_SUBJECT_CHARS: usize = 998;
/// Newest ids of `References` kept for threading the reply.
const MAX_REFERENCES: usize = 20;
/// Top-level headers looked at for loop detection; a message with thousands
/// of headers is judged on the first ones.
const MAX_HEADERS_SCANNED: usize = 1000;

pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
        s.push(char::from_digit((b & 0xf) as u32, 16).unwrap_or('0'));
    }
    s
}

/// Parse one raw message; see the module docs.
pub fn parse_message(raw: &[u8], opts: &ParseOptions) -> Result<ParsedEmail, Rejection> {
    let limit = opts.limits.max_header_bytes;
    if header_block_len(raw, limit).is_none() {
        return Err(Rejection::HeaderTooLarge(limit));
    }
    // mail-parser is best-effort and documented not to panic, but it contains
    // debug assertions and index arithmetic on attacker-controlled offsets;
    // a panic here must become a quarantine, not a dead poller.
    match catch_unwind(AssertUnwindSafe(|| parse_inner(raw, opts))) {
        Ok(result) => result,
        Err(_) => Err(Rejection::Unparseable("MIME parser failed on this input".into())),
    }
}

/// Length of the header block when it ends within `limit` bytes (or the
/// message is shorter than `limit`).
fn header_block_len(raw: &[u8], limit: usize) -> Option<usize> {
    let scan = &raw[..raw.len().min(limit.saturating_add(4))];
    let mut i = 0;
    while i < scan.len() {
        if scan[i] == b'\n' {
            match scan.get(i + 1) {
                Some(b'\n') => return (i <= limit).then_some(i),
                Some(b'\r') if scan.get(i + 2) == Some(&b'\n') => return (i <= limit).then_some(i),
                _ => {}
            }
        }
        i += 1;
    }
    (raw.len() <= limit).then_some(raw.len())
}

fn parse_inner(raw: &[u8], opts: &ParseOptions) -> Result<ParsedEmail, Rejection> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| Rejection::Unparseable("no header fields".into()))?;
    if msg.parts.is_empty() {
        return Err(Rejection::Unparseable("no MIME parts".into()));
    }
    check_structure(&msg, &opts.limits)?;
    let headers: Vec<(String, String)> = msg
        .headers_raw()
        .take(MAX_HEADERS_SCANNED)
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();

    let (sender, on_behalf_of_person) = choose_sender(&msg).ok_or(Rejection::NoSender)?;
    let subject = msg.subject().map(clean_subject).filter(|s| !s.is_empty());
    let max_text = opts.limits.max_text_bytes;

    let own = strip_quotes(&body_text(&msg, max_text));
    let mut text = own.text;
    let forwarded = append_forwarded(&msg, &mut text, max_text);
    let mut text = normalize_text(cap(&text, max_text));
    let raw_sha256 = sha256_hex(raw);
    let (attachments, blobs) = collect_attachments(&msg, &opts.limits);
    if text.is_empty() {
        match &subject {
            Some(s) => text = s.clone(),
            None if attachments.is_empty() => return Err(Rejection::Empty),
            None => {}
        }
    }

    let message_id = msg.message_id().and_then(clean_id);
    let in_reply_to = id_list(msg.in_reply_to());
    let mut references = id_list(msg.references());
    if references.is_empty() {
        references = in_reply_to.clone();
    }
    let ack_reference = opts.ack_domain.as_deref().and_then(|domain| {
        in_reply_to
            .iter()
            .chain(references.iter().rev())
            .find_map(|id| tracking_from_message_id(id, domain))
    });
    let mut suppress = suppress_reason(&headers, &sender.address, opts.loop_id.as_deref());
    let has_report_part = msg.parts.iter().skip(1).any(|p| is_report_type(&content_type_of(p)));
    let not_citizen = loops::not_citizen(
        &headers,
        &loops::Context {
            sender: &sender.address,
            own_loop_id: opts.loop_id.as_deref(),
            has_report_part,
            on_behalf_of_person,
        },
    );
    if let (None, Some(nc)) = (suppress, &not_citizen) {
        // Never answer what no citizen wrote, even if an operator replays it.
        suppress = Some(nc.kind.suppress());
    }

    let mut inbound = Inbound::new(Channel::Email, super::PROVIDER, sender, text);
    inbound.external_id = Some(match &message_id {
        Some(id) => id.clone(),
        None => format!("sha256:{raw_sha256}"),
    });
    inbound.recipient = Some(opts.mailbox_address.trim().to_lowercase()).filter(|s| !s.is_empty());
    inbound.subject = subject.clone();
    inbound.attachments = attachments;
    inbound.sent_at = msg.date().and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single());
    let ctx = &mut inbound.reply_context;
    if let Some(id) = &message_id {
        ctx.insert("message_id".into(), format!("<{id}>"));
        references.push(id.clone());
    }
    let skip = references.len().saturating_sub(MAX_REFERENCES);
    let refs: Vec<String> = references.iter().skip(skip).map(|r| format!("<{r}>")).collect();
    if !refs.is_empty() {
        ctx.insert("references".into(), refs.join(" "));
    }
    if let Some(s) = &subject {
        ctx.insert("subject".into(), s.clone());
    }
    ctx.insert("raw_sha256".into(), raw_sha256.clone());
    if forwarded || own.forwarded {
        ctx.insert("forwarded".into(), "true".into());
    }
    if let Some(reason) = suppress {
        ctx.insert("suppress_reply".into(), reason.as_str().into());
    }
    Ok(ParsedEmail {
        inbound,
        blobs,
        raw_sha256,
        ack_reference,
        suppress,
        not_citizen,
    })
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Depth and part count over multiparts and attached messages, iteratively:
/// a hostile 100,000-level nest must not overflow our stack.
fn check_structure(msg: &Message<'_>, limits: &Limits) -> Result<(), Rejection> {
    let mut stack: Vec<(&Message<'_>, u32, usize)> = vec![(msg, 0, 0)];
    let mut visited = 0usize;
    while let Some((m, id, depth)) = stack.pop() {
        if depth > limits.max_depth {
            return Err(Rejection::TooDeep(limits.max_depth));
        }
        visited += 1;
        if visited > limits.max_parts {
            return Err(Rejection::TooManyParts(limits.max_parts));
        }
        let Some(part) = m.parts.get(id as usize) else { continue };
        match &part.body {
            PartType::Multipart(children) => {
                // Children always come after their parent in mail-parser's flat
                // list; anything else would be a cycle.
                stack.extend(children.iter().filter(|c| **c > id).map(|c| (m, *c, depth + 1)));
            }
            PartType::Message(nested) if !nested.parts.is_empty() => stack.push((nested, 0, depth + 1)),
            _ => {}
        }
    }
    Ok(())
}

fn first_addr(a: Option<&Address<'_>>) -> Option<(String, Option<String>)> {
    let addr = a?.first()?;
    let address = clean_address(addr.address()?)?;
    let name = clean_name(addr.name(), &address);
    Some((address, name))
}

/// A plausible mailbox address, lower-cased; `None` for anything else.
pub fn clean_address(a: &str) -> Option<String> {
    let a = a.trim().trim_start_matches('<').trim_end_matches('>').trim();
    let (local, domain) = a.rsplit_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && a.len() <= 254
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
    ok.then(|| a.to_lowercase())
}

fn clean_name(name: Option<&str>, address: &str) -> Option<String> {
    let n = normalize_text(name?);
    let n: String = n
        .trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace())
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect();
    (!n.is_empty() && !n.eq_ignore_ascii_case(address)).then_some(n)
}

/// From, unless it is a no-reply address and Reply-To names a real person
/// (web forms and ticket systems send "on behalf of" the citizen that way;
/// the flag says so). A Reply-To beside an ordinary From is not followed: a
/// forged Reply-To must not turn our acknowledgements into backscatter at a
/// third party.
fn choose_sender(msg: &Message<'_>) -> Option<(Sender, bool)> {
    let from = first_addr(msg.from());
    let reply_to = msg
        .reply_to()
        .filter(|a| a.iter().count() == 1)
        .and_then(|a| first_addr(Some(a)));
    let (chosen, on_behalf) = match (from, reply_to) {
        (Some(f), Some(r)) if is_no_reply_address(&f.0) && !is_no_reply_address(&r.0) => {
            let name = r.1.or(f.1);
            ((r.0, name), true)
        }
        (Some(f), _) => (f, false),
        (None, Some(r)) => (r, false),
        (None, None) => {
            let fallback = first_addr(msg.sender())
                .or_else(|| msg.header_raw("Return-Path").and_then(clean_address).map(|a| (a, None)))?;
            (fallback, false)
        }
    };
    let sender = Sender {
        kind: SenderKind::Email,
        address: chosen.0,
        display_name: chosen.1,
    };
    Some((sender, on_behalf))
}

pub(crate) fn clean_subject(s: &str) -> String {
    let n = normalize_text(s);
    n.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_SUBJECT_CHARS)
        .collect()
}

fn clean_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>').trim();
    let ok = !id.is_empty() && id.len() <= 998 && !id.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| id.to_string())
}

fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
    let mut out = Vec::new();
    match v {
        HeaderValue::Text(t) => out.extend(message_ids(&format!("<{t}>"))),
        HeaderValue::TextList(list) => {
            for t in list {
                out.extend(clean_id(t));
            }
        }
        _ => {}
    }
    out
}

/// A part's text, at most `max` bytes of it (HTML: of its source, up to 4 × `max`).
fn part_text(part: &MessagePart<'_>, max: usize) -> Option<String> {
    match &part.body {
        PartType::Text(_) | PartType::Html(_) if part.is_encoding_problem => {
            let t = broken_text(part)?;
            Some(cap(&t, max).to_string())
        }
        PartType::Text(t) => Some(cap(t, max).to_string()),
        PartType::Html(h) => Some(html_to_text(cap(h, max.saturating_mul(4)))),
        _ => None,
    }
}

/// The citizen's own text: text bodies, or the HTML bodies converted.
fn body_text(msg: &Message<'_>, max: usize) -> String {
    let pick = |ids: &[u32]| -> String {
        let mut out = String::new();
        for t in ids
            .iter()
            .filter_map(|id| msg.parts.get(*id as usize))
            .filter_map(|p| part_text(p, max))
            .filter(|t| !t.trim().is_empty())
        {
            if out.len() >= max {
                break;
            }
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&t);
        }
        cap(&out, max).to_string()
    };
    let mut text = pick(&msg.text_body);
    if text.trim().is_empty() {
        text = pick(&msg.html_body);
    }
    if text.trim().is_empty() {
        // Broken MIME (a boundary that never appears, a bad encoding): the
        // parser keeps the bytes as a text part it does not call a body.
        // Best effort: the root part, or a part the parser had to recover.
        if let Some(t) = msg
            .parts
            .iter()
            .enumerate()
            .filter(|(i, p)| *i == 0 || p.is_encoding_problem)
            .find_map(|(_, p)| part_text(p, max).filter(|t| !t.trim().is_empty()))
        {
            text = t;
        }
    }
    text
}

/// Append messages forwarded as attachments (one level) while `text` is
/// below `max` bytes; true if any.
fn append_forwarded(msg: &Message<'_>, text: &mut String, max: usize) -> bool {
    let mut any = false;
    for id in &msg.attachments {
        if text.len() >= max {
            break;
        }
        let Some(PartType::Message(nested)) = msg.parts.get(*id as usize).map(|p| &p.body) else {
            continue;
        };
        if nested.parts.is_empty() {
            continue;
        }
        any = true;
        let mut block = String::from("\n\n---------- Pesan terusan ----------\n");
        if let Some((a, n)) = first_addr(nested.from()) {
            let who = n.map(|n| format!("{n} <{a}>")).unwrap_or(a);
            block.push_str(&format!("Dari: {who}\n"));
        }
        if let Some(s) = nested.subject() {
            block.push_str(&format!("Subjek: {}\n", clean_subject(s)));
        }
        block.push('\n');
        block.push_str(&body_text(nested, max));
        text.push_str(&block);
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ParseOptions {
        ParseOptions {
            mailbox_address: "Pengaduan@Lapor.go.id".into(),
            loop_id: Some("pintu@lapor.go.id".into()),
            ack_domain: Some("lapor.go.id".into()),
            ..ParseOptions::default()
        }
    }

    #[test]
    fn minimal_message() {
        let raw = b"From: Budi <Budi@Example.COM>\r\nSubject: Jalan rusak\r\nMessage-ID: <a1@example.com>\r\n\r\nJalan di depan rumah rusak.\r\n";
        let p = parse_message(raw, &opts()).unwrap();
        assert_eq!(p.inbound.sender.address, "budi@example.com");
        assert_eq!(p.inbound.sender.display_name.as_deref(), Some("Budi"));
        assert_eq!(p.inbound.text, "Jalan di depan rumah rusak.");
        assert_eq!(p.inbound.external_id.as_deref(), Some("a1@example.com"));
        assert_eq!(p.inbound.recipient.as_deref(), Some("pengaduan@lapor.go.id"));
        assert_eq!(p.inbound.reply_context["references"], "<a1@example.com>");
        assert!(p.suppress.is_none());
    }

    #[test]
    fn hostile_structures_are_rejected_not_crashed() {
        // 10,000 nested multiparts.
        let mut raw = String::from("From: a@b.id\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
        for i in 0..10_000 {
            raw.push_str(&format!(
                "--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n",
                i + 1
            ));
        }
        raw.push_str("--b10000\r\nContent-Type: text/plain\r\n\r\nx\r\n");
        let r = parse_message(raw.as_bytes(), &opts());
        assert!(matches!(r, Err(Rejection::TooDeep(_))), "{r:?}");

        // A header block of 1 MB.
        let raw = format!("From: a@b.id\r\nX-Junk: {}\r\n\r\nbody", "x".repeat(1 << 20));
        assert_eq!(
            parse_message(raw.as_bytes(), &opts()),
            Err(Rejection::HeaderTooLarge(256 * 1024))
        );

        // Binary garbage.
        let garbage: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(parse_message(&garbage, &opts()).is_err());
        assert!(parse_message(b"", &opts()).is_err());
    }

    /// Found by `cargo fuzz run email`: a forwarded message named after a
    /// long subject got `.eml` after the 255-byte cut; a subject of dots
    /// became the hidden name `.eml`.
    #[test]
    fn forwarded_message_names_fit_and_are_not_hidden() {
        let forward = |subject: &str| {
            format!(
                "From: a@b.id\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nlihat\r\n\
                 --x\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.id\r\nSubject: {subject}\r\n\r\nisi\r\n--x--\r\n"
            )
        };
        let p = parse_message(forward(&"é".repeat(200)).as_bytes(), &opts()).unwrap();
        let name = &p.inbound.attachments[0].name;
        assert!(
            name.len() <= 255 && name.ends_with(".eml"),
            "{} bytes: {name}",
            name.len()
        );
        let p = parse_message(forward(". . .").as_bytes(), &opts()).unwrap();
        assert_eq!(p.inbound.attachments[0].name, "lampiran-1.eml");
        assert_eq!(crate::email::attachments::clean_file_name(". . x", 255), "x");
    }

    #[test]
    fn many_parts_are_rejected() {
        let mut raw = String::from("From: a@b.id\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n");
        for _ in 0..1000 {
            raw.push_str("--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n");
        }
        raw.push_str("--x--\r\n");
        assert_eq!(
            parse_message(raw.as_bytes(), &opts()),
            Err(Rejection::TooManyParts(256))
        );
    }
}
