//! `pintu explain` and `pintu eval`: the router without a broker.
//!
//! Both return the text to print, so `main.rs` stays a thin clap layer and
//! tests can check the output directly.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{Decision, Engine, RoutingError};
use crate::config::Config;

/// `pintu explain "<text>" [--subject S] [--json]`.
pub fn explain_cmd(cfg: &Config, text: &str, subject: Option<&str>, json: bool) -> Result<String, RoutingError> {
    let engine = Engine::from_config(cfg)?;
    Ok(explain(&engine, text, subject, json))
}

pub fn explain(engine: &Engine, text: &str, subject: Option<&str>, json: bool) -> String {
    let d = engine.decide(subject, text);
    if json {
        let mut v = serde_json::to_value(&d).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("router_version".into(), json!(engine.version()));
        }
        return v.to_string();
    }
    let mut out = String::new();
    let _ = writeln!(out, "category:     {}", d.category.as_deref().unwrap_or("-"));
    let _ = writeln!(out, "region:       {}", d.region.as_deref().unwrap_or("-"));
    let _ = writeln!(out, "agency:       {}", d.agency);
    let _ = writeln!(out, "report_type:  {}", d.report_type.as_str());
    let _ = writeln!(out, "confidential: {}", d.confidential);
    let _ = writeln!(out, "anonymous:    {}", d.anonymous);
    let _ = writeln!(out, "confidence:   {:.2}", d.confidence);
    if let Some(s) = &d.suggested_agency {
        let _ = writeln!(out, "suggested:    {s}");
    }
    let _ = writeln!(out, "reasons:");
    for r in &d.reasons {
        let _ = writeln!(out, "  - {r}");
    }
    out
}

/// One labelled example (docs/routing.md §5).
#[derive(Debug, Deserialize)]
pub struct Example {
    pub id: String,
    #[serde(default)]
    pub channel: Option<String>,
    pub text: String,
    #[serde(default)]
    pub subject: Option<String>,
    pub expected: Expected,
}

#[derive(Debug, Deserialize)]
pub struct Expected {
    pub category: Option<String>,
    pub region: Option<String>,
    pub agency: String,
    pub report_type: String,
    #[serde(default)]
    pub confidential: bool,
    #[serde(default)]
    pub anonymous: bool,
}

pub const FIELDS: [&str; 6] = [
    "category",
    "region",
    "agency",
    "report_type",
    "confidential",
    "anonymous",
];

/// Read a labelled JSONL file; blank lines are skipped, anything else that is
/// not an example is an error naming the line.
pub fn read_examples(path: &Path) -> Result<Vec<Example>, RoutingError> {
    let content = std::fs::read_to_string(path).map_err(|e| RoutingError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ex: Example = serde_json::from_str(line).map_err(|e| RoutingError::Eval {
            file: path.to_path_buf(),
            line: i + 1,
            msg: format!("not a labelled example: {e}"),
        })?;
        out.push(ex);
    }
    Ok(out)
}

/// Per-field comparison of one decision with its label.
fn fields(d: &Decision, e: &Expected) -> [(Value, Value); 6] {
    [
        (json!(e.category), json!(d.category)),
        (json!(e.region), json!(d.region)),
        (json!(e.agency), json!(d.agency)),
        (json!(e.report_type), json!(d.report_type.as_str())),
        (json!(e.confidential), json!(d.confidential)),
        (json!(e.anonymous), json!(d.anonymous)),
    ]
}

/// Scores of one run.
#[derive(Debug)]
pub struct EvalReport {
    pub n: usize,
    pub correct: [usize; 6],
    /// (confidence, agency right) of every decision, for rule 9's tables.
    pub confidence: Vec<(f64, bool)>,
    /// (id, field, expected, got, text)
    pub errors: Vec<(String, &'static str, Value, Value, String)>,
}

/// Confidence bins of the reliability table (lower bounds).
pub const BINS: [f64; 6] = [0.0, 0.5, 0.7, 0.8, 0.9, 0.95];
/// Thresholds of the precision/coverage table.
pub const THRESHOLDS: [f64; 6] = [0.0, 0.5, 0.7, 0.8, 0.9, 0.95];

impl EvalReport {
    /// Rule 9 reliability: per confidence bin, (decisions, agency right).
    pub fn reliability(&self) -> Vec<(f64, f64, usize, usize)> {
        BINS.iter()
            .enumerate()
            .map(|(i, &lo)| {
                let hi = BINS.get(i + 1).copied().unwrap_or(1.01);
                let inside: Vec<bool> = self
                    .confidence
                    .iter()
                    .filter(|(c, _)| *c >= lo && *c < hi)
                    .map(|(_, ok)| *ok)
                    .collect();
                (lo, hi.min(1.0), inside.len(), inside.iter().filter(|ok| **ok).count())
            })
            .collect()
    }

    /// With `routing.review_below = t`: (t, share of decisions kept, share of
    /// kept decisions with the right agency).
    pub fn precision_coverage(&self) -> Vec<(f64, f64, f64)> {
        THRESHOLDS
            .iter()
            .map(|&t| {
                let kept: Vec<bool> = self
                    .confidence
                    .iter()
                    .filter(|(c, _)| *c >= t)
                    .map(|(_, ok)| *ok)
                    .collect();
                let coverage = kept.len() as f64 / self.n.max(1) as f64;
                let precision = kept.iter().filter(|ok| **ok).count() as f64 / kept.len().max(1) as f64;
                (t, coverage, precision)
            })
            .collect()
    }

    pub fn accuracy(&self, field: &str) -> f64 {
        let i = FIELDS.iter().position(|f| *f == field).unwrap_or(0);
        if self.n == 0 {
            return 0.0;
        }
        self.correct[i] as f64 / self.n as f64
    }
}

pub fn evaluate(engine: &Engine, examples: &[Example]) -> EvalReport {
    let mut r = EvalReport {
        n: examples.len(),
        correct: [0; 6],
        confidence: Vec::new(),
        errors: Vec::new(),
    };
    for ex in examples {
        let d = engine.decide(ex.subject.as_deref(), &ex.text);
        r.confidence.push((d.confidence, d.agency == ex.expected.agency));
        for (i, (want, got)) in fields(&d, &ex.expected).into_iter().enumerate() {
            if want == got {
                r.correct[i] += 1;
            } else {
                r.errors.push((ex.id.clone(), FIELDS[i], want, got, ex.text.clone()));
            }
        }
    }
    r
}

/// `pintu eval <file.jsonl> [--json]`.
pub fn eval_cmd(cfg: &Config, path: &Path, json: bool) -> Result<String, RoutingError> {
    let engine = Engine::from_config(cfg)?;
    eval_with(&engine, path, json)
}

pub fn eval_with(engine: &Engine, path: &Path, json: bool) -> Result<String, RoutingError> {
    let examples = read_examples(path)?;
    let r = evaluate(engine, &examples);
    if json {
        // Written by hand to keep the documented key order (`n`, `accuracy`
        // in field order, `errors`); serde_json's map would sort the keys.
        let acc = FIELDS
            .iter()
            .map(|f| format!("{}:{}", json!(f), json!(round3(r.accuracy(f)))))
            .collect::<Vec<_>>()
            .join(",");
        let errors = r
            .errors
            .iter()
            .map(|(id, field, want, got, _)| {
                format!(
                    "{{\"id\":{},\"field\":{},\"expected\":{want},\"got\":{got}}}",
                    json!(id),
                    json!(field)
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        let bins = r
            .reliability()
            .iter()
            .map(|(lo, hi, n, ok)| format!("{{\"from\":{lo},\"to\":{hi},\"n\":{n},\"agency_right\":{ok}}}"))
            .collect::<Vec<_>>()
            .join(",");
        let pc = r
            .precision_coverage()
            .iter()
            .map(|(t, c, p)| {
                format!(
                    "{{\"review_below\":{t},\"coverage\":{},\"precision\":{}}}",
                    round3(*c),
                    round3(*p)
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        return Ok(format!(
            "{{\"n\":{},\"accuracy\":{{{acc}}},\"reliability\":[{bins}],\"precision_coverage\":[{pc}],\"errors\":[{errors}]}}",
            r.n
        ));
    }
    let mut out = String::new();
    let _ = writeln!(out, "{} examples from {}", r.n, path.display());
    let _ = writeln!(out, "router {}", engine.version());
    let _ = writeln!(out, "\naccuracy");
    for (i, f) in FIELDS.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {f:<13} {:>6.1}%  ({}/{})",
            100.0 * r.accuracy(f),
            r.correct[i],
            r.n
        );
    }
    let _ = writeln!(out, "\nreliability (rule 9): confidence -> share with the right agency");
    for (lo, hi, n, ok) in r.reliability() {
        let share = if n == 0 {
            "-".to_string()
        } else {
            format!("{:.1}%", 100.0 * ok as f64 / n as f64)
        };
        let _ = writeln!(out, "  {lo:.2}-{hi:.2}  {n:>5} decisions  {share:>6} right");
    }
    let _ = writeln!(out, "\nprecision / coverage at routing.review_below");
    for (t, c, p) in r.precision_coverage() {
        let _ = writeln!(
            out,
            "  {t:.2}  {:>5.1}% routed, {:>5.1}% of them to the right agency",
            100.0 * c,
            100.0 * p
        );
    }
    // Confusion of categories: expected -> what the router said instead.
    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (_, field, want, got, _) in &r.errors {
        if *field == "category" {
            *confusion.entry(label(want)).or_default().entry(label(got)).or_default() += 1;
        }
    }
    let mut worst: Vec<(String, usize, String)> = confusion
        .into_iter()
        .map(|(want, gots)| {
            let total = gots.values().sum();
            let detail = gots
                .iter()
                .map(|(g, n)| format!("{g} x{n}"))
                .collect::<Vec<_>>()
                .join(", ");
            (want, total, detail)
        })
        .collect();
    worst.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let _ = writeln!(out, "\nworst categories (expected -> got)");
    if worst.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for (want, n, detail) in worst.iter().take(10) {
        let _ = writeln!(out, "  {want:<18} {n} wrong: {detail}");
    }
    let _ = writeln!(out, "\nwrong examples ({} field errors)", r.errors.len());
    for (id, field, want, got, text) in &r.errors {
        let snippet: String = text.chars().take(90).collect::<String>().replace('\n', " ");
        let _ = writeln!(out, "  {id:<10} {field:<12} expected {want}, got {got}  | {snippet}");
    }
    Ok(out)
}

fn label(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
