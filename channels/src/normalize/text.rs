//! Complaint text: Unicode NFC, control characters removed, whitespace tidied.

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// Longest text kept (characters); a complaint is not a novel, and an attacker's
/// megabyte of text must not travel through every queue.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// NFC, no control characters (newline and tab kept), no trailing spaces on a
/// line, at most one blank line in a row, trimmed.
pub fn normalize_text(raw: &str) -> String {
    // Removal comes before NFC: a removed character between two combining
    // marks would otherwise have kept them from being put in canonical order.
    let nfc: String = raw
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| *c == '\n' || *c == '\t' || !(c.is_control() || is_invisible(*c)))
        .nfc()
        .take(MAX_TEXT_CHARS)
        .collect();
    let mut out = String::with_capacity(nfc.len());
    let mut blank_run = 0;
    for line in nfc.split('\n') {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out.trim().to_string()
}

/// A fragment of a longer message (one part of a concatenated SMS): cleaned
/// like [`normalize_text`] but not trimmed, because parts split mid-sentence
/// and a trailing space belongs between two words of the joined text.
pub fn clean_fragment(raw: &str) -> String {
    raw.chars()
        .filter(|c| *c == '\n' || *c == '\t' || *c == ' ' || !(c.is_control() || is_invisible(*c)))
        .nfc()
        .take(MAX_TEXT_CHARS)
        .collect()
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Hash of the text with case and spacing folded: the "same text again" key.
pub fn fingerprint_text(text: &str) -> String {
    let folded: String = text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let digest = Sha256::digest(folded.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_and_controls() {
        // "e" + combining acute becomes one code point; NUL and BEL disappear.
        assert_eq!(normalize_text("cafe\u{301}\u{0}\u{7} ok"), "caf\u{e9} ok");
        assert_eq!(normalize_text("  a\r\n\r\n\r\n\nb  \n"), "a\n\nb");
        assert_eq!(normalize_text("\u{202e}abc\u{200b}"), "abc");
    }

    /// Found by `cargo fuzz run email_text`: a control character between
    /// two combining marks kept them apart during NFC and was removed after
    /// it, leaving marks out of canonical order, so normalising the text
    /// again changed it (and its fingerprint).
    #[test]
    fn removed_characters_do_not_leave_text_unnormalised() {
        let raw = "a\u{65b}\u{0}\u{656} b\u{301}\u{200b}\u{300}";
        let once = normalize_text(raw);
        assert_eq!(once, "a\u{656}\u{65b} b\u{301}\u{300}".nfc().collect::<String>());
        assert_eq!(normalize_text(&once), once);
        let part = clean_fragment(raw);
        assert_eq!(clean_fragment(&part), part);
    }

    #[test]
    fn fingerprint_folds_case_and_space() {
        assert_eq!(
            fingerprint_text("Jalan  RUSAK\n di sini"),
            fingerprint_text("jalan rusak di sini")
        );
        assert_ne!(fingerprint_text("jalan rusak"), fingerprint_text("jalan bagus"));
    }
}
