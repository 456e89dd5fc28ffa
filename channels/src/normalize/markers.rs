//! The citizen's privacy markers: `RAHASIA`/`#rahasia` (confidential) and
//! `ANONIM`/`#anonim` (anonymous), per docs/routing.md §4.7.

use std::sync::OnceLock;

use regex::Regex;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Markers {
    pub confidential: bool,
    pub anonymous: bool,
}

fn marker_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // A marker word, `#` optional, ending at a word boundary or with the
        // closing bracket of `[RAHASIA]`. What must precede it is checked in
        // `strip_markers`, against the text as it is once earlier markers are
        // removed.
        match Regex::new(r"(?i)#?(?:rahasia|anonim|anonymous)(?:[\]\)]|\b)") {
            Ok(re) => re,
            Err(e) => unreachable!("static marker pattern: {e}"),
        }
    })
}

/// A cheap first look: in ASCII text (where Unicode case folding is ASCII
/// folding) no marker can match unless one of the marker words occurs in some
/// case. Most texts hold none, and one pass over the bytes is many times
/// cheaper than the full pattern with its Unicode word boundary.
fn may_hold_marker(text: &str) -> bool {
    if !text.is_ascii() {
        return true;
    }
    let b = text.as_bytes();
    (0..b.len()).any(|i| {
        let rest = &b[i..];
        match b[i] | 0x20 {
            b'r' => rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"rahasia"),
            // `anonymous` starts with `anon` as `anonim` does.
            b'a' => {
                rest.len() >= 6
                    && rest[..4].eq_ignore_ascii_case(b"anon")
                    && (rest[4..6].eq_ignore_ascii_case(b"im")
                        || rest.len() >= 9 && rest[4..9].eq_ignore_ascii_case(b"ymous"))
            }
            _ => false,
        }
    })
}

/// What may precede a marker (besides the start of the text).
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '[' | '(' | ',' | '.' | ';' | ':' | '!' | '?')
}

/// What is trimmed from the start of the text once markers are removed
/// (`RAHASIA: isi` -> `isi`).
fn is_leading_junk(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ':' | '-' | '.' | ';')
}

/// The text being rebuilt, and how much of its start is junk that the final
/// trim removes (a marker after only junk is at the start of the text).
struct Out {
    text: String,
    junk: usize,
}

impl Out {
    fn push(&mut self, s: &str) {
        if self.junk == self.text.len() {
            self.junk += s.len() - s.trim_start_matches(is_leading_junk).len();
        }
        self.text.push_str(s);
    }

    fn pop_if(&mut self, f: impl Fn(char) -> bool) {
        if self.text.chars().next_back().is_some_and(f) {
            self.text.pop();
            self.junk = self.junk.min(self.text.len());
        }
    }

    /// Whether a marker may start here.
    fn at_boundary(&self) -> bool {
        self.junk == self.text.len() || self.text.chars().next_back().is_some_and(is_separator)
    }
}

/// Detect the markers and return the text without them.
///
/// One pass, left to right: a candidate counts when what precedes it in the
/// text *as rebuilt so far* is the start (after leading junk) or a separator.
/// So `(ANONIM)#anonim` loses both, and the result never holds a marker: the
/// stripped text, stripped again, is the same.
pub fn strip_markers(text: &str) -> (Markers, String) {
    let mut m = Markers::default();
    if !may_hold_marker(text) {
        return (m, text.to_string());
    }
    let mut out = Out {
        text: String::with_capacity(text.len()),
        junk: 0,
    };
    let mut copied = 0;
    for cand in marker_re().find_iter(text) {
        out.push(&text[copied..cand.start()]);
        copied = cand.start();
        if !out.at_boundary() {
            continue;
        }
        let word = cand.as_str().trim_start_matches('#');
        // The first letter tells which marker: case folding may have matched
        // a non-ASCII letter elsewhere (`ſ` for `s`).
        if word.starts_with(['r', 'R']) {
            m.confidential = true;
        } else {
            m.anonymous = true;
        }
        if word.ends_with([']', ')']) {
            // `[RAHASIA]` goes with its brackets; a space keeps the words
            // around it apart.
            out.pop_if(|c| matches!(c, '[' | '('));
            out.push(" ");
        }
        copied = cand.end();
    }
    if !m.confidential && !m.anonymous {
        return (m, text.to_string());
    }
    out.push(&text[copied..]);
    let tidy = out
        .text
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let tidy = tidy.trim_start_matches(is_leading_junk).trim_end().to_string();
    (m, tidy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_look_never_hides_a_marker() {
        // Every marker word, in every case, in ASCII and non-ASCII text.
        for word in [
            "rahasia",
            "RAHASIA",
            "Anonim",
            "ANONYMOUS",
            "anonymous",
            "#AnOnIm",
            "[Rahasia]",
        ] {
            for text in [
                format!("{word} jalan rusak"),
                format!("jalan rusak {word}"),
                format!("é {word}"),
            ] {
                assert!(may_hold_marker(&text), "{text}");
                let (m, _) = strip_markers(&text);
                assert!(m.confidential || m.anonymous, "{text}");
            }
        }
        assert!(!may_hold_marker("jalan rusak sudah 3 bulan"));
        // `ſ` folds to `s`: non-ASCII text always takes the full pattern.
        assert!(strip_markers("rahaſia: jalan").0.confidential);
    }

    #[test]
    fn detects_and_strips() {
        let (m, t) = strip_markers("ANONIM pupuk langka di kab indramayu");
        assert!(m.anonymous && !m.confidential);
        assert_eq!(t, "pupuk langka di kab indramayu");
        let (m, t) = strip_markers("jalan rusak #rahasia #anonim");
        assert!(m.anonymous && m.confidential);
        assert_eq!(t, "jalan rusak");
        let (m, t) = strip_markers("RAHASIA: guru memungut biaya");
        assert!(m.confidential);
        assert_eq!(t, "guru memungut biaya");
    }

    #[test]
    fn bracketed_markers_leave_no_bracket() {
        let (m, t) = strip_markers("[RAHASIA] Pungutan di kantor kelurahan");
        assert!(m.confidential);
        assert_eq!(t, "Pungutan di kantor kelurahan");
        let (m, t) = strip_markers("Netralitas ASN (anonim) di kantor dinas");
        assert!(m.anonymous);
        assert_eq!(t, "Netralitas ASN di kantor dinas");
    }

    /// Found by `cargo fuzz run normalize`: removing `(ANONIM)` put `?` right
    /// before `#anonim`, a marker the single regex pass had not seen (a `)`
    /// preceded it), so the text sent to the agency kept a marker.
    #[test]
    fn stripped_text_has_no_marker_left() {
        for raw in [
            "jalan rusak #anonio?(ANONIM)#anonim lagi",
            "#rahasia#anonim#rahasia isi",
            "RAHASIA -#anonim isi",
            " rah[anonim]asia isi",
        ] {
            let (m, t) = strip_markers(raw);
            assert!(m.confidential || m.anonymous, "{raw}");
            let (again, t2) = strip_markers(&t);
            assert_eq!(again, Markers::default(), "{raw:?} -> {t:?}");
            assert_eq!(t2, t, "{raw:?}");
        }
        assert_eq!(
            strip_markers("jalan rusak #anonio?(ANONIM)#anonim lagi").1,
            "jalan rusak #anonio? lagi"
        );
        assert_eq!(strip_markers("#rahasia#anonim#rahasia isi").1, "isi");
    }

    /// Case folding matches `ſ` (long s) for `s`: still the confidential marker.
    #[test]
    fn marker_kind_is_its_first_letter() {
        let (m, t) = strip_markers("RAHAſIA guru memungut biaya");
        assert_eq!(
            m,
            Markers {
                confidential: true,
                anonymous: false
            }
        );
        assert_eq!(t, "guru memungut biaya");
    }

    #[test]
    fn words_containing_marker_are_not_markers() {
        let (m, t) = strip_markers("kerahasiaan data bocor");
        assert_eq!(m, Markers::default());
        assert_eq!(t, "kerahasiaan data bocor");
    }
}
