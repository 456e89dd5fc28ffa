//! What every family shares: a table of named cases, run all of them, and one
//! report naming each failure; webhook cases on top of that; fixture paths.
//!
//! A case that panics is caught and reported as that case's failure, so one
//! broken case never hides the others. A fixture that cannot be read or does
//! not say what it expects is reported as a broken case of its table, not
//! skipped.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use pintu_channels::WebhookAdapter;
use serde_json::Value;

use crate::expect::Expect;
use crate::request::Request;

/// The cases of one family (or one kind of input), run together.
pub struct Table<C> {
    family: &'static str,
    cases: Vec<(String, C)>,
    broken: Vec<String>,
}

impl<C> Table<C> {
    pub fn new(family: &'static str) -> Table<C> {
        Table {
            family,
            cases: Vec::new(),
            broken: Vec::new(),
        }
    }

    pub fn push(&mut self, name: impl Into<String>, case: C) {
        self.cases.push((name.into(), case));
    }

    /// A case (or a whole fixture) that could not be built.
    pub fn broken(&mut self, what: impl std::fmt::Display, why: impl std::fmt::Display) {
        self.broken.push(format!("{what}: {why}"));
    }

    /// Runs every case through `check`, prints how many ran, and panics once
    /// listing every failure (broken fixtures and duplicate names included).
    /// Returns the number of cases run.
    pub fn run(self, check: impl Fn(&C) -> Result<(), String>) -> usize {
        let Table { family, cases, broken } = self;
        let mut failures = broken;
        if cases.is_empty() {
            failures.push("no cases".to_string());
        }
        let mut seen = BTreeSet::new();
        for (name, case) in &cases {
            if !seen.insert(name.as_str()) {
                failures.push(format!("{name}: case name used twice"));
            }
            let result = catch_unwind(AssertUnwindSafe(|| check(case)))
                .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_message(&*panic))));
            if let Err(e) = result {
                failures.push(format!("{name}: {e}"));
            }
        }
        println!(
            "harness {family}: {} cases run, {} failure(s)",
            cases.len(),
            failures.len()
        );
        assert!(
            failures.is_empty(),
            "harness {family}: {} failure(s) in {} cases:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
        cases.len()
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "(no message)".to_string(),
    }
}

/// One webhook request and what the adapter configured as `adapter` (a name
/// the family's factory knows) must make of it.
pub struct WebhookCase {
    pub adapter: String,
    pub request: Request,
    pub expect: Expect,
}

/// Makes the adapter a webhook case names, configured with the family's test
/// credentials.
pub type Factory = fn(&str) -> Result<Box<dyn WebhookAdapter>, String>;

impl Table<WebhookCase> {
    /// Runs every webhook case on a fresh adapter from `factory`.
    pub fn run_webhooks(self, factory: Factory) -> usize {
        self.run(|case| {
            let adapter = factory(&case.adapter)?;
            let outcome = case.request.run(&*adapter)?;
            case.expect.check(&outcome, adapter.provider())
        })
    }
}

/// `channels/tests/fixtures/…`.
pub fn fixtures(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(sub)
}

/// The e-mail corpus, shared with the gateway's own tests and the fuzz seeds
/// (hence at the repository root, not in this crate).
pub fn email_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/email")
}

/// Files in `dir` ending in `ext`, sorted by name.
pub fn files(dir: &Path, ext: &str) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(ext))
        .collect();
    names.sort();
    Ok(names)
}

pub fn read_json(path: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
