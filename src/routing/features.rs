//! What the learned models see of a complaint: named features with values.
//!
//! One function, [`extract`], serves training and deciding alike, so the two
//! can never disagree about what a feature is. Features are byte strings with
//! a kind prefix:
//!
//! - `w=sekolah` — a word of the canonical text (abbreviations expanded);
//! - `b=jalan rusak` — two neighbouring words;
//! - `c=<skl`, `c=sklh>` — character n-grams of the word as written, with
//!   `<` `>` marking its ends: misspellings (`sklah`, `sekolh`) share most of
//!   them with the right spelling, which a word feature cannot;
//! - `lex=sosial` — the category's lexicon score (the weights of
//!   `lexicon.txt`, with subject and request boosts), so a term the labelled
//!   data never showed still counts; `req=sosial` — the part of it that
//!   follows a request word (`mohon`, `tolong`): what the citizen asks to be
//!   fixed (rule 1); `pair=pungli` — a cue pair of `cues.txt` (an official
//!   near money taken) is present;
//! - `cue=informasi` — report-type cue score (`cues.txt`), `q=?` — the text
//!   asks a question;
//! - `bias`.
//!
//! Text features (words, bigrams, n-grams) are binary and scaled together to
//! unit length, so a long e-mail and a short SMS weigh the same; table
//! features keep their scores (capped) because their size is the evidence.

/// Which feature kinds a model uses; written into the model file so that a
/// model is always read with the extraction it was trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub words: bool,
    pub bigrams: bool,
    /// Character n-gram lengths (inclusive range); `(0, 0)` for none.
    pub chars: (u8, u8),
    pub lexicon: bool,
    pub cues: bool,
}

impl Spec {
    pub const CATEGORY: Spec = Spec {
        words: true,
        bigrams: true,
        chars: (4, 5),
        lexicon: true,
        cues: false,
    };
    pub const REPORT: Spec = Spec {
        words: true,
        bigrams: true,
        chars: (0, 0),
        lexicon: false,
        cues: true,
    };

    /// `words bigrams chars=3-5 lexicon cues`.
    pub fn render(&self) -> String {
        let mut parts = Vec::new();
        if self.words {
            parts.push("words".to_string());
        }
        if self.bigrams {
            parts.push("bigrams".to_string());
        }
        if self.chars.0 > 0 {
            parts.push(format!("chars={}-{}", self.chars.0, self.chars.1));
        }
        if self.lexicon {
            parts.push("lexicon".to_string());
        }
        if self.cues {
            parts.push("cues".to_string());
        }
        parts.join(" ")
    }

    pub fn parse(s: &str) -> Option<Spec> {
        let mut spec = Spec {
            words: false,
            bigrams: false,
            chars: (0, 0),
            lexicon: false,
            cues: false,
        };
        for part in s.split_whitespace() {
            match part {
                "words" => spec.words = true,
                "bigrams" => spec.bigrams = true,
                "lexicon" => spec.lexicon = true,
                "cues" => spec.cues = true,
                other => {
                    let range = other.strip_prefix("chars=")?;
                    let (a, b) = range.split_once('-')?;
                    let (a, b): (u8, u8) = (a.parse().ok()?, b.parse().ok()?);
                    if a == 0 || b < a || b > 8 {
                        return None;
                    }
                    spec.chars = (a, b);
                }
            }
        }
        Some(spec)
    }
}

/// The names table features are written with.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    pub categories: &'a [String],
    pub pairs: &'a [String],
}

/// Table scores of one text, per category / report type, computed by the engine.
#[derive(Debug, Default, Clone)]
pub struct TableScores {
    /// Lexicon score per category (index = category).
    pub lexicon: Vec<f32>,
    /// Lexicon score of terms right after a request word.
    pub requested: Vec<f32>,
    /// Cue scores: aspirasi, informasi.
    pub cues: [f32; 2],
    /// The text contains a question mark.
    pub question: bool,
    /// 1 for each cue pair present (index = pair).
    pub pairs: Vec<f32>,
}

/// Lexicon and cue scores are capped: beyond a few strong terms more of the
/// same says nothing new, and an uncapped sum lets one long e-mail dominate.
pub(super) const SCORE_CAP: f32 = 8.0;
pub(super) const SCORE_SCALE: f32 = 4.0;

/// What a feature is called: its name (training writes names into the model
/// file) or the hash of its name (deciding looks rows up without building a
/// string). Both come from the same [`extract`], so they cannot disagree.
pub trait Key: Ord {
    /// The feature whose name is the concatenation of `parts`.
    fn of(parts: &[&[u8]]) -> Self;
}

impl Key for Vec<u8> {
    fn of(parts: &[&[u8]]) -> Self {
        parts.concat()
    }
}

impl Key for u64 {
    fn of(parts: &[&[u8]]) -> Self {
        parts.iter().fold(FNV_OFFSET, |h, p| fnv(h, p))
    }
}

/// Feed every feature of a text to `sink(key, value)`. Text features come
/// first, already scaled; the same feature is never fed twice.
///
/// `words` are the canonical words (see [`super::text`]), `raw` the words as
/// written (lower-cased, accents folded), `names` the category and pair names.
pub fn extract<K: Key>(
    spec: &Spec,
    words: &[&str],
    raw: &[&str],
    tables: &TableScores,
    names: &Names<'_>,
    mut sink: impl FnMut(K, f32),
) {
    let cats = names.categories;
    let mut text: Vec<K> = Vec::with_capacity(words.len() * 12);
    if spec.words {
        for w in words {
            text.push(K::of(&[b"w=", w.as_bytes()]));
        }
    }
    if spec.bigrams {
        for pair in words.windows(2) {
            text.push(K::of(&[b"b=", pair[0].as_bytes(), b" ", pair[1].as_bytes()]));
        }
    }
    if spec.chars.0 > 0 {
        char_grams(raw.iter().copied(), spec.chars, |g| text.push(K::of(&[b"c=", g])));
    }
    text.sort_unstable();
    text.dedup();
    if !text.is_empty() {
        let v = 1.0 / (text.len() as f32).sqrt();
        for k in text {
            sink(k, v);
        }
    }
    if spec.lexicon {
        // How strong the strongest subject is, whatever it is: texts with no
        // subject word at all are rarely a service complaint.
        let strongest = tables.lexicon.iter().copied().fold(0f32, f32::max);
        if strongest > 0.0 {
            sink(K::of(&[b"lex=any"]), strongest.min(SCORE_CAP) / SCORE_SCALE);
        }
        for (i, code) in cats.iter().enumerate() {
            for (prefix, scores) in [(&b"lex="[..], &tables.lexicon), (&b"req="[..], &tables.requested)] {
                let s = scores.get(i).copied().unwrap_or(0.0);
                if s > 0.0 {
                    sink(K::of(&[prefix, code.as_bytes()]), s.min(SCORE_CAP) / SCORE_SCALE);
                }
            }
        }
        for (i, name) in names.pairs.iter().enumerate() {
            if tables.pairs.get(i).copied().unwrap_or(0.0) > 0.0 {
                sink(K::of(&[b"pair=", name.as_bytes()]), 1.0);
            }
        }
    }
    if spec.cues {
        for (name, s) in [("cue=aspirasi", tables.cues[0]), ("cue=informasi", tables.cues[1])] {
            if s > 0.0 {
                sink(K::of(&[name.as_bytes()]), s.min(SCORE_CAP) / SCORE_SCALE);
            }
        }
        if tables.question {
            sink(K::of(&[b"q=?"]), 1.0);
        }
    }
    sink(K::of(&[b"bias"]), 1.0);
}

/// Every character n-gram of lengths `lo..=hi` of the words as written, with
/// `<` `>` marking each word's ends, fed to `sink` (repeats included).
/// Digits-only words (amounts, dates) carry no subject and give none.
pub(super) fn char_grams<'a>(raw: impl Iterator<Item = &'a str>, (lo, hi): (u8, u8), mut sink: impl FnMut(&[u8])) {
    let (lo, hi) = (lo as usize, hi as usize);
    if lo == 0 {
        return;
    }
    let mut padded: Vec<u8> = Vec::with_capacity(32);
    for w in raw {
        if w.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        padded.clear();
        padded.push(b'<');
        padded.extend_from_slice(w.as_bytes());
        padded.push(b'>');
        for n in lo..=hi {
            if padded.len() < n {
                break;
            }
            padded.windows(n).for_each(&mut sink);
        }
    }
}

pub(super) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a step over `bytes` from state `h`: hashing `a` then `b` equals
/// hashing `a ++ b`, which lets the deciding path start from a prefix's state.
pub(super) const fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// FNV-1a, 64 bits: feature names to map keys without allocating.
pub fn hash(name: &[u8]) -> u64 {
    fnv(FNV_OFFSET, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(spec: &Spec, words: &[&str], raw: &[&str]) -> Vec<(String, f32)> {
        let mut out = Vec::new();
        let t = TableScores {
            lexicon: vec![0.0, 3.0],
            requested: vec![0.0, 0.0],
            cues: [0.0, 2.0],
            question: true,
            pairs: vec![1.0],
        };
        let cats = vec!["a".to_string(), "b".to_string()];
        let pairs = vec!["p".to_string()];
        let names = Names {
            categories: &cats,
            pairs: &pairs,
        };
        extract(spec, words, raw, &t, &names, |n: Vec<u8>, v| {
            out.push((String::from_utf8_lossy(&n).into_owned(), v))
        });
        // Deciding uses hashes of the same names, in the same order.
        let mut hashed = Vec::new();
        extract(spec, words, raw, &t, &names, |h: u64, v| hashed.push((h, v)));
        let from_names: Vec<(u64, f32)> = out.iter().map(|(n, v)| (hash(n.as_bytes()), *v)).collect();
        let (mut a, mut b) = (hashed, from_names);
        a.sort_by_key(|x| x.0);
        b.sort_by_key(|x| x.0);
        assert_eq!(a, b, "hashed and named extraction agree");
        out
    }

    #[test]
    fn features_are_unique_and_scaled() {
        let spec = Spec {
            words: true,
            bigrams: true,
            chars: (3, 3),
            lexicon: true,
            cues: true,
        };
        let f = names(&spec, &["jalan", "jalan"], &["jln"]);
        let text: Vec<&(String, f32)> = f
            .iter()
            .filter(|(n, _)| ["w=", "b=", "c="].iter().any(|p| n.starts_with(p)))
            .collect();
        let got: Vec<&str> = text.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(got, vec!["b=jalan jalan", "c=<jl", "c=jln", "c=ln>", "w=jalan"]);
        let norm: f32 = text.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5, "text features have unit length, got {norm}");
        assert!(f.contains(&("lex=b".to_string(), 0.75)));
        assert!(f.contains(&("lex=any".to_string(), 0.75)));
        assert!(f.contains(&("cue=informasi".to_string(), 0.5)));
        assert!(f.contains(&("q=?".to_string(), 1.0)));
        assert!(f.contains(&("pair=p".to_string(), 1.0)));
        assert_eq!(f.last().map(|x| x.0.as_str()), Some("bias"));
    }

    #[test]
    fn spec_round_trips() {
        for s in [Spec::CATEGORY, Spec::REPORT] {
            assert_eq!(Spec::parse(&s.render()), Some(s));
        }
        assert_eq!(Spec::parse("chars=5-3"), None);
        assert_eq!(Spec::parse("words colours"), None);
    }
}
