//! The deciding path's features: exactly what [`super::features::extract`]
//! feeds as hashes, computed once per decision and shared by both models.
//!
//! `extract` is the definition (training reads names from it, and the test
//! below checks this module against it on every labelled text). Deciding
//! needs the same hashes, in the same order — a model's score is a float sum,
//! and the order of its terms is part of the result — but it decides two
//! models over one text: the word and bigram hashes are the same for both,
//! the names of the table features never change, and a text's hashes can be
//! sorted per kind and merged instead of sorted all together. Doing that work
//! once was the largest single saving in the router's time per decision.

use super::features::{self, fnv, Key, Names, Spec, TableScores, FNV_OFFSET, SCORE_CAP, SCORE_SCALE};
use super::text::NormText;

const WORD: u64 = fnv(FNV_OFFSET, b"w=");
const BIGRAM: u64 = fnv(FNV_OFFSET, b"b=");
const CHAR: u64 = fnv(FNV_OFFSET, b"c=");

/// Hashes of the table features' names, fixed when the engine is built.
#[derive(Debug, Clone, Default)]
pub struct TableKeys {
    lex_any: u64,
    lex: Vec<u64>,
    req: Vec<u64>,
    pairs: Vec<u64>,
    cues: [u64; 2],
    question: u64,
    bias: u64,
}

impl TableKeys {
    pub fn new(names: &Names<'_>) -> TableKeys {
        let h = <u64 as Key>::of;
        TableKeys {
            lex_any: h(&[b"lex=any"]),
            lex: names.categories.iter().map(|c| h(&[b"lex=", c.as_bytes()])).collect(),
            req: names.categories.iter().map(|c| h(&[b"req=", c.as_bytes()])).collect(),
            pairs: names.pairs.iter().map(|p| h(&[b"pair=", p.as_bytes()])).collect(),
            cues: [h(&[b"cue=aspirasi"]), h(&[b"cue=informasi"])],
            question: h(&[b"q=?"]),
            bias: h(&[b"bias"]),
        }
    }
}

/// The text features of one complaint, each kind hashed, sorted and without
/// repeats.
#[derive(Debug, Default)]
pub struct TextHashes {
    words: Vec<u64>,
    bigrams: Vec<u64>,
    /// Character n-grams of the lengths in `chars_of`.
    chars: Vec<u64>,
    chars_of: (u8, u8),
}

impl TextHashes {
    /// Hashes of the canonical words of `nt`, the words as written in `raw`
    /// (space-separated, see [`super::text::raw_words`]), and the character
    /// n-grams of lengths `chars` (`(0, 0)`: none).
    pub fn of(nt: &NormText, raw: &str, chars: (u8, u8)) -> TextHashes {
        let n = nt.toks.len();
        let mut words = Vec::with_capacity(n);
        let mut bigrams = Vec::with_capacity(n.saturating_sub(1));
        let mut prev: Option<&str> = None;
        for i in 0..n {
            let w = nt.word(i);
            words.push(fnv(WORD, w.as_bytes()));
            if let Some(p) = prev {
                bigrams.push(fnv(fnv(fnv(BIGRAM, p.as_bytes()), b" "), w.as_bytes()));
            }
            prev = Some(w);
        }
        sort_dedup(&mut words);
        sort_dedup(&mut bigrams);
        TextHashes {
            words,
            bigrams,
            chars: char_grams(raw, chars),
            chars_of: chars,
        }
    }

    /// Every feature `spec` asks for, in the order `extract` feeds them,
    /// appended to `out`.
    pub fn features(&self, spec: &Spec, raw: &str, tables: &TableScores, keys: &TableKeys, out: &mut Vec<(u64, f32)>) {
        let other;
        let chars: &[u64] = match spec.chars {
            (0, _) => &[],
            c if c == self.chars_of => &self.chars,
            c => {
                other = char_grams(raw, c);
                &other
            }
        };
        let words: &[u64] = if spec.words { &self.words } else { &[] };
        let bigrams: &[u64] = if spec.bigrams { &self.bigrams } else { &[] };
        let mut wb = Vec::with_capacity(words.len() + bigrams.len());
        merge(words, bigrams, &mut wb);
        let mut text = Vec::with_capacity(wb.len() + chars.len());
        merge(&wb, chars, &mut text);
        // Kinds have distinct prefixes, so only a 64-bit collision repeats a
        // hash across kinds; `extract` would drop it, and so does this.
        text.dedup();
        if !text.is_empty() {
            let v = 1.0 / (text.len() as f32).sqrt();
            out.extend(text.iter().map(|&k| (k, v)));
        }
        if spec.lexicon {
            let strongest = tables.lexicon.iter().copied().fold(0f32, f32::max);
            if strongest > 0.0 {
                out.push((keys.lex_any, strongest.min(SCORE_CAP) / SCORE_SCALE));
            }
            for i in 0..keys.lex.len() {
                for (key, scores) in [(keys.lex[i], &tables.lexicon), (keys.req[i], &tables.requested)] {
                    let s = scores.get(i).copied().unwrap_or(0.0);
                    if s > 0.0 {
                        out.push((key, s.min(SCORE_CAP) / SCORE_SCALE));
                    }
                }
            }
            for (i, &key) in keys.pairs.iter().enumerate() {
                if tables.pairs.get(i).copied().unwrap_or(0.0) > 0.0 {
                    out.push((key, 1.0));
                }
            }
        }
        if spec.cues {
            for (key, s) in keys.cues.iter().zip(tables.cues) {
                if s > 0.0 {
                    out.push((*key, s.min(SCORE_CAP) / SCORE_SCALE));
                }
            }
            if tables.question {
                out.push((keys.question, 1.0));
            }
        }
        out.push((keys.bias, 1.0));
    }
}

/// The hashes of [`features::char_grams`], sorted and without repeats.
fn char_grams(raw: &str, chars: (u8, u8)) -> Vec<u64> {
    let mut out = Vec::with_capacity(if chars.0 > 0 { raw.len() * 2 } else { 0 });
    features::char_grams(raw.split(' ').filter(|w| !w.is_empty()), chars, |g| {
        out.push(fnv(CHAR, g))
    });
    sort_dedup(&mut out);
    out
}

fn sort_dedup(v: &mut Vec<u64>) {
    v.sort_unstable();
    v.dedup();
}

/// Two sorted slices into one sorted vector (repeats kept).
fn merge(a: &[u64], b: &[u64], out: &mut Vec<u64>) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::features::extract;
    use crate::routing::text::{raw_words, Normalizer};

    fn check(text: &str, spec: Spec, hashed_with: (u8, u8)) {
        let norm = Normalizer::new([("tdk".to_string(), "tidak".to_string())]);
        let mut nt = NormText::default();
        norm.push(text, &mut nt);
        let mut raw = String::new();
        raw_words(text, &mut raw);
        let tables = TableScores {
            lexicon: vec![0.0, 3.0, 9.5],
            requested: vec![0.0, 1.0, 0.0],
            cues: [0.5, 2.0],
            question: true,
            pairs: vec![0.0, 1.0],
        };
        let cats = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let pairs = vec!["p".to_string(), "q".to_string()];
        let names = Names {
            categories: &cats,
            pairs: &pairs,
        };
        let words: Vec<&str> = (0..nt.toks.len()).map(|i| nt.word(i)).collect();
        let raws: Vec<&str> = raw.split(' ').filter(|w| !w.is_empty()).collect();
        let mut want = Vec::new();
        extract(&spec, &words, &raws, &tables, &names, |k: u64, v| want.push((k, v)));
        let mut got = Vec::new();
        TextHashes::of(&nt, &raw, hashed_with).features(&spec, &raw, &tables, &TableKeys::new(&names), &mut got);
        assert_eq!(got, want, "{text:?} {spec:?}");
    }

    #[test]
    fn same_features_as_extract_on_every_labelled_text() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let engine = match crate::routing::Engine::load(&root.join("config/routing"), &root.join("config/wilayah")) {
            Ok(e) => e,
            Err(e) => panic!("committed tables load: {e}"),
        };
        let Some(model) = &engine.model else {
            panic!("the committed model loads")
        };
        let mut checked = 0;
        for entry in std::fs::read_dir(root.join("tests/data"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
                continue;
            }
            for line in std::fs::read_to_string(&path).unwrap_or_default().lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                let text = v["text"].as_str().unwrap_or_default();
                let r = engine.read(v["subject"].as_str(), text);
                // Report first, so the category model's n-grams are the
                // ones computed on demand.
                for order in [[&model.report, &model.category], [&model.category, &model.report]] {
                    let seen = r.seen();
                    for m in order {
                        let mut want = Vec::new();
                        seen.extract(&m.spec(), &engine.feature_names(), |k: u64, v| want.push((k, v)));
                        assert_eq!(seen.hashed(&m.spec(), &engine.table_keys), want, "{text}");
                    }
                }
                checked += 1;
            }
        }
        assert!(checked > 2000, "labelled texts checked: {checked}");
    }

    #[test]
    fn same_features_in_the_same_order_as_extract() {
        for text in [
            "",
            "123 4567",
            "jalan jalan rusak tdk diperbaiki, jalan rusak!!",
            "Anak2 SAYA tdk dapat PIP?? sdh 3x tanya",
            "a b c d e f g a b c",
        ] {
            for spec in [Spec::CATEGORY, Spec::REPORT] {
                check(text, spec, Spec::CATEGORY.chars);
                // A spec whose n-gram lengths differ from what was hashed.
                check(text, spec, (3, 3));
            }
        }
    }
}
