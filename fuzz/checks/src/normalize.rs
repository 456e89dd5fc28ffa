//! Target `normalize`: what every channel's text and sender go through.
//!
//! Input: byte 0 selects (modulo 5), the rest is text (lossy UTF-8):
//! 0 `normalize_text`; 1 `clean_fragment`; 2 `normalize_sender`;
//! 3 `strip_markers`; 4 `fingerprint_text`.
//!
//! Asserted: the time bound; each normalisation is idempotent (normalising
//! its output again changes nothing) and never grows the text beyond its
//! limit; a normalised text has no control characters but newline and tab,
//! no trailing spaces, no run of blank lines; a sender normalised again is
//! the same sender; markers, once stripped, are gone; the fingerprint
//! ignores case and spacing.

use pintu_channels::normalize::text::MAX_TEXT_CHARS;
use pintu_channels::normalize::{clean_fragment, fingerprint_text, normalize_sender, normalize_text, strip_markers};

use crate::budget::{within, Budget};

pub const BUDGET: Budget = Budget::new(25, 2000);

pub const TEXT: u8 = 0;
pub const FRAGMENT: u8 = 1;
pub const SENDER: u8 = 2;
pub const MARKERS: u8 = 3;
pub const FINGERPRINT: u8 = 4;

pub fn check(data: &[u8]) {
    let Some((sel, rest)) = data.split_first() else { return };
    let s = crate::text(rest);
    let n = data.len();
    match sel % 5 {
        TEXT => {
            let t = within("normalize_text", n, BUDGET, || normalize_text(&s));
            assert!(t.chars().count() <= MAX_TEXT_CHARS, "normalize_text: too long");
            assert_eq!(t, t.trim(), "normalize_text: not trimmed");
            assert!(
                !t.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
                "normalize_text: control character left in {t:?}"
            );
            assert!(!t.contains("\n\n\n"), "normalize_text: blank lines not collapsed");
            assert!(t.lines().all(|l| l == l.trim_end()), "normalize_text: trailing space");
            assert_eq!(normalize_text(&t), t, "normalize_text is not idempotent");
        }
        FRAGMENT => {
            let t = within("clean_fragment", n, BUDGET, || clean_fragment(&s));
            assert!(t.chars().count() <= MAX_TEXT_CHARS, "clean_fragment: too long");
            assert!(
                !t.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
                "clean_fragment: control character left in {t:?}"
            );
            assert_eq!(clean_fragment(&t), t, "clean_fragment is not idempotent");
        }
        SENDER => {
            let a = within("normalize_sender", n, BUDGET, || normalize_sender(&s));
            let b = normalize_sender(&a.address);
            assert!(
                a.kind == b.kind && a.address == b.address,
                "normalize_sender is not idempotent: {s:?} -> {:?} {:?} -> {:?} {:?}",
                a.kind,
                a.address,
                b.kind,
                b.address
            );
            assert!(
                a.address.chars().count() <= 64,
                "sender address of {} characters",
                a.address.len()
            );
        }
        MARKERS => {
            let (m, t) = within("strip_markers", n, BUDGET, || strip_markers(&s));
            assert!(t.len() <= s.len(), "strip_markers grew the text");
            let (again, t2) = strip_markers(&t);
            assert!(
                !again.confidential && !again.anonymous,
                "strip_markers left a marker: {s:?} -> {t:?} ({m:?})"
            );
            assert_eq!(t2, t, "strip_markers is not idempotent");
        }
        _ => {
            let f = within("fingerprint", n, BUDGET, || fingerprint_text(&s));
            assert_eq!(f.len(), 32, "fingerprint length");
            let spaced = s.split_whitespace().collect::<Vec<_>>().join("  \n ");
            assert_eq!(fingerprint_text(&spaced), f, "fingerprint depends on spacing");
            assert_eq!(fingerprint_text(&s.to_lowercase()), f, "fingerprint depends on case");
        }
    }
}
