//! Target `email_text`: the text stages of the e-mail parse on their own,
//! where the fuzzer reaches them without building MIME around them.
//!
//! Input: byte 0 selects (modulo 7), the rest is text (lossy UTF-8):
//! 0 `html_to_text`; 1 `strip_quotes`; 2 HTML to text, quotes stripped,
//! then normalised (the body path of the parse); 3 `suppress_reason` over
//! `Name: value` header lines (the sender is the first `From:` value);
//! 4 `message_ids` and `tracking_from_message_id`; 5 `decode_entities`;
//! 6 `clean_address` and `is_no_reply_address`.
//!
//! Asserted: the time bound (stages `html` and `quote` for 0-2, see
//! [`crate::budget::known`]); HTML output bounded by the input
//! (quote prefixes are capped); stripping never adds text and keeps
//! something when the input had something; the body path is normalised;
//! ids are bracket-free, short and space-free; tracking codes have their
//! form; entity decoding never grows text; a clean address is lower-case
//! and clean again.

use pintu_channels::email::html::{decode_entities, html_to_text};
use pintu_channels::email::loops::{is_no_reply_address, suppress_reason};
use pintu_channels::email::parse::clean_address;
use pintu_channels::email::quote::strip_quotes;
use pintu_channels::email::threading::{message_ids, tracking_from_message_id};
use pintu_channels::normalize::normalize_text;

use crate::budget::{within, Budget};

pub const BUDGET: Budget = Budget::new(25, 1000);

pub const HTML: u8 = 0;
pub const QUOTE: u8 = 1;
pub const BODY: u8 = 2;
pub const HEADERS: u8 = 3;
pub const IDS: u8 = 4;
pub const ENTITIES: u8 = 5;
pub const ADDRESS: u8 = 6;

/// `html_to_text` output per input byte: a 4-byte `<br>` inside eight
/// levels of quote becomes a 17-byte `> > … >` line.
const HTML_FACTOR: usize = 8;

fn check_html(s: &str, n: usize) -> String {
    let t = within("html", n, BUDGET, || html_to_text(s));
    assert!(
        t.len() <= HTML_FACTOR * s.len() + 64,
        "html_to_text: {} bytes from {}",
        t.len(),
        s.len()
    );
    t
}

fn check_quote(s: &str, n: usize) -> String {
    let q = within("quote", n, BUDGET, || strip_quotes(s));
    assert!(
        q.text.len() <= s.len(),
        "strip_quotes: {} bytes from {}",
        q.text.len(),
        s.len()
    );
    if !s.trim().is_empty() {
        assert!(!q.text.trim().is_empty(), "strip_quotes left nothing of {s:?}");
    }
    q.text
}

pub fn check(data: &[u8]) {
    let Some((sel, rest)) = data.split_first() else { return };
    let s = crate::text(rest);
    let n = data.len();
    match sel % 7 {
        HTML => drop(check_html(&s, n)),
        QUOTE => drop(check_quote(&s, n)),
        BODY => {
            let text = check_html(&s, n);
            let stripped = check_quote(&text, n);
            let t = within("normalize_text", n, BUDGET, || normalize_text(&stripped));
            assert_eq!(normalize_text(&t), t, "body: normalised text is not idempotent");
        }
        HEADERS => {
            let headers: Vec<(String, String)> = s
                .lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .collect();
            let sender = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("from"))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default();
            within("loops", n, BUDGET, || {
                suppress_reason(&headers, &sender, Some("pintu@lapor.go.id"))
            });
        }
        IDS => {
            let ids = within("ids", n, BUDGET, || message_ids(&s));
            assert!(
                ids.len() <= s.len() / 2 + 1,
                "message_ids: {} ids from {} bytes",
                ids.len(),
                s.len()
            );
            for id in &ids {
                assert!(
                    !id.is_empty() && id.len() <= 998 && !id.contains(char::is_whitespace),
                    "message_ids: id {id:?}"
                );
                if let Some(code) = tracking_from_message_id(id, "lapor.go.id") {
                    assert!(
                        code.len() == 10
                            && code.starts_with("LPR-")
                            && code[4..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
                        "tracking code {code:?} from {id:?}"
                    );
                }
            }
        }
        ENTITIES => {
            let d = within("entities", n, BUDGET, || decode_entities(&s));
            assert!(
                d.len() <= s.len(),
                "decode_entities: {} bytes from {}",
                d.len(),
                s.len()
            );
        }
        _ => {
            let clean = within("address", n, BUDGET, || clean_address(&s));
            if let Some(a) = clean {
                assert_eq!(a, a.to_lowercase(), "clean_address: not lower-case");
                assert_eq!(
                    clean_address(&a).as_deref(),
                    Some(a.as_str()),
                    "clean_address is not idempotent"
                );
                assert!(a.len() <= 254, "clean_address: {} bytes", a.len());
                let _ = is_no_reply_address(&a);
            }
        }
    }
}
