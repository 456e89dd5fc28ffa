//! `pintu train`: labelled complaints (docs/routing.md §5) → `model.tsv`.
//!
//! The model is a build product of the labelled data and the code: the
//! training files are listed in `config/routing/training.txt`, and running
//! `pintu train` on them reproduces the committed `model.tsv` byte for byte
//! (a test checks it), so the shipped router is exactly what data and code
//! make and a reviewer can trust the diff of a retraining.
//!
//! What it does: reads every example through the same [`Engine::read`] the
//! router uses (so features at training and at decision time agree), fits
//! the category and report-type models ([`super::ftrl`]), calibrates them on
//! out-of-fold predictions (rule 9), measures per kind of place evidence how
//! often the place rules give the right agency when the category is right,
//! and writes it all as one sorted text file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::cli::{read_examples, Example};
use super::engine::NONE_CLASS;
use super::features::Spec;
use super::ftrl::{self, Params, Sample, Vocabulary};
use super::model::{Linear, ModelFile};
use super::{tables, Context, Engine, PlaceEvidence, RoutingError};

/// File in the routing directory that lists the training data.
pub const TRAINING_LIST: &str = "training.txt";
/// Folds of the cross-validation that calibrates the models.
const FOLDS: u8 = 5;
const REPORT_CLASSES: [&str; 3] = ["pengaduan", "aspirasi", "informasi"];

/// What `pintu train` produced.
#[derive(Debug)]
pub struct Trained {
    /// The model file's text.
    pub model: String,
    /// A human summary: data, held-out accuracy, calibration.
    pub summary: String,
}

/// The training files of `training.txt`, relative to `root` (the
/// repository), one path per line, `#` comments.
pub fn training_files(routing_dir: &Path, root: &Path) -> Result<Vec<PathBuf>, RoutingError> {
    let path = routing_dir.join(TRAINING_LIST);
    let text = std::fs::read_to_string(&path).map_err(|e| RoutingError::Io {
        path: path.clone(),
        source: e,
    })?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(|l| root.join(l))
        .collect())
}

/// Train on `files` with the tables of `routing_dir` (any model there is
/// ignored: a model never learns from an earlier model).
pub fn train(
    routing_dir: &Path,
    wilayah_dir: &Path,
    files: &[PathBuf],
    show_errors: bool,
) -> Result<Trained, RoutingError> {
    let mut t = tables::load(routing_dir, wilayah_dir)?;
    t.model = None;
    let engine = Engine::compile(t)?;
    let mut examples: Vec<Example> = Vec::new();
    for f in files {
        examples.extend(read_examples(f)?);
    }
    if examples.is_empty() {
        return Err(RoutingError::Invalid("no labelled examples to train on".into()));
    }
    let mut cat_classes = vec![NONE_CLASS.to_string()];
    cat_classes.extend(engine.category_codes.iter().cloned());

    let cat_spec = Spec::CATEGORY;
    let mut cat_vocab = Vocabulary::default();
    let mut rep_vocab = Vocabulary::default();
    let mut cat_samples = Vec::with_capacity(examples.len());
    let mut rep_samples = Vec::with_capacity(examples.len());
    for ex in &examples {
        let y_cat = match &ex.expected.category {
            None => 0,
            Some(c) => cat_classes
                .iter()
                .position(|k| k == c)
                .ok_or_else(|| RoutingError::Invalid(format!("example {}: unknown category `{c}`", ex.id)))?,
        };
        let y_rep = REPORT_CLASSES
            .iter()
            .position(|k| *k == ex.expected.report_type)
            .ok_or_else(|| {
                RoutingError::Invalid(format!(
                    "example {}: unknown report type `{}`",
                    ex.id, ex.expected.report_type
                ))
            })?;
        let r = engine.read(ex.subject.as_deref(), &ex.text);
        let seen = r.seen();
        let fold = ftrl::fold_of(&ex.id, FOLDS);
        for (spec, vocab, samples, y) in [
            (cat_spec, &mut cat_vocab, &mut cat_samples, y_cat),
            (Spec::REPORT, &mut rep_vocab, &mut rep_samples, y_rep),
        ] {
            let mut x = Vec::new();
            seen.feed(&spec, &engine.feature_names(), &mut |name, v| {
                x.push((vocab.id(name), v))
            });
            samples.push(Sample { x, y: y as u16, fold });
        }
    }

    let params = Params::default();
    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "{} labelled examples from {} file(s)",
        examples.len(),
        files.len()
    );
    let ids: Vec<(&str, &str)> = examples.iter().map(|e| (e.id.as_str(), e.text.as_str())).collect();
    let review = show_errors.then_some(ids.as_slice());
    let job = Job {
        samples: &cat_samples,
        vocab: &cat_vocab,
        classes: &cat_classes,
        spec: cat_spec,
        what: "category",
    };
    let cat = fit_model(job, &params, review, &mut summary);
    let rep_classes: Vec<String> = REPORT_CLASSES.iter().map(|s| s.to_string()).collect();
    let job = Job {
        samples: &rep_samples,
        vocab: &rep_vocab,
        classes: &rep_classes,
        spec: Spec::REPORT,
        what: "report type",
    };
    let rep = fit_model(job, &params, review, &mut summary);

    // How often the place rules (2–5) give the right agency when the
    // category is right, per kind of place evidence (Laplace-smoothed).
    let mut counts = [(0u32, 0u32); PlaceEvidence::ALL.len()];
    for ex in examples.iter() {
        let Some(cat) = ex.expected.category.as_deref() else {
            continue;
        };
        let ctx = Context {
            category: Some(cat),
            ..Context::default()
        };
        let d = engine.decide_in(ex.subject.as_deref(), &ex.text, &ctx);
        let k = PlaceEvidence::ALL.iter().position(|p| *p == d.place).unwrap_or(0);
        counts[k].1 += 1;
        if d.agency == ex.expected.agency {
            counts[k].0 += 1;
        }
    }
    let mut rates = Vec::new();
    let _ = writeln!(summary, "agency right when the category is right, by place evidence:");
    for (k, (right, n)) in PlaceEvidence::ALL.iter().zip(counts) {
        let rate = (right as f32 + 1.0) / (n as f32 + 2.0);
        let rate = (rate * 1000.0).round() / 1000.0;
        let _ = writeln!(summary, "  {:<10} {right}/{n} -> {rate:.3}", k.as_str());
        rates.push((k.as_str().to_string(), rate));
    }

    let file = ModelFile {
        category: cat,
        report: rep,
        rates,
    };
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let header = format!(
        "Pintu routing model: generated by `pintu train` from {} labelled examples\n\
         ({}). Do not edit: change the data or the tables and train again.\n\
         Each `f` line: a feature and its weight per class (see src/routing/model.rs).",
        examples.len(),
        names.join(", ")
    );
    let _ = writeln!(
        summary,
        "model: {} category features, {} report-type features",
        file.category.feature_count(),
        file.report.feature_count()
    );
    Ok(Trained {
        model: file.render(&header),
        summary,
    })
}

/// One model to fit: its samples, features and classes.
struct Job<'a> {
    samples: &'a [Sample],
    vocab: &'a Vocabulary,
    classes: &'a [String],
    spec: Spec,
    what: &'a str,
}

/// Cross-validate (for the temperature and the held-out accuracy), then fit
/// on everything and keep the features whose weights survive rounding.
/// `review`: the examples' (id, text), to list the held-out mistakes.
fn fit_model(job: Job<'_>, params: &Params, review: Option<&[(&str, &str)]>, summary: &mut String) -> Linear {
    let Job {
        samples,
        vocab,
        classes,
        spec,
        what,
    } = job;
    let oof = ftrl::out_of_fold(samples, vocab.len(), classes.len(), params, FOLDS);
    let labels: Vec<u16> = samples.iter().map(|s| s.y).collect();
    let right = oof
        .iter()
        .zip(&labels)
        .filter(|(s, &y)| ftrl::argmax(s) == y as usize)
        .count();
    if let Some(ids) = review {
        for (i, (s, &y)) in oof.iter().zip(&labels).enumerate() {
            let got = ftrl::argmax(s);
            if got != y as usize {
                let _ = writeln!(
                    summary,
                    "  held-out miss {}: expected {} got {} | {}",
                    ids[i].0,
                    classes[y as usize],
                    classes[got],
                    ids[i].1.chars().take(140).collect::<String>().replace('\n', " ")
                );
            }
        }
    }
    let t = ftrl::fit_temperature(&oof, &labels);
    let _ = writeln!(
        summary,
        "{what}: {FOLDS}-fold held-out accuracy {:.1}% ({right}/{}), temperature {t:.3}",
        100.0 * right as f64 / samples.len().max(1) as f64,
        samples.len()
    );
    let w = ftrl::fit(samples, vocab.len(), classes.len(), params, |_| true);
    let mut m = Linear::new(classes.to_vec(), spec, t as f32);
    for (name, f) in vocab.sorted() {
        let f = f as usize;
        let row = &w.w[f * classes.len()..(f + 1) * classes.len()];
        let cells: Vec<(u16, f32)> = row
            .iter()
            .enumerate()
            .map(|(c, &x)| (c as u16, round4(x)))
            .filter(|(_, x)| *x != 0.0)
            .collect();
        if !cells.is_empty() {
            m.push(&String::from_utf8_lossy(name), &cells);
        }
    }
    m
}

/// Weights are stored with four decimals; rounding here makes the model in
/// memory equal to the model read back from its file.
fn round4(x: f64) -> f32 {
    let r = (x * 10_000.0).round() / 10_000.0;
    if r == 0.0 {
        0.0
    } else {
        r as f32
    }
}
