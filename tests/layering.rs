//! The layering rule of `docs/architecture.md`: a module may use only modules
//! of a lower layer. Read from the source (`crate::…` paths outside comments
//! and test modules), so a new upward import fails here with the file that
//! made it.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Layers, lowest first. Config sections (`*/config.rs`, `section.rs`) are
/// their own bottom layer whatever folder they sit in: the composed `Config`
/// imports them, so they may import nothing but other sections.
const LAYERS: &[&[&str]] = &[
    // 0: sections (see `section_of`)
    &[],
    // 1: leaves
    &["complaint", "tracking", "obs", "stats", "flood"],
    // 2: the composed configuration
    &["config"],
    // 3: storage and the broker
    &["store", "broker"],
    // 4: what intake builds on
    &["replay", "relay", "replies", "node"],
    // 5
    &["intake"],
    // 6
    &["http"],
    // 7: the face every channel family implements
    &["channel"],
    // 8: channel families; the SLA clock (below ops, routing and status, which feed and show it)
    &["sms", "email", "social", "sla"],
    // 9: consumers of everything below
    &["ops", "families", "routing"],
    // 10: the loop back to citizens and agencies (re-routes through the router)
    &["status"],
    // 11: the commands
    &["serve", "check"],
];

/// Imports the rule allows although they point up, each with its reason.
const EXCEPTIONS: &[(&str, &str, &str)] = &[(
    "config",
    "routing",
    "`[routing]` names routing::ChannelRegion; the router's own issue owns src/routing/",
)];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The module a file belongs to: `sms`, or `sms::config` for a section.
fn module_of(rel: &str) -> (String, bool) {
    let top = rel.split('/').next().unwrap_or(rel).trim_end_matches(".rs").to_string();
    let section = rel == "section.rs" || rel.ends_with("/config.rs");
    (top, section)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::a` and `crate::a::config` paths in code lines (not comments, not
/// the file's test module), with their line numbers.
fn imports(text: &str) -> Vec<(usize, String, bool)> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = Vec::new();
    let mut in_use_block = false;
    for (n, line) in code.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        // `use crate::{a, b::c};` blocks: every name after the brace.
        if t.starts_with("use crate::{") || in_use_block {
            in_use_block = !t.contains("};");
            let names = t.trim_start_matches("use crate::{");
            for part in names.split(',') {
                let p = part.trim().trim_end_matches("};").trim_end_matches('}');
                let mut segs = p.split("::");
                if let Some(first) = segs.next().filter(|s| !s.is_empty()) {
                    let section = first == "section" || segs.next() == Some("config");
                    out.push((n + 1, first.to_string(), section));
                }
            }
            continue;
        }
        let mut rest = t;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let mut segs = rest.split("::");
            let first: String = segs
                .next()
                .unwrap_or("")
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if first.is_empty() {
                continue;
            }
            let second: String = segs
                .next()
                .unwrap_or("")
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            let section = first == "section" || second == "config";
            out.push((n + 1, first, section));
        }
    }
    out
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let src = support::repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut unknown = BTreeMap::new();
    let mut checked = 0;
    for path in files {
        let rel = path.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        // The binaries and the crate root sit above every layer.
        if rel == "main.rs" || rel == "lib.rs" || rel.starts_with("bin/") {
            continue;
        }
        let (module, is_section) = module_of(&rel);
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, target, target_is_section) in imports(&text) {
            if target == module {
                continue;
            }
            checked += 1;
            if is_section {
                if !target_is_section {
                    violations.push(format!(
                        "{rel}:{line}: config section imports crate::{target} (sections import only sections)"
                    ));
                }
                continue;
            }
            if target_is_section {
                continue;
            }
            let (Some(from), Some(to)) = (layer_of(&module), layer_of(&target)) else {
                unknown.insert(
                    if layer_of(&module).is_none() {
                        module.clone()
                    } else {
                        target.clone()
                    },
                    rel.clone(),
                );
                continue;
            };
            if to >= from && !EXCEPTIONS.iter().any(|(a, b, _)| *a == module && *b == target) {
                violations.push(format!(
                    "{rel}:{line}: {module} (layer {from}) imports crate::{target} (layer {to})"
                ));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules not in LAYERS (add them to the layer they belong to): {unknown:?}"
    );
    assert!(
        checked > 100,
        "only {checked} imports read: is the parser still finding them?"
    );
    assert!(violations.is_empty(), "upward imports:\n{}", violations.join("\n"));
}

/// The checker itself: an upward import in a sample is found, a downward
/// one, a comment and a test module are not.
#[test]
fn the_checker_sees_upward_imports() {
    let sample = "//! see crate::serve\nuse crate::store::Store;\nuse crate::{intake::Intake, sms::config::KannelConfig};\nfn f() { crate::serve::start(); }\n#[cfg(test)]\nmod tests { use crate::check; }\n";
    let found: Vec<(usize, String, bool)> = imports(sample);
    assert_eq!(
        found,
        vec![
            (2, "store".to_string(), false),
            (3, "intake".to_string(), false),
            (3, "sms".to_string(), true),
            (4, "serve".to_string(), false),
        ]
    );
    assert!(layer_of("serve") > layer_of("store"));
    assert_eq!(module_of("sms/config.rs"), ("sms".to_string(), true));
    assert_eq!(module_of("section.rs"), ("section".to_string(), true));
}
