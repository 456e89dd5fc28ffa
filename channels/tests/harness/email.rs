//! E-mail: the corpus in `tests/fixtures/email/` at the repository root (it
//! is shared with the gateway's tests and the fuzz seeds). Mail is read from
//! IMAP, not posted to a webhook, so these cases run `parse_message` on the
//! raw message instead of a [`crate::request::Request`], through the same
//! table and report.
//!
//! Each `NAME.eml` has a sidecar `NAME.json` with the expected outcome; only
//! the keys present are checked, so a fixture states exactly what it is about:
//! `outcome` (`accept` | `quarantine`), `reason` (a rejection's, or for mail
//! that parses but is not a citizen's, the [`Automated`] kind), `evidence`
//! (the deciding header of such mail), `sender`, `display_name`
//! (null = none), `subject`, `text` (exact), `text_contains`, `text_excludes`,
//! `external_id`, `external_id_prefix`, `suppress_reply` (null = none),
//! `ack_reference`, `sent_at`, `reply_context` (subset), `reply_context_absent`,
//! `attachments` (per entry: `name`, `name_excludes`, `content_type`, `size`,
//! `sha256`, `kept`, `omitted`), and `limits` overriding the parser limits.
//!
//! `NNN-` prefixes 01–26 are the original corpus; `nc-` files are mail that
//! no citizen wrote (and citizens' mail that merely looks automated), with
//! `ht-` for hostile or damaged structure.

use std::fs;

use pintu_channels::email::{parse_message, Automated, Limits, ParseOptions};
use serde_json::Value;

use crate::common::{email_corpus, files, read_json, Table};

/// One corpus message and its sidecar.
struct EmailCase {
    raw: Vec<u8>,
    expect: Value,
}

/// The parser options of the gateway's mailbox, with `limits` from the sidecar.
fn opts(expect: &Value) -> ParseOptions {
    let mut limits = Limits::default();
    if let Some(l) = expect.get("limits") {
        if let Some(v) = l.get("max_attachment_bytes").and_then(Value::as_u64) {
            limits.max_attachment_bytes = v as usize;
        }
        if let Some(v) = l.get("max_attachments").and_then(Value::as_u64) {
            limits.max_attachments = v as usize;
        }
    }
    ParseOptions {
        limits,
        mailbox_address: "pengaduan@lapor.go.id".into(),
        loop_id: Some("pintu@lapor.go.id".into()),
        ack_domain: Some("lapor.go.id".into()),
    }
}

/// Every way `raw` differs from its sidecar `expect`; empty when it matches.
fn check(raw: &[u8], expect: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let mut fail = |m: String| errs.push(m);
    let outcome = expect["outcome"].as_str().unwrap_or("accept");
    let parsed = parse_message(raw, &opts(expect));
    let p = match (outcome, parsed) {
        ("quarantine", Err(rej)) => {
            if let Some(r) = expect.get("reason").and_then(Value::as_str) {
                if rej.reason() != r {
                    fail(format!("reason {} != {r}", rej.reason()));
                }
            }
            return errs;
        }
        ("quarantine", Ok(p)) => {
            match &p.not_citizen {
                Some(nc) => {
                    if let Some(r) = expect.get("reason").and_then(Value::as_str) {
                        if nc.kind.as_str() != r {
                            fail(format!("reason {} != {r} ({})", nc.kind.as_str(), nc.evidence));
                        }
                    }
                    if let Some(e) = expect.get("evidence").and_then(Value::as_str) {
                        if nc.evidence != e {
                            fail(format!("evidence {:?} != {e:?}", nc.evidence));
                        }
                    }
                    // Mail no citizen wrote is never answered either.
                    if p.suppress.is_none() {
                        fail("not a citizen's mail, yet a reply would be sent".into());
                    }
                }
                None => fail(format!("expected quarantine, got accepted text {:?}", p.inbound.text)),
            }
            return errs;
        }
        (_, Ok(p)) if p.not_citizen.is_some() => {
            fail(format!(
                "expected accept, got quarantine as not a citizen's: {:?}",
                p.not_citizen
            ));
            return errs;
        }
        (_, Err(rej)) => {
            fail(format!("expected accept, got quarantine: {rej}"));
            return errs;
        }
        (_, Ok(p)) => p,
    };
    let ib = &p.inbound;
    if ib.channel.as_str() != "email" || ib.provider != "imap" {
        fail(format!(
            "channel {} / provider {}, expected email / imap",
            ib.channel.as_str(),
            ib.provider
        ));
    }
    let opt_eq = |key: &str, actual: Option<&str>, fail: &mut dyn FnMut(String)| {
        if let Some(v) = expect.get(key) {
            if v.as_str() != actual {
                fail(format!("{key}: {actual:?} != {v}"));
            }
        }
    };
    opt_eq("sender", Some(&ib.sender.address), &mut fail);
    opt_eq("display_name", ib.sender.display_name.as_deref(), &mut fail);
    opt_eq("subject", ib.subject.as_deref(), &mut fail);
    opt_eq("text", Some(&ib.text), &mut fail);
    opt_eq("external_id", ib.external_id.as_deref(), &mut fail);
    opt_eq("ack_reference", p.ack_reference.as_deref(), &mut fail);
    opt_eq(
        "suppress_reply",
        ib.reply_context.get("suppress_reply").map(String::as_str),
        &mut fail,
    );
    if let Some(v) = expect.get("sent_at").and_then(Value::as_str) {
        let got = ib.sent_at.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        if got.as_deref() != Some(v) {
            fail(format!("sent_at {got:?} != {v}"));
        }
    }
    if let Some(prefix) = expect.get("external_id_prefix").and_then(Value::as_str) {
        if !ib.external_id.as_deref().unwrap_or("").starts_with(prefix) {
            fail(format!("external_id {:?} lacks prefix {prefix}", ib.external_id));
        }
    }
    for s in expect["text_contains"].as_array().into_iter().flatten() {
        let s = s.as_str().unwrap_or("");
        if !ib.text.contains(s) {
            fail(format!("text lacks {s:?}: {:?}", ib.text));
        }
    }
    for s in expect["text_excludes"].as_array().into_iter().flatten() {
        let s = s.as_str().unwrap_or("");
        if ib.text.contains(s) {
            fail(format!("text contains {s:?}: {:?}", ib.text));
        }
    }
    if let Some(ctx) = expect.get("reply_context").and_then(Value::as_object) {
        for (k, v) in ctx {
            if ib.reply_context.get(k).map(String::as_str) != v.as_str() {
                fail(format!("reply_context[{k}] {:?} != {v}", ib.reply_context.get(k)));
            }
        }
    }
    for k in expect["reply_context_absent"].as_array().into_iter().flatten() {
        let k = k.as_str().unwrap_or("");
        if ib.reply_context.contains_key(k) {
            fail(format!("reply_context has {k}"));
        }
    }
    // Every message keeps a pointer to its raw copy.
    if ib.reply_context.get("raw_sha256") != Some(&p.raw_sha256) || p.raw_sha256.len() != 64 {
        fail("raw_sha256 missing from reply_context".into());
    }
    if let Some(atts) = expect.get("attachments").and_then(Value::as_array) {
        if atts.len() != ib.attachments.len() {
            fail(format!(
                "{} attachments, expected {}: {:?}",
                ib.attachments.len(),
                atts.len(),
                ib.attachments
            ));
        }
        for (a, e) in ib.attachments.iter().zip(atts) {
            if let Some(ct) = e.get("content_type").and_then(Value::as_str) {
                if a.content_type != ct {
                    fail(format!("attachment {} content_type {} != {ct}", a.name, a.content_type));
                }
            }
            if let Some(n) = e.get("name").and_then(Value::as_str) {
                if a.name != n {
                    fail(format!("attachment name {} != {n}", a.name));
                }
            }
            for x in e["name_excludes"].as_array().into_iter().flatten() {
                if a.name.contains(x.as_str().unwrap_or("")) {
                    fail(format!("attachment name {} contains {x}", a.name));
                }
            }
            if let Some(sha) = e.get("sha256").and_then(Value::as_str) {
                if a.sha256 != sha {
                    fail(format!("attachment {} sha256 {} != {sha}", a.name, a.sha256));
                }
            }
            if let Some(size) = e.get("size").and_then(Value::as_u64) {
                if a.size != size {
                    fail(format!("attachment {} size {} != {size}", a.name, a.size));
                }
            }
            if e.get("kept").and_then(Value::as_bool) == Some(true) {
                let blob = p.blobs.iter().find(|b| b.sha256 == a.sha256);
                if a.sha256.len() != 64 || blob.is_none_or(|b| b.bytes.len() as u64 != a.size) {
                    fail(format!("attachment {} not kept with its bytes", a.name));
                }
            }
            if let Some(reason) = e.get("omitted").and_then(Value::as_str) {
                let want = format!("omitted:{reason}");
                if !a.sha256.is_empty() || a.reference.as_deref() != Some(want.as_str()) {
                    fail(format!("attachment {} not omitted as {reason}: {a:?}", a.name));
                }
            }
        }
    }
    errs
}

/// Every message of the corpus against its sidecar.
#[test]
fn every_email_case() {
    let dir = email_corpus();
    let mut table = Table::new("email");
    let names = files(&dir, ".eml").unwrap_or_else(|e| {
        table.broken("email corpus", e);
        Vec::new()
    });
    if names.len() < 20 {
        table.broken("email corpus", format!("too small: {}", names.len()));
    }
    for n in names {
        let raw = fs::read(dir.join(&n)).map_err(|e| format!("{n}: {e}"));
        let expect = read_json(&dir.join(n.replace(".eml", ".json")));
        match (raw, expect) {
            (Ok(raw), Ok(expect)) => table.push(n, EmailCase { raw, expect }),
            (Err(e), _) | (_, Err(e)) => table.broken(n, format!("every fixture has a readable .eml and .json: {e}")),
        }
    }
    table.run(|c| {
        let errs = check(&c.raw, &c.expect);
        errs.is_empty().then_some(()).ok_or_else(|| errs.join("; "))
    });
}

/// The corpus of mail no citizen wrote is large enough and covers every kind.
#[test]
fn not_citizen_corpus_covers_every_kind() -> Result<(), String> {
    let dir = email_corpus();
    let mut seen = std::collections::BTreeSet::new();
    let mut n = 0;
    for name in files(&dir, ".json")? {
        if !name.starts_with("nc-") {
            continue;
        }
        n += 1;
        let v = read_json(&dir.join(&name))?;
        if let Some(r) = v["reason"].as_str() {
            seen.insert(r.to_string());
        }
    }
    assert!(n >= 20, "only {n} nc- fixtures");
    for k in Automated::ALL {
        assert!(seen.contains(k.as_str()), "no fixture for {}", k.as_str());
    }
    Ok(())
}
