//! Target `email`: the whole parse of one raw message, as the IMAP poller
//! hands it over (MIME structure, charsets, HTML to text, quote stripping,
//! loop detection, threading, attachments).
//!
//! Input: the raw message, as is (the `.eml` fixtures are seeds verbatim).
//!
//! Asserted: the time bound; an accepted message has normalised text (or
//! at least an attachment), a plausible lower-case sender address, a clean
//! subject of at most 998 characters, the SHA-256 of the input as its raw
//! hash, a suppression reason that agrees with `reply_context`, a tracking
//! code of the right form if any, at most 20 references; attachments kept
//! within the limits, each with a blob of that hash and a safe file name;
//! blobs and the message bounded by the input size.
//!
//! With `PINTU_FUZZ_KNOWN=html,quote` an overrun spent mostly in
//! HTML conversion or quote stripping (their own targets' stages) is
//! not a finding of this target.

use std::sync::OnceLock;

use mail_parser::{MessageParser, PartType};
use pintu_channels::email::html::html_to_text;
use pintu_channels::email::parse::{clean_address, sha256_hex};
use pintu_channels::email::quote::strip_quotes;
use pintu_channels::email::{parse_message, Limits, ParseOptions};
use pintu_channels::SenderKind;

use crate::budget::{cpu_time, known, measure, Budget, Overrun};
use crate::invariants;

/// 1 ms per KiB is orders of magnitude above a linear parse.
pub const BUDGET: Budget = Budget::new(50, 1000);

pub fn opts() -> &'static ParseOptions {
    static O: OnceLock<ParseOptions> = OnceLock::new();
    O.get_or_init(|| ParseOptions {
        limits: Limits::default(),
        mailbox_address: "Pengaduan@Lapor.go.id".into(),
        loop_id: Some("pintu@lapor.go.id".into()),
        ack_domain: Some("lapor.go.id".into()),
    })
}

/// Whether most of an overrun is spent in the known-slow stages, timed on
/// the text and HTML parts the MIME parser finds.
fn known_stage_overrun(raw: &[u8], o: &Overrun) -> bool {
    if !known("html") && !known("quote") {
        return false;
    }
    let Some(msg) = MessageParser::default().parse(raw) else {
        return false;
    };
    let ((), spent) = cpu_time(|| {
        for part in &msg.parts {
            match &part.body {
                PartType::Html(h) => drop(strip_quotes(&html_to_text(h))),
                PartType::Text(t) => drop(strip_quotes(t)),
                _ => {}
            }
        }
    });
    spent * 2 >= o.took
}

pub fn check(data: &[u8]) {
    let n = data.len();
    let opts = opts();
    let (result, overrun) = measure(n, BUDGET, || parse_message(data, opts));
    if let Some(o) = overrun {
        if !known_stage_overrun(data, &o) {
            panic!("time bound exceeded in email parse: {o}");
        }
    }
    let p = match result {
        Ok(p) => p,
        Err(rejection) => {
            assert!(!rejection.reason().is_empty());
            assert!(rejection.to_string().len() <= 512, "rejection message: {rejection}");
            return;
        }
    };
    let m = &p.inbound;
    invariants::messages(std::slice::from_ref(m), n, "email");
    assert_eq!(m.sender.kind, SenderKind::Email, "email: sender kind");
    assert_eq!(
        clean_address(&m.sender.address).as_deref(),
        Some(m.sender.address.as_str()),
        "email: sender address not clean"
    );
    assert!(
        !m.text.is_empty() || !m.attachments.is_empty(),
        "email: accepted with nothing in it"
    );
    if let Some(s) = &m.subject {
        assert!(
            s.chars().count() <= 998,
            "email: subject of {} characters",
            s.chars().count()
        );
        assert!(
            !s.is_empty() && !s.contains('\n') && s == s.trim(),
            "email: subject {s:?}"
        );
    }
    let raw_sha = sha256_hex(data);
    assert_eq!(p.raw_sha256, raw_sha, "email: raw hash");
    assert_eq!(
        m.reply_context.get("raw_sha256"),
        Some(&raw_sha),
        "email: raw hash in context"
    );
    assert!(
        m.external_id.as_deref().is_some_and(|id| !id.is_empty()),
        "email: no external id"
    );
    assert_eq!(
        m.reply_context.get("suppress_reply").map(String::as_str),
        p.suppress.map(|s| s.as_str()),
        "email: suppression and reply_context disagree"
    );
    if let Some(code) = &p.ack_reference {
        let ok = code.len() == 10
            && code.starts_with("LPR-")
            && code[4..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        assert!(ok, "email: tracking code {code:?}");
    }
    if let Some(refs) = m.reply_context.get("references") {
        assert!(refs.split(' ').count() <= 20, "email: more than 20 references");
    }

    let limits = &opts.limits;
    let kept: Vec<_> = m.attachments.iter().filter(|a| !a.sha256.is_empty()).collect();
    assert!(
        kept.len() <= limits.max_attachments,
        "email: {} attachments kept",
        kept.len()
    );
    let kept_bytes: u64 = kept.iter().map(|a| a.size).sum();
    assert!(
        kept_bytes <= limits.max_total_attachment_bytes as u64,
        "email: {kept_bytes} attachment bytes kept"
    );
    for a in &m.attachments {
        assert!(
            !a.name.is_empty() && a.name.len() <= 255,
            "email: attachment name {:?}",
            a.name
        );
        assert!(
            !a.name.contains(['/', '\\']) && !a.name.starts_with('.') && !a.name.chars().any(char::is_control),
            "email: unsafe attachment name {:?}",
            a.name
        );
        if a.sha256.is_empty() {
            assert!(
                a.reference.as_deref().is_some_and(|r| r.starts_with("omitted:")),
                "email: attachment neither kept nor omitted"
            );
        } else {
            assert!(
                a.size <= limits.max_attachment_bytes as u64,
                "email: attachment of {} bytes",
                a.size
            );
            assert!(
                p.blobs
                    .iter()
                    .any(|b| b.sha256 == a.sha256 && b.bytes.len() as u64 == a.size),
                "email: kept attachment without its blob"
            );
        }
    }
    let mut blob_bytes = 0usize;
    for (i, b) in p.blobs.iter().enumerate() {
        assert_eq!(sha256_hex(&b.bytes), b.sha256, "email: blob hash");
        assert!(
            p.blobs[..i].iter().all(|o| o.sha256 != b.sha256),
            "email: blob stored twice"
        );
        blob_bytes += b.bytes.len();
    }
    // Decoding shrinks base64 and quoted-printable; a charset can turn one
    // byte into a three-byte character.
    assert!(
        blob_bytes <= 3 * n + 1024,
        "email: {blob_bytes} blob bytes from {n} input bytes"
    );
}
