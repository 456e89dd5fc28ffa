//! The learned part of the router: linear models over [`super::features`],
//! read from `config/routing/model.tsv` (written by `pintu train`).
//!
//! A model is a table `feature -> weight per class`; the score of a class is
//! the sum of `value × weight` over the text's features, and its probability
//! the softmax of the scores divided by a temperature fitted on held-out
//! predictions (so `0.9` means right nine times in ten on text the model did
//! not learn from — rule 9). The file is plain text, sorted, one feature per
//! line, so a reviewer can read what the model learned (`w=pkh` →
//! `sosial:2.1`) and a diff shows what a retraining changed.
//!
//! File layout (tab-separated):
//!
//! ```text
//! model     category
//! spec      words bigrams chars=3-5 lexicon
//! classes   none kesehatan ...
//! temperature 1.25
//! rate      regency  0.97          (agency right when the category is; see train)
//! f         w=puskesmas  kesehatan:1.8 none:-0.3
//! model     report
//! ...
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use super::features::{self, Spec};
use super::RoutingError;

/// File name inside the routing directory.
pub const MODEL_FILE: &str = "model.tsv";

/// Feature keys are already FNV hashes: hashing them again is wasted work.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type FeatureIndex = HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>;

/// One linear model.
#[derive(Debug, Clone, Default)]
pub struct Linear {
    pub classes: Vec<String>,
    pub spec: Option<Spec>,
    pub temperature: f32,
    /// Feature names, in file order (row `i` of the weights).
    pub names: Vec<String>,
    index: FeatureIndex,
    rows: Vec<(u32, u32)>,
    cells: Vec<(u16, f32)>,
}

impl Linear {
    pub fn new(classes: Vec<String>, spec: Spec, temperature: f32) -> Linear {
        Linear {
            classes,
            spec: Some(spec),
            temperature,
            ..Linear::default()
        }
    }

    pub fn spec(&self) -> Spec {
        self.spec.unwrap_or(Spec::CATEGORY)
    }

    /// Add one feature row; weights of zero are not stored.
    pub fn push(&mut self, name: &str, weights: &[(u16, f32)]) {
        let start = self.cells.len() as u32;
        self.cells.extend(weights.iter().filter(|(_, w)| *w != 0.0));
        let len = self.cells.len() as u32 - start;
        self.index
            .insert(features::hash(name.as_bytes()), self.names.len() as u32);
        self.names.push(name.to_string());
        self.rows.push((start, len));
    }

    pub fn class_index(&self, code: &str) -> Option<usize> {
        self.classes.iter().position(|c| c == code)
    }

    /// The rows of the features the model knows, with their values: one
    /// lookup per feature, shared by [`Linear::scores`] and
    /// [`Linear::contributions`].
    pub fn known(&self, features: &[(u64, f32)]) -> Vec<(u32, f32)> {
        features
            .iter()
            .filter_map(|(key, v)| self.index.get(key).map(|&row| (row, *v)))
            .collect()
    }

    /// Raw scores (logits) of every class.
    pub fn scores(&self, known: &[(u32, f32)]) -> Vec<f32> {
        let mut s = vec![0f32; self.classes.len()];
        for &(row, v) in known {
            for &(c, w) in self.row(row) {
                if let Some(x) = s.get_mut(c as usize) {
                    *x += v * w;
                }
            }
        }
        s
    }

    /// What each known feature adds to `class`: `(row, value × weight)`
    /// for the features that have a weight for it.
    pub fn contributions<'a>(&'a self, class: usize, known: &'a [(u32, f32)]) -> impl Iterator<Item = (u32, f32)> + 'a {
        known.iter().filter_map(move |&(row, v)| {
            self.row(row)
                .iter()
                .find(|(c, _)| *c as usize == class)
                .map(|&(_, w)| (row, v * w))
        })
    }

    /// The name of feature row `row`.
    pub fn name(&self, row: u32) -> &str {
        self.names.get(row as usize).map(String::as_str).unwrap_or_default()
    }

    fn row(&self, row: u32) -> &[(u16, f32)] {
        let (start, len) = self.rows[row as usize];
        &self.cells[start as usize..(start + len) as usize]
    }

    /// Calibrated probabilities of the classes for these scores.
    pub fn probabilities(&self, scores: &[f32]) -> Vec<f32> {
        softmax(scores, self.temperature)
    }

    pub fn feature_count(&self) -> usize {
        self.names.len()
    }
}

/// Softmax of `scores / t`, numerically safe.
pub fn softmax(scores: &[f32], t: f32) -> Vec<f32> {
    let t = if t > 0.0 { t } else { 1.0 };
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = scores.iter().map(|s| ((s - max) / t).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// Both models and the agency-given-category rates.
#[derive(Debug, Clone, Default)]
pub struct ModelFile {
    pub category: Linear,
    pub report: Linear,
    /// Share of held-out decisions whose agency was right when the category
    /// was, per kind of place evidence (see `Engine::place_kind`).
    pub rates: Vec<(String, f32)>,
}

impl ModelFile {
    pub fn rate(&self, kind: &str) -> f32 {
        self.rates
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, r)| *r)
            .unwrap_or(1.0)
    }

    /// The file text, deterministic: same model, same bytes.
    pub fn render(&self, header: &str) -> String {
        let mut out = String::new();
        for line in header.lines() {
            let _ = writeln!(out, "# {line}");
        }
        for (name, m) in [("category", &self.category), ("report", &self.report)] {
            let _ = writeln!(out, "model\t{name}");
            let _ = writeln!(out, "spec\t{}", m.spec().render());
            let _ = writeln!(out, "classes\t{}", m.classes.join(" "));
            let _ = writeln!(out, "temperature\t{:.3}", m.temperature);
            if name == "category" {
                for (k, r) in &self.rates {
                    let _ = writeln!(out, "rate\t{k}\t{r:.3}");
                }
            }
            for (i, f) in m.names.iter().enumerate() {
                let (start, len) = m.rows[i];
                let cells = &m.cells[start as usize..(start + len) as usize];
                let _ = write!(out, "f\t{f}\t");
                for (j, (c, w)) in cells.iter().enumerate() {
                    if j > 0 {
                        out.push(' ');
                    }
                    let _ = write!(out, "{}:{w:.4}", m.classes[*c as usize]);
                }
                out.push('\n');
            }
        }
        out
    }

    pub fn parse(path: &Path, content: &str) -> Result<ModelFile, RoutingError> {
        let err = |line: usize, msg: String| RoutingError::Table {
            file: path.to_path_buf(),
            line,
            msg,
        };
        let mut file = ModelFile::default();
        let mut current: Option<&mut Linear> = None;
        let mut seen = 0;
        for (i, raw) in content.lines().enumerate() {
            let ln = i + 1;
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let mut cols = raw.split('\t');
            let key = cols.next().unwrap_or_default();
            let rest: Vec<&str> = cols.collect();
            if key == "model" {
                current = match rest.first().copied() {
                    Some("category") => Some(&mut file.category),
                    Some("report") => Some(&mut file.report),
                    other => return Err(err(ln, format!("unknown model {other:?}"))),
                };
                seen += 1;
                continue;
            }
            let Some(m) = current.as_deref_mut() else {
                return Err(err(ln, "a `model` line must come first".into()));
            };
            let one = |n: usize| -> Result<&str, RoutingError> {
                if rest.len() == n {
                    Ok(rest[n - 1])
                } else {
                    Err(err(ln, format!("`{key}` needs {n} value(s)")))
                }
            };
            match key {
                "spec" => {
                    m.spec = Some(Spec::parse(one(1)?).ok_or_else(|| err(ln, "unknown feature spec".into()))?);
                }
                "classes" => {
                    m.classes = one(1)?.split(' ').map(str::to_string).collect();
                    if m.classes.len() > u16::MAX as usize {
                        return Err(err(ln, "too many classes".into()));
                    }
                }
                "temperature" => {
                    m.temperature = one(1)?
                        .parse()
                        .ok()
                        .filter(|t: &f32| t.is_finite() && *t > 0.0)
                        .ok_or_else(|| err(ln, "temperature must be a positive number".into()))?;
                }
                "rate" => {
                    let r: f32 = one(2)?
                        .parse()
                        .ok()
                        .filter(|r: &f32| (0.0..=1.0).contains(r))
                        .ok_or_else(|| err(ln, "rate must be between 0 and 1".into()))?;
                    file.rates.push((rest[0].to_string(), r));
                }
                "f" => {
                    let cells = one(2)?;
                    let mut ws = Vec::new();
                    for cell in cells.split(' ').filter(|c| !c.is_empty()) {
                        let (class, w) = cell
                            .rsplit_once(':')
                            .ok_or_else(|| err(ln, format!("`{cell}` is not class:weight")))?;
                        let c = m
                            .class_index(class)
                            .ok_or_else(|| err(ln, format!("unknown class `{class}`")))?;
                        let w: f32 = w
                            .parse()
                            .ok()
                            .filter(|w: &f32| w.is_finite())
                            .ok_or_else(|| err(ln, format!("`{w}` is not a weight")))?;
                        ws.push((c as u16, w));
                    }
                    m.push(rest[0], &ws);
                }
                other => return Err(err(ln, format!("unknown line kind `{other}`"))),
            }
        }
        if seen != 2 || file.category.classes.is_empty() || file.report.classes.is_empty() {
            return Err(err(0, "needs a category and a report model, each with classes".into()));
        }
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ModelFile {
        let mut cat = Linear::new(vec!["none".into(), "sosial".into()], Spec::CATEGORY, 1.5);
        cat.push("bias", &[(0, 0.5)]);
        cat.push("w=bansos", &[(0, -0.25), (1, 2.0)]);
        let mut rep = Linear::new(
            vec!["pengaduan".into(), "aspirasi".into(), "informasi".into()],
            Spec::REPORT,
            1.0,
        );
        rep.push("q=?", &[(2, 1.0)]);
        ModelFile {
            category: cat,
            report: rep,
            rates: vec![("regency".into(), 0.95)],
        }
    }

    #[test]
    fn renders_and_parses_back() {
        let m = sample();
        let text = m.render("test model");
        let back = ModelFile::parse(Path::new("m.tsv"), &text).unwrap();
        assert_eq!(back.render("test model"), text);
        assert_eq!(back.rate("regency"), 0.95);
        let feats: Vec<(u64, f32)> = ["w=bansos", "w=unknown", "bias"]
            .iter()
            .map(|n| (features::hash(n.as_bytes()), 1.0))
            .collect();
        let s = back.category.scores(&back.category.known(&feats));
        assert_eq!(s, vec![0.25, 2.0]);
        let p = back.category.probabilities(&s);
        assert!(p[1] > p[0] && (p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn bad_lines_are_named() {
        let text = sample().render("x").replace("sosial:2.0000", "sosial:abc");
        let e = ModelFile::parse(Path::new("m.tsv"), &text).unwrap_err().to_string();
        assert!(e.contains("m.tsv:") && e.contains("not a weight"), "{e}");
        let e = ModelFile::parse(Path::new("m.tsv"), "f\tw=x\tnone:1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must come first"), "{e}");
    }
}
