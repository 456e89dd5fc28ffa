//! Target `routing`: the router's text normaliser and decision engine, through
//! the `pintu` crate's public API, with the tables shipped in `config/`.
//!
//! Input: byte 0 selects (modulo 4), the rest is text (lossy UTF-8):
//! 0 `Engine::decide` without a subject; 1 `decide` with the first line as
//! the subject (e-mail) and the rest as text; 2 the normaliser
//! (`Normalizer::term` and `push` with the tables' abbreviations);
//! 3 `mask_contacts` (what an anonymous complaint's text goes through).
//!
//! Asserted: the time bound; a decision always names an agency (`triage`
//! when no category applies), a category the tables define, a region code
//! of the BPS tables, and an agency code whose region prefix is one;
//! deciding is deterministic, and deciding again on the agency's text (the
//! markers already removed) gives the same category, region and agency; the
//! text the agency sees has no privacy marker left and never grew; reasons
//! are bounded by the input. Normalised text is lower-case ASCII words
//! separated by single spaces and normalising it again changes nothing.
//! Masked text has no contact left to mask (stage `mask`, see
//! [`crate::budget::known`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pintu::routing::tables;
use pintu::routing::text::{NormText, Normalizer};
use pintu::routing::{mask_contacts, Engine};
use pintu_channels::normalize::strip_markers;

use crate::budget::{known, within, Budget};

pub const BUDGET: Budget = Budget::new(25, 2000);

pub const DECIDE: u8 = 0;
pub const DECIDE_SUBJECT: u8 = 1;
pub const NORMALIZE: u8 = 2;
pub const MASK: u8 = 3;

fn config_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config").join(name)
}

struct Router {
    engine: Engine,
    norm: Normalizer,
    categories: HashSet<String>,
    regions: HashSet<String>,
}

fn router() -> &'static Router {
    static R: OnceLock<Router> = OnceLock::new();
    R.get_or_init(|| {
        let (routing, wilayah) = (config_dir("routing"), config_dir("wilayah"));
        let engine = match Engine::load(&routing, &wilayah) {
            Ok(e) => e,
            Err(e) => panic!("fuzz harness: routing tables: {e}"),
        };
        let t = match tables::load(&routing, &wilayah) {
            Ok(t) => t,
            Err(e) => panic!("fuzz harness: routing tables: {e}"),
        };
        let norm = Normalizer::new(t.abbreviations.iter().map(|(k, v, _)| (k.clone(), v.clone())));
        let regions = t
            .wilayah
            .provinces
            .iter()
            .map(|p| p.code.clone())
            .chain(t.wilayah.regencies.iter().map(|r| r.code.clone()))
            .collect();
        let categories = engine.categories().map(str::to_string).collect();
        let r = Router {
            engine,
            norm,
            categories,
            regions,
        };
        // Warm up lazily built state (regexes) before anything is timed.
        let _ = r
            .engine
            .decide(Some("RAHASIA"), "jalan rusak di kab bogor 0812-0000-0000 > kutipan");
        let _ = mask_contacts("a@b.cd");
        r
    })
}

pub fn check(data: &[u8]) {
    let Some((sel, rest)) = data.split_first() else { return };
    let s = crate::text(rest);
    let n = data.len();
    let r = router();
    match sel % 4 {
        DECIDE => decide(r, None, &s, n),
        DECIDE_SUBJECT => {
            let (subject, text) = s.split_once('\n').unwrap_or((&s, ""));
            decide(r, Some(subject), text, n)
        }
        NORMALIZE => {
            let t = within("routing normalise", n, BUDGET, || r.norm.term(&s));
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b' '),
                "normaliser: {t:?} is not lower-case ASCII words"
            );
            assert!(!t.contains("  ") && t == t.trim(), "normaliser: spacing in {t:?}");
            assert_eq!(r.norm.term(&t), t, "normaliser is not idempotent");
            let mut nt = NormText::default();
            r.norm.push(&s, &mut nt);
            assert_eq!(nt.s.trim(), t, "push and term disagree");
            for i in 0..nt.toks.len() {
                assert!(!nt.word(i).is_empty(), "normaliser: empty word {i}");
            }
        }
        _ => {
            let m = within("mask", n, BUDGET, || mask_contacts(&s));
            if !known("mask") {
                assert_eq!(mask_contacts(&m), m, "mask_contacts left a contact in {m:?}");
            }
        }
    }
}

fn decide(r: &Router, subject: Option<&str>, text: &str, n: usize) {
    let d = within("routing decide", n, BUDGET, || r.engine.decide(subject, text));
    assert!(!d.agency.is_empty(), "decision without an agency");
    assert!(
        d.agency.bytes().all(|b| b.is_ascii_graphic()),
        "agency code {:?}",
        d.agency
    );
    match &d.category {
        None => assert_eq!(d.agency, "triage", "no category, agency {}", d.agency),
        Some(c) => assert!(r.categories.contains(c), "unknown category {c}"),
    }
    if let Some(region) = &d.region {
        assert!(r.regions.contains(region), "unknown region {region}");
    }
    if let Some((prefix, _)) = d.agency.split_once('.') {
        if prefix.bytes().all(|b| b.is_ascii_digit()) {
            assert!(r.regions.contains(prefix), "agency {} of unknown region", d.agency);
        }
    }
    let reasons: usize = d.reasons.iter().map(String::len).sum();
    assert!(reasons <= 16 * 1024 + 4 * n, "{reasons} bytes of reasons from {n}");
    assert!(d.text.len() <= text.len(), "agency text grew");
    let (m, _) = strip_markers(&d.text);
    assert!(
        !m.confidential && !m.anonymous,
        "marker left in the agency text {:?}",
        d.text
    );
    let again = r.engine.decide(subject, text);
    assert_eq!(again, d, "decide is not deterministic");
    let on_clean = r.engine.decide(d.subject.as_deref(), &d.text);
    assert!(
        (&on_clean.category, &on_clean.region, &on_clean.agency) == (&d.category, &d.region, &d.agency),
        "decision changes once markers are removed: {:?}/{:?}/{} then {:?}/{:?}/{}",
        d.category,
        d.region,
        d.agency,
        on_clean.category,
        on_clean.region,
        on_clean.agency
    );
}
