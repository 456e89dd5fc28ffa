//! Text normalisation for matching: the same function turns both complaint
//! text and table terms into a canonical form, so whatever spelling rules
//! apply to one apply to the other.
//!
//! Canonical form: lower-case ASCII words separated by single spaces, with one
//! leading and one trailing space (so a whole-word match is a match whose
//! neighbours are spaces). Words are the maximal runs of letters and digits;
//! punctuation, emoji, `#` and `@` separate words. Each word then goes
//! through, in order: reduplication (`anak2` -> `anak anak`), the
//! abbreviation table (`kab` -> `kabupaten`), and removal of a possessive
//! `-nya` when what remains is a known-length word (`sampahnya` -> `sampah`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a as a `Hasher`: the abbreviation table is looked up for every word
/// of every complaint, and SipHash's protection against chosen keys buys
/// nothing for a table the project itself writes.
pub struct FnvHasher(u64);

impl Default for FnvHasher {
    fn default() -> FnvHasher {
        FnvHasher(super::features::FNV_OFFSET)
    }
}

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = super::features::fnv(self.0, bytes);
    }
}

/// A map keyed by table words.
pub type WordMap<V> = HashMap<String, V, BuildHasherDefault<FnvHasher>>;

/// One word of the canonical text.
#[derive(Debug, Clone, Copy)]
pub struct Tok {
    /// Byte range in [`NormText::s`].
    pub start: u32,
    pub end: u32,
    /// The citizen wrote the word with a capital letter (place names often are).
    pub cap: bool,
}

/// Canonical text plus word positions.
#[derive(Debug, Default, Clone)]
pub struct NormText {
    pub s: String,
    pub toks: Vec<Tok>,
    /// Words before this index came from the e-mail subject.
    pub subject_toks: usize,
    /// Byte range of the last pushed text's opening words when a comma or
    /// colon ends them within its first 48 bytes (at most three words of
    /// letters: `Rungkut, ...`); the body is pushed last, so it is the body's.
    pub lead: Option<(u32, u32)>,
}

impl NormText {
    /// Index of the word that starts at byte `pos` (or the first word after it).
    pub fn tok_at(&self, pos: usize) -> usize {
        self.toks.partition_point(|t| (t.start as usize) < pos)
    }
    /// Index of the word that ends at byte `pos` (exclusive end).
    pub fn tok_ending_at(&self, pos: usize) -> Option<usize> {
        let i = self.toks.partition_point(|t| (t.end as usize) < pos);
        (i < self.toks.len() && self.toks[i].end as usize == pos).then_some(i)
    }
    pub fn word(&self, i: usize) -> &str {
        let t = self.toks[i];
        &self.s[t.start as usize..t.end as usize]
    }
}

/// Folds accented Latin letters to ASCII; everything else that is not an
/// ASCII letter or digit separates words.
fn fold(c: char) -> Option<char> {
    if c.is_ascii_alphanumeric() {
        return Some(c.to_ascii_lowercase());
    }
    let f = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ñ' | 'Ñ' => 'n',
        'ç' | 'Ç' => 'c',
        _ => return None,
    };
    Some(f)
}

/// The words of `input` as written: lower-cased, accents folded, split at
/// everything that is not a letter or digit, appended to `out` with a space
/// after each. No abbreviation is expanded: `spt` stays `spt`, so a model can
/// learn from its neighbours which `spt` it is.
pub fn raw_words(input: &str, out: &mut String) {
    let mut start = None;
    for c in input.chars() {
        match fold(c) {
            Some(f) => {
                start.get_or_insert(out.len());
                out.push(f);
            }
            None => {
                if let Some(s) = start.take() {
                    collapse_runs(out, s);
                    out.push(' ');
                }
            }
        }
    }
    if let Some(s) = start {
        collapse_runs(out, s);
        out.push(' ');
    }
}

/// Letters drawn out for emphasis (`tolonggg`, `RUSAKKK`, `matiii`) are the
/// word itself: a run of three or more of one letter inside a word of
/// `s[from..]` becomes one. Indonesian writes no letter three times; a run
/// that opens the word (`PPPK`), roman numerals (`VIII`) and digits
/// (`1000000`) are left alone. A doubled letter is not touched: acronyms end
/// so (`FLPP`, `APILL`). The text is ASCII here ([`fold`] made it so).
fn collapse_runs(s: &mut String, from: usize) {
    let b = &s.as_bytes()[from..];
    // Roman numerals are names (`VIII Koto`), not emphasis.
    if b.iter().all(|c| b"ivxlc".contains(c)) {
        return;
    }
    let has_run = b
        .windows(3)
        .skip(1)
        .any(|w| w[0] == w[1] && w[1] == w[2] && w[0].is_ascii_alphabetic());
    if !has_run {
        return;
    }
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let mut j = i + 1;
        while j < b.len() && b[j] == b[i] {
            j += 1;
        }
        // A run that opens the word is an acronym (`PPPK`), not emphasis.
        let n = if i > 0 && j - i >= 3 && b[i].is_ascii_alphabetic() {
            1
        } else {
            j - i
        };
        for _ in 0..n {
            out.push(b[i] as char);
        }
        i = j;
    }
    s.truncate(from);
    s.push_str(&out);
}

/// Follows a text's opening up to its first comma or colon, for
/// [`NormText::lead`]: at most three words of letters within the first 48
/// bytes, separated by plain spaces (other white space only around them).
#[derive(Debug, Default)]
struct LeadScan {
    words: usize,
    in_word: bool,
    /// White space other than a plain space after the first word: fine if
    /// only white space follows up to the comma, not before another word.
    odd_space: bool,
    done: bool,
}

impl LeadScan {
    /// `c` at byte `i`: whether it is the comma or colon that ends a valid
    /// opening.
    fn see(&mut self, i: usize, c: char) -> bool {
        if self.done {
            return false;
        }
        if i >= 48 {
            self.done = true;
            return false;
        }
        if c == ',' || c == ':' {
            self.done = true;
            return (1..=3).contains(&self.words);
        }
        if c.is_whitespace() {
            self.in_word = false;
            self.odd_space |= c != ' ' && self.words > 0;
        } else if c.is_alphabetic() {
            if !self.in_word {
                self.words += 1;
                self.in_word = true;
                self.done = self.odd_space || self.words > 3;
            }
        } else {
            self.done = true;
        }
        false
    }
}

/// Word-level rewriting: abbreviations and spelling variants.
#[derive(Debug, Default, Clone)]
pub struct Normalizer {
    abbrev: WordMap<String>,
}

impl Normalizer {
    pub fn new(abbreviations: impl IntoIterator<Item = (String, String)>) -> Normalizer {
        Normalizer {
            abbrev: abbreviations.into_iter().collect(),
        }
    }

    /// Canonical form of `input`, appended to `out` (which may already hold
    /// a subject). The first call on an empty `out` adds the leading space.
    pub fn push(&self, input: &str, out: &mut NormText) {
        if out.s.is_empty() {
            out.s.push(' ');
        }
        out.lead = None;
        let first_tok = out.toks.len();
        let mut lead = LeadScan::default();
        let mut word = String::with_capacity(24);
        let mut cap = false;
        for (i, c) in input.char_indices() {
            // Before the word it may end is emitted: a comma ends the word
            // too, and the opening is complete once that word is out.
            let opening_ends = lead.see(i, c);
            match fold(c) {
                Some(f) => {
                    if word.is_empty() {
                        cap = c.is_uppercase();
                    }
                    word.push(f);
                }
                None => {
                    if !word.is_empty() {
                        collapse_runs(&mut word, 0);
                        self.emit(&word, cap, out);
                        word.clear();
                    }
                }
            }
            if opening_ends {
                if let (Some(first), Some(last)) = (out.toks.get(first_tok), out.toks.last()) {
                    out.lead = Some((first.start, last.end));
                }
            }
        }
        if !word.is_empty() {
            collapse_runs(&mut word, 0);
            self.emit(&word, cap, out);
        }
    }

    /// Canonical form of a table term, without the padding spaces.
    pub fn term(&self, input: &str) -> String {
        let mut n = NormText::default();
        self.push(input, &mut n);
        n.s.trim().to_string()
    }

    fn emit(&self, word: &str, cap: bool, out: &mut NormText) {
        // `anak2` is how SMS writes the reduplicated `anak-anak`.
        if let Some(base) = word.strip_suffix('2') {
            if base.len() >= 2 && base.bytes().all(|b| b.is_ascii_lowercase()) && !self.abbrev.contains_key(word) {
                self.emit_one(base, cap, out);
                self.emit_one(base, false, out);
                return;
            }
        }
        self.emit_one(word, cap, out);
    }

    fn emit_one(&self, word: &str, cap: bool, out: &mut NormText) {
        let replaced = match self.abbrev.get(word) {
            Some(r) => r.as_str(),
            None => {
                // `-nya` is possessive/definite; short stems (`tanya`, `punya`,
                // `hanya`) are words of their own. Every trailing `-nya` goes
                // (`yaanyanya` -> `yaa`), so normalising twice changes nothing.
                let mut stem = word;
                while let Some(s) = stem.strip_suffix("nya").filter(|s| s.len() >= 3) {
                    stem = s;
                }
                if stem.len() == word.len() {
                    word
                } else {
                    self.abbrev.get(stem).map(String::as_str).unwrap_or(stem)
                }
            }
        };
        let mut first = true;
        for w in replaced.split(' ').filter(|w| !w.is_empty()) {
            let start = out.s.len() as u32;
            out.s.push_str(w);
            let end = out.s.len() as u32;
            out.s.push(' ');
            out.toks.push(Tok {
                start,
                end,
                cap: cap && first,
            });
            first = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> Normalizer {
        Normalizer::new([
            ("kab".to_string(), "kabupaten".to_string()),
            ("tdk".to_string(), "tidak".to_string()),
            ("jalantol".to_string(), "jalan tol".to_string()),
        ])
    }

    #[test]
    fn canonical_form() {
        let mut t = NormText::default();
        n().push(
            "Jalan RUSAK di Kab. Bogor!!! 😡 #jalantol @PLN123, anak2 tdk sekolah; sampahnya",
            &mut t,
        );
        assert_eq!(
            t.s,
            " jalan rusak di kabupaten bogor jalan tol pln123 anak anak tidak sekolah sampah "
        );
        assert!(t.toks[0].cap);
        assert!(!t.toks[2].cap, "di");
        assert!(t.toks[4].cap, "Bogor");
        assert_eq!(t.word(3), "kabupaten");
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        // Found by the routing fuzz target: one `-nya` removed per pass.
        let once = n().term("yaanyanya sampahnya");
        assert_eq!(once, "yaa sampah");
        assert_eq!(n().term(&once), once);
    }

    #[test]
    fn short_nya_words_are_kept() {
        assert_eq!(n().term("tanya punya hanya"), "tanya punya hanya");
        assert_eq!(n().term("Bagaimana caranya?"), "bagaimana cara");
    }

    #[test]
    fn raw_words_keep_spelling() {
        let mut s = String::new();
        raw_words("Jln rusak spt kubangan!! Café", &mut s);
        raw_words("kab.", &mut s);
        assert_eq!(s, "jln rusak spt kubangan cafe kab ");
    }

    #[test]
    fn drawn_out_letters_are_one() {
        assert_eq!(n().term("TOLONGGG jalannn rusakkk"), "tolong jalan rusak");
        assert_eq!(n().term("maaf saat 1000000 tdkkk"), "maaf saat 1000000 tidak");
        assert_eq!(n().term("PPPK VIII FLPP apill"), "pppk viii flpp apill");
        let mut s = String::new();
        raw_words("matiii!! listrikk kk maaf 2000000 tolonggg pppk", &mut s);
        assert_eq!(s, "mati listrikk kk maaf 2000000 tolong pppk ");
    }

    #[test]
    fn accents_fold() {
        assert_eq!(n().term("café Kab"), "cafe kabupaten");
    }

    #[test]
    fn lead_is_the_opening_words_before_a_comma() {
        let lead = |subject: Option<&str>, body: &str| {
            let norm = n();
            let mut t = NormText::default();
            if let Some(s) = subject {
                norm.push(s, &mut t);
            }
            norm.push(body, &mut t);
            t.lead.map(|(s, e)| t.s[s as usize..e as usize].to_string())
        };
        assert_eq!(lead(None, "Rungkut, tiap malam").as_deref(), Some("rungkut"));
        assert_eq!(lead(None, "  tanah abang: macet").as_deref(), Some("tanah abang"));
        assert_eq!(
            lead(Some("Banjir"), "Kab Bogor, banjir lagi").as_deref(),
            Some("kabupaten bogor")
        );
        assert_eq!(
            lead(None, "jalan di depan rumah kami rusak, tolong"),
            None,
            "more than three words"
        );
        assert_eq!(lead(None, "RT 05, jalan rusak"), None, "digits");
        assert_eq!(lead(None, "tiap malam ada truk"), None, "no comma");
        assert_eq!(lead(None, ", kosong"), None);
    }

    #[test]
    fn token_lookup() {
        let mut t = NormText::default();
        n().push("aa bb cc", &mut t);
        assert_eq!(t.tok_at(4), 1);
        assert_eq!(t.tok_ending_at(6), Some(1));
        assert_eq!(t.tok_ending_at(5), None);
    }
}
