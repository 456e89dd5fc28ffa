//! Rules 1 and 6 of docs/routing.md: the category and the report type.
//!
//! Both are decided by the learned models of [`super::model`] over the
//! features of [`super::features`]; the lexicon (`lexicon.txt`) and the cue
//! words (`cues.txt`) enter those models as features, so a subject word the
//! labelled data never showed still counts, and the reasons name the words
//! that decided. Without a model file the lexicon decides alone, as a
//! weighted vote (the behaviour before models, kept for table experiments).

use std::fmt::Write as _;

use super::engine::{Analysis, Ev};
use super::features::{self, Spec, TableScores};
use super::figures::{push_fixed, Fixed};
use super::hashed::{TableKeys, TextHashes};
use super::model::Linear;
use super::text::NormText;
use super::{Engine, ReportType};

/// What the category step decided.
#[derive(Debug, Clone, Default)]
pub(super) struct CategoryPick {
    pub(super) category: Option<usize>,
    /// Calibrated probability of that choice (`none` included).
    pub(super) probability: f32,
    /// The best category when the pick is `none`, or the runner-up.
    pub(super) alternative: Option<(usize, f32)>,
    /// The next categories after the pick, most likely first (for the
    /// next-best agency when one says "bukan wewenang").
    pub(super) ranked: Ranked,
}

/// How many categories after the pick a decision keeps.
pub(super) const RANKED: usize = 3;
/// Categories by index with their probabilities, most likely first.
pub(super) type Ranked = [Option<(usize, f32)>; RANKED];

/// The text as the models see it.
pub(super) struct Seen<'a> {
    pub(super) nt: &'a NormText,
    /// Words as written, space-separated ([`super::text::raw_words`]).
    pub(super) raw: &'a str,
    pub(super) scores: TableScores,
    /// The text's hashed features, computed by the first model that asks
    /// and shared with the second.
    pub(super) hashes: std::cell::OnceCell<TextHashes>,
}

impl Seen<'_> {
    /// Features by name (training).
    pub(super) fn feed(&self, spec: &Spec, names: &features::Names<'_>, sink: &mut dyn FnMut(&[u8], f32)) {
        self.extract(spec, names, |k: Vec<u8>, v| sink(&k, v));
    }

    /// Features by hash (deciding): the same as [`Seen::feed`] gives by
    /// name, in the same order (see [`super::hashed`]).
    pub(super) fn hashed(&self, spec: &Spec, keys: &TableKeys) -> Vec<(u64, f32)> {
        let text = self
            .hashes
            .get_or_init(|| TextHashes::of(self.nt, self.raw, spec.chars));
        let mut out = Vec::with_capacity(256);
        text.features(spec, self.raw, &self.scores, keys, &mut out);
        out
    }

    pub(super) fn extract<K: features::Key>(&self, spec: &Spec, names: &features::Names<'_>, sink: impl FnMut(K, f32)) {
        let words: Vec<&str> = (0..self.nt.toks.len()).map(|i| self.nt.word(i)).collect();
        let raw: Vec<&str> = self.raw.split(' ').filter(|w| !w.is_empty()).collect();
        features::extract(spec, &words, &raw, &self.scores, names, sink);
    }
}

impl Engine {
    /// Names the table features are written with.
    pub(super) fn feature_names(&self) -> features::Names<'_> {
        features::Names {
            categories: &self.category_codes,
            pairs: &self.pair_names,
        }
    }

    /// Lexicon and cue scores of one scan (the table part of the features).
    pub(super) fn table_scores(&self, a: &Analysis, nt: &NormText, question: bool) -> TableScores {
        let n = self.categories.len();
        let mut lexicon = vec![0f32; n];
        let mut requested = vec![0f32; n];
        let mut seen: std::collections::HashSet<(usize, &str)> = std::collections::HashSet::new();
        for ev in &a.ev {
            let (mut w, after_request) = self.evidence_weight(ev, a, nt);
            // A word repeated adds less each time: a long e-mail saying
            // `rumah sakit` five times is not five times as much about health.
            if !seen.insert((ev.cat, &nt.s[ev.start..ev.end])) {
                w *= self.settings.repeat_factor;
            }
            lexicon[ev.cat] += w;
            if after_request {
                requested[ev.cat] += w;
            }
        }
        let mut cues = [0f32; 2];
        for &(_, _, kind, w) in &a.reports {
            match kind {
                ReportType::Aspirasi => cues[0] += w,
                ReportType::Informasi => cues[1] += w,
                ReportType::Pengaduan => {}
            }
        }
        // A pair is present when a word of each side lies within its window.
        let mut pairs = vec![0f32; self.pairs.len()];
        let mut hits = a.pair_hits.clone();
        hits.sort_unstable();
        for (i, (_, window)) in self.pairs.iter().enumerate() {
            let mut last = [None::<usize>; 2];
            for &(tok, p, b) in &hits {
                if p as usize != i {
                    continue;
                }
                last[b as usize] = Some(tok);
                if let Some(other) = last[!b as usize] {
                    if tok - other <= *window {
                        pairs[i] = 1.0;
                        break;
                    }
                }
            }
        }
        TableScores {
            lexicon,
            requested,
            cues,
            question,
            pairs,
        }
    }

    /// Weight of one hit with the subject and request-word boosts, and
    /// whether it follows a request word (rule 1 tie-break).
    pub(super) fn evidence_weight(&self, ev: &Ev, a: &Analysis, nt: &NormText) -> (f32, bool) {
        let mut w = ev.weight;
        if ev.tok < nt.subject_toks {
            w *= self.settings.subject_boost;
        }
        let win = self.settings.request_window;
        // `request_end_toks` is in text order: the nearest request word
        // before the hit is found by binary search, not a scan.
        let i = a.request_end_toks.partition_point(|&r| r < ev.tok);
        let after_request = i > 0 && ev.tok - a.request_end_toks[i - 1] <= win;
        if after_request {
            w *= self.settings.request_boost;
        }
        (w, after_request)
    }

    pub(super) fn pick_category(&self, a: &Analysis, seen: &Seen<'_>, reasons: &mut Vec<String>) -> CategoryPick {
        let Some(m) = &self.model else {
            return self.pick_category_by_lexicon(a, seen, reasons);
        };
        let model = &m.category;
        let feats = model.known(&seen.hashed(&model.spec(), &self.table_keys));
        let scores = model.scores(&feats);
        let p = model.probabilities(&scores);
        let mut order: Vec<usize> = (0..p.len()).collect();
        order.sort_by(|&x, &y| p[y].total_cmp(&p[x]).then(x.cmp(&y)));
        let best = order[0];
        let cat_of = |class: usize| self.class_category.get(class).copied().flatten();
        let mut ranked: Ranked = [None; RANKED];
        let next = order[1..].iter().filter_map(|&c| cat_of(c).map(|cat| (cat, p[c])));
        for (slot, r) in ranked.iter_mut().zip(next) {
            *slot = Some(r);
        }
        let pick = CategoryPick {
            category: cat_of(best),
            probability: p[best],
            alternative: order.get(1).and_then(|&c| cat_of(c).map(|cat| (cat, p[c]))),
            ranked,
        };
        let evidence = evidence_line(model, best, &feats);
        let runner = match order.get(1) {
            Some(&c) => format!("; runner-up {} {}", model.classes[c], Fixed(p[c], 2)),
            None => String::new(),
        };
        match pick.category {
            Some(cat) => reasons.push(format!(
                "category {} (p {}): {evidence}{runner}",
                self.categories[cat].code,
                Fixed(p[best], 2)
            )),
            None => reasons.push(format!(
                "category none (p {}: not a service complaint the model knows): {evidence}{runner}",
                Fixed(p[best], 2)
            )),
        }
        let terms = self.lexicon_terms(a, seen.nt, pick.category);
        if !terms.is_empty() {
            reasons.push(format!("lexicon terms: {terms}"));
        }
        pick
    }

    /// Matched lexicon terms of a category, for the reasons.
    fn lexicon_terms(&self, a: &Analysis, nt: &NormText, cat: Option<usize>) -> String {
        let Some(cat) = cat else { return String::new() };
        let mut out = String::new();
        let mut seen: Vec<&str> = Vec::new();
        for ev in a.ev.iter().filter(|e| e.cat == cat) {
            let word = &nt.s[ev.start..ev.end];
            if seen.contains(&word) || seen.len() >= 8 {
                continue;
            }
            seen.push(word);
            if !out.is_empty() {
                out.push_str(", ");
            }
            let _ = write!(out, "'{word}' {}", Fixed(self.evidence_weight(ev, a, nt).0, 1));
        }
        out
    }

    /// The lexicon alone (no model file): the best weighted sum that reaches
    /// `min_score`.
    fn pick_category_by_lexicon(&self, a: &Analysis, seen: &Seen<'_>, reasons: &mut Vec<String>) -> CategoryPick {
        let score = &seen.scores.lexicon;
        let mut order: Vec<usize> = (0..score.len()).filter(|&c| score[c] > 0.0).collect();
        order.sort_by(|&x, &y| score[y].total_cmp(&score[x]).then(x.cmp(&y)));
        let Some(&best) = order.first() else {
            reasons.push("category none: no subject word matched".to_string());
            return CategoryPick::default();
        };
        if score[best] < self.settings.min_score {
            reasons.push(format!(
                "category none: best candidate {} scored {:.1}, below {:.1}",
                self.categories[best].code, score[best], self.settings.min_score
            ));
            return CategoryPick {
                alternative: Some((best, 0.0)),
                ..CategoryPick::default()
            };
        }
        reasons.push(format!(
            "category {} (lexicon score {:.1}, no model): {}",
            self.categories[best].code,
            score[best],
            self.lexicon_terms(a, seen.nt, Some(best))
        ));
        CategoryPick {
            category: Some(best),
            probability: 0.5,
            alternative: order.get(1).map(|&c| (c, 0.0)),
            ..CategoryPick::default()
        }
    }

    pub(super) fn report_type(&self, a: &Analysis, seen: &Seen<'_>, reasons: &mut Vec<String>) -> ReportType {
        let mut words: Vec<&str> = Vec::new();
        for &(s, e, _, _) in &a.reports {
            words.push(&seen.nt.s[s..e]);
        }
        let (kind, why) = match &self.model {
            Some(m) => {
                let model = &m.report;
                let feats = model.known(&seen.hashed(&model.spec(), &self.table_keys));
                let scores = model.scores(&feats);
                let p = model.probabilities(&scores);
                let best = (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b });
                let kind = match model.classes[best].as_str() {
                    "aspirasi" => ReportType::Aspirasi,
                    "informasi" => ReportType::Informasi,
                    _ => ReportType::Pengaduan,
                };
                (
                    kind,
                    format!("p {}: {}", Fixed(p[best], 2), evidence_line(model, best, &feats)),
                )
            }
            None => {
                let [asp, inf] = seen.scores.cues;
                let min = self.cue.report_min_score;
                let kind = if asp >= min && asp >= inf {
                    ReportType::Aspirasi
                } else if inf >= min {
                    ReportType::Informasi
                } else {
                    ReportType::Pengaduan
                };
                (kind, format!("aspirasi {asp:.1}, informasi {inf:.1}"))
            }
        };
        if kind != ReportType::Pengaduan || !words.is_empty() {
            reasons.push(format!(
                "report type {} ({why}); cue words: {}",
                kind.as_str(),
                if words.is_empty() {
                    "none".to_string()
                } else {
                    words.join(", ")
                }
            ));
        }
        kind
    }
}

/// How many features the reasons name.
const EVIDENCE_SHOWN: usize = 6;

/// The strongest features for `class`, as `'word' +1.23`.
///
/// Only the best few are kept while scanning (strongest first, ties by
/// name): sorting every feature of a text, hundreds of character n-grams,
/// to show six was a quarter of the time of a decision.
fn evidence_line(model: &Linear, class: usize, feats: &[(u32, f32)]) -> String {
    // Names are compared only to break a tie in value: comparing them for
    // every feature was most of the time of this function.
    let better = |a: &(u32, f32), b: &(u32, f32)| {
        b.1.total_cmp(&a.1)
            .then_with(|| model.name(a.0).cmp(model.name(b.0)))
            .is_lt()
    };
    let mut top: Vec<(u32, f32)> = Vec::with_capacity(EVIDENCE_SHOWN + 1);
    for x in model.contributions(class, feats) {
        if x.1 <= 0.0 || model.name(x.0) == "bias" {
            continue;
        }
        if top.len() == EVIDENCE_SHOWN && !better(&x, &top[EVIDENCE_SHOWN - 1]) {
            continue;
        }
        let at = top.partition_point(|t| better(t, &x));
        top.insert(at, x);
        top.truncate(EVIDENCE_SHOWN);
    }
    let mut out = String::with_capacity(128);
    for &(row, v) in &top {
        if !out.is_empty() {
            out.push_str(", ");
        }
        push_readable(&mut out, model.name(row));
        out.push_str(" +");
        push_fixed(&mut out, v, 2);
    }
    if out.is_empty() {
        out.push_str("no evidence for it");
    }
    out
}

/// A feature name as a reader would say it, appended to `out`.
fn push_readable(out: &mut String, name: &str) {
    let quoted = |out: &mut String, w: &str| {
        out.push('\'');
        out.push_str(w);
        out.push('\'');
    };
    match name.split_once('=') {
        Some(("w", w)) | Some(("b", w)) => quoted(out, w),
        Some(("c", g)) => {
            out.push_str("spelling ");
            quoted(out, g);
        }
        Some(("lex", "any")) => out.push_str("a subject word of the lexicon"),
        Some(("lex", c)) => {
            out.push_str("lexicon ");
            out.push_str(c);
        }
        Some(("pair", p)) => {
            out.push_str("cue pair ");
            out.push_str(p);
        }
        Some(("req", c)) => {
            out.push_str("asked to fix: ");
            out.push_str(c);
        }
        Some(("cue", k)) => {
            out.push_str(k);
            out.push_str(" cue words");
        }
        Some(("q", _)) => out.push_str("question mark"),
        _ => out.push_str(name),
    }
}
