//! What each fuzz target checks, beyond "no panic".
//!
//! One module per target (`sms`, `decode`, `normalize`, `email`,
//! `email_text`, `social`, `routing`), each with a `check(data)` that the
//! libFuzzer target in `fuzz_targets/` calls and that panics on a finding.
//! Keeping the checks in a plain library lets the seed generator and unit
//! tests use them without libFuzzer. Shared pieces:
//! - [`budget`]: the per-input time bound (linear in the input size);
//! - [`request`]: the byte format of a fuzzed HTTP request;
//! - [`invariants`]: properties every adapter's output must have;
//! - [`seeds`]: seed inputs built from the repository's fixtures.

pub mod budget;
pub mod decode;
pub mod email;
pub mod email_text;
pub mod invariants;
pub mod normalize;
pub mod request;
pub mod routing;
pub mod seeds;
pub mod sms;
pub mod social;

/// The bytes as text, the way a fuzz target that needs `&str` reads them.
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Run the check of the target named `target` (the fuzz target's name).
pub fn check(target: &str, data: &[u8]) {
    match target {
        "sms" => sms::check(data),
        "decode" => decode::check(data),
        "normalize" => normalize::check(data),
        "email" => email::check(data),
        "email_text" => email_text::check(data),
        "social" => social::check(data),
        "routing" => routing::check(data),
        other => panic!("no fuzz target {other}"),
    }
}

/// Names of every target, as in `fuzz/Cargo.toml`.
pub const TARGETS: [&str; 7] = ["sms", "decode", "normalize", "email", "email_text", "social", "routing"];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every check is a fuzz target with a committed corpus, and the other
    /// way round: `ci.sh` replays what `fuzz/Cargo.toml` lists.
    #[test]
    fn targets_bins_and_corpora_agree() {
        let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap_or_default();
        let bins: Vec<&str> = manifest
            .lines()
            .filter_map(|l| l.strip_prefix("name = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .filter(|n| *n != "pintu-fuzz")
            .collect();
        assert_eq!(bins, TARGETS);
        for t in TARGETS {
            let n = std::fs::read_dir(fuzz.join("corpus").join(t)).map_or(0, |d| d.count());
            assert!(n > 0, "no corpus for {t}");
        }
    }
}
