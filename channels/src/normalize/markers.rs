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
        // A marker is a whole word; `#` optional; `[ANONIM]`-style brackets allowed.
        match Regex::new(r"(?i)(?:^|[\s\[\(,.;:!?])#?(rahasia|anonim|anonymous)(?:[\]\)]|\b)") {
            Ok(re) => re,
            Err(e) => unreachable!("static marker pattern: {e}"),
        }
    })
}

/// Detect the markers and return the text without them.
pub fn strip_markers(text: &str) -> (Markers, String) {
    let mut m = Markers::default();
    for cap in marker_re().captures_iter(text) {
        match cap.get(1).map(|g| g.as_str().to_lowercase()).as_deref() {
            Some("rahasia") => m.confidential = true,
            Some(_) => m.anonymous = true,
            None => {}
        }
    }
    if !m.confidential && !m.anonymous {
        return (m, text.to_string());
    }
    let stripped = marker_re().replace_all(text, |c: &regex::Captures<'_>| {
        // Keep the separator that preceded the marker, except the opening
        // bracket of a bracketed marker (`[RAHASIA]`), which goes with it.
        let whole = c.get(0).map(|g| g.as_str()).unwrap_or("");
        let closed = whole.ends_with(']') || whole.ends_with(')');
        whole
            .chars()
            .next()
            .filter(|ch| !ch.is_alphanumeric() && *ch != '#')
            .filter(|ch| !(closed && matches!(ch, '[' | '(')))
            .map(|ch| ch.to_string())
            .unwrap_or_default()
    });
    let tidy = stripped
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let tidy = tidy
        .trim_start_matches([' ', ',', ':', '-', '.', ';'])
        .trim()
        .to_string();
    (m, tidy)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn words_containing_marker_are_not_markers() {
        let (m, t) = strip_markers("kerahasiaan data bocor");
        assert_eq!(m, Markers::default());
        assert_eq!(t, "kerahasiaan data bocor");
    }
}
