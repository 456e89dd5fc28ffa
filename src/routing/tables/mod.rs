//! Reading the routing tables: the line-based files under `config/routing/`
//! and the BPS region CSVs under `config/wilayah/`.
//!
//! The files are plain text with one entry per line so an operator can edit a
//! keyword without learning a schema, and so every mistake can be reported as
//! `file:line: problem`. This module only parses and checks syntax and
//! references; [`super::engine`] compiles the result into matchers.
//!
//! This module holds the types and the line reader; [`words`] parses the
//! vocabulary files, [`wilayah`] the BPS region CSVs.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::RoutingError;

mod wilayah;
mod words;

pub use wilayah::{parse_wilayah, WilayahFiles};
use words::{
    parse_abbreviations, parse_categories, parse_cues, parse_lexicon, parse_offices, parse_overrides, parse_regions,
};

/// File names inside the routing directory.
pub const CATEGORIES: &str = "categories.txt";
pub const LEXICON: &str = "lexicon.txt";
pub const ABBREVIATIONS: &str = "abbreviations.txt";
pub const REGIONS: &str = "regions.txt";
pub const AGENCIES: &str = "agencies.txt";
pub const OVERRIDES: &str = "overrides.txt";
pub const CUES: &str = "cues.txt";
/// File names inside the region (wilayah) directory.
pub const PROVINCES: &str = "provinces.csv";
pub const REGENCIES: &str = "regencies.csv";
pub const DISTRICTS: &str = "districts.csv";

/// Where an entry came from, for error messages and `explain` reasons.
#[derive(Debug, Clone)]
pub struct Src {
    pub file: PathBuf,
    pub line: usize,
}

impl Src {
    pub fn err(&self, msg: impl Into<String>) -> RoutingError {
        RoutingError::Table {
            file: self.file.clone(),
            line: self.line,
            msg: msg.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CategoryDef {
    pub code: String,
    pub r: Option<String>,
    pub p: Option<String>,
    pub n: String,
}

#[derive(Debug, Clone)]
pub struct TermDef {
    pub category: usize,
    pub weight: f32,
    pub term: String,
    pub src: Src,
}

#[derive(Debug, Clone, Copy)]
pub struct LexSettings {
    pub min_score: f32,
    pub request_window: usize,
    pub request_boost: f32,
    pub subject_boost: f32,
    /// Each repetition of a term already counted weighs this much.
    pub repeat_factor: f32,
}

/// The government level an office of `agencies.txt` sits at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfficeLevel {
    Regency,
    Province,
    Local,
    National,
}

#[derive(Debug, Clone)]
pub struct OfficeDef {
    pub names: Vec<String>,
    /// Lower-cased handles without the `@`.
    pub handles: Vec<String>,
    pub category: usize,
    pub level: OfficeLevel,
    pub code: Option<String>,
    pub src: Src,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideTarget {
    /// No fixed level: rule 4 decides. For terms that would otherwise trip a
    /// later override (`kantor pajak daerah` holds `kantor pajak`).
    Local,
    Province,
    National,
    Agency(String),
}

#[derive(Debug, Clone)]
pub struct OverrideDef {
    pub category: usize,
    pub target: OverrideTarget,
    pub terms: Vec<String>,
    pub src: Src,
}

/// A place an alias points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionRef {
    Province(usize),
    Regency(usize),
}

#[derive(Debug, Clone)]
pub struct AliasDef {
    pub name: String,
    pub target: RegionRef,
    pub src: Src,
}

#[derive(Debug, Clone, Default)]
pub struct Prefixes {
    pub city: Vec<String>,
    pub regency: Vec<String>,
    pub province: Vec<String>,
    pub district: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RegionWords {
    pub aliases: Vec<AliasDef>,
    pub prefixes: Prefixes,
    pub not_names: Vec<String>,
    pub needs_place_word: Vec<(String, Src)>,
    pub place_words: Vec<String>,
    pub common_words: Vec<String>,
    /// `[ambiguous]`: short aliases that SMS also uses for other words
    /// (`plg` = pulang/paling, `mks` = makasih); `[ambiguous-before]` and
    /// `[ambiguous-after]`: neighbours that mean the other word. An
    /// `[ambiguous]` entry `mks $`: as the text's last word, too.
    pub ambiguous: Vec<(String, Src)>,
    pub ambiguous_before: Vec<String>,
    pub ambiguous_after: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CueSettings {
    pub report_min_score: f32,
    pub office_weight: f32,
    pub addressee_window: usize,
}

#[derive(Debug, Clone)]
pub struct Cues {
    pub settings: CueSettings,
    pub aspirasi: Vec<(f32, String)>,
    pub informasi: Vec<(f32, String)>,
    pub request: Vec<String>,
    pub addressee: Vec<String>,
    pub not_addressee: Vec<String>,
    pub local: Vec<String>,
    /// `[pair NAME]` sections: two word lists whose nearness is evidence.
    pub pairs: Vec<PairDef>,
}

/// Two kinds of words near each other say what kind of wrong a complaint is
/// about better than either alone (rule 1): an official (`oknum`,
/// `pendamping`) within a few words of money taken (`minta`, `dipotong`) is a
/// levy whatever office it happened at. Each pair is one model feature
/// (`pair=NAME`); the model learns how much it weighs.
#[derive(Debug, Clone)]
pub struct PairDef {
    pub name: String,
    pub window: usize,
    pub a: Vec<String>,
    pub b: Vec<String>,
    pub src: Src,
}

#[derive(Debug, Clone)]
pub struct Province {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Regency {
    pub code: String,
    pub province: usize,
    /// Official name, `KABUPATEN X` or `KOTA X`.
    pub name: String,
    pub is_city: bool,
    /// The name without `KABUPATEN `/`KOTA `.
    pub bare: String,
}

#[derive(Debug, Clone)]
pub struct District {
    pub regency: usize,
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct Wilayah {
    pub provinces: Vec<Province>,
    pub regencies: Vec<Regency>,
    pub districts: Vec<District>,
}

impl Wilayah {
    pub fn province_index(&self, code: &str) -> Option<usize> {
        self.provinces.iter().position(|p| p.code == code)
    }
    pub fn regency_index(&self, code: &str) -> Option<usize> {
        self.regencies.iter().position(|r| r.code == code)
    }
}

/// Everything the engine is built from, parsed and cross-checked.
#[derive(Debug, Clone)]
pub struct Tables {
    pub categories: Vec<CategoryDef>,
    pub settings: LexSettings,
    pub terms: Vec<TermDef>,
    pub abbreviations: Vec<(String, String, Src)>,
    pub regions: RegionWords,
    pub offices: Vec<OfficeDef>,
    pub overrides: Vec<OverrideDef>,
    pub cues: Cues,
    pub wilayah: Wilayah,
    /// Hex digest of every file read: goes into `router_version`, so a routed
    /// message says which tables decided it.
    pub digest: String,
    /// The learned models (`model.tsv`, from `pintu train`): path and text,
    /// parsed by the engine. `None` when the directory has no model.
    pub model: Option<(PathBuf, String)>,
}

/// One logical line of a table file.
pub(super) struct Line<'a> {
    pub(super) src: Src,
    pub(super) section: Option<&'a str>,
    pub(super) text: &'a str,
}

/// Split a table file into entries: `#` comments and blank lines skipped,
/// `[section]` lines remembered.
pub(super) fn lines<'a>(file: &Path, content: &'a str) -> Result<Vec<Line<'a>>, RoutingError> {
    let mut out = Vec::new();
    let mut section = None;
    for (i, raw) in content.lines().enumerate() {
        let text = raw.trim();
        let src = Src {
            file: file.to_path_buf(),
            line: i + 1,
        };
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if let Some(rest) = text.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| src.err("section header must look like `[name]`"))?
                .trim();
            if name.is_empty() {
                return Err(src.err("empty section name"));
            }
            section = Some(name);
            continue;
        }
        out.push(Line { src, section, text });
    }
    Ok(out)
}

pub(super) fn read(path: &Path) -> Result<String, RoutingError> {
    fs::read_to_string(path).map_err(|e| RoutingError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

/// `a, b, c` -> ["a", "b", "c"]; empty items are an error.
pub(super) fn list(src: &Src, s: &str) -> Result<Vec<String>, RoutingError> {
    let mut out = Vec::new();
    for item in s.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(src.err("empty item in a comma-separated list (doubled or trailing comma?)"));
        }
        out.push(item.to_string());
    }
    Ok(out)
}

/// `weight: a, b` -> (weight, [a, b]).
pub(super) fn weighted(src: &Src, s: &str) -> Result<(f32, Vec<String>), RoutingError> {
    let (w, rest) = s
        .split_once(':')
        .ok_or_else(|| src.err("expected `weight: term, term, ...`"))?;
    let weight: f32 = w
        .trim()
        .parse()
        .map_err(|_| src.err(format!("weight `{}` is not a number", w.trim())))?;
    if !(weight.is_finite() && weight > 0.0 && weight <= 100.0) {
        return Err(src.err(format!("weight {weight} must be greater than 0 and at most 100")));
    }
    Ok((weight, list(src, rest)?))
}

pub(super) fn setting<T: std::str::FromStr>(src: &Src, value: &str, key: &str) -> Result<T, RoutingError> {
    value
        .trim()
        .parse()
        .map_err(|_| src.err(format!("`{key}`: `{}` is not a valid value", value.trim())))
}

pub(super) fn check_code(src: &Src, what: &str, code: &str) -> Result<(), RoutingError> {
    if code.is_empty()
        || !code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(src.err(format!(
            "{what} `{code}` must be lower-case ASCII letters, digits and '-'"
        )));
    }
    Ok(())
}

/// Read and cross-check every table. Errors name the file and line.
pub fn load(routing_dir: &Path, wilayah_dir: &Path) -> Result<Tables, RoutingError> {
    use sha2::{Digest, Sha256};

    let mut h = Sha256::new();
    let mut read_hashed = |path: PathBuf| -> Result<(PathBuf, String), RoutingError> {
        let s = read(&path)?;
        h.update(s.as_bytes());
        Ok((path, s))
    };
    let (_, provinces) = read_hashed(wilayah_dir.join(PROVINCES))?;
    let (_, regencies) = read_hashed(wilayah_dir.join(REGENCIES))?;
    let (_, districts) = read_hashed(wilayah_dir.join(DISTRICTS))?;
    let wilayah = parse_wilayah(&WilayahFiles {
        dir: wilayah_dir,
        provinces: &provinces,
        regencies: &regencies,
        districts: &districts,
    })?;
    let (p, s) = read_hashed(routing_dir.join(CATEGORIES))?;
    let categories = parse_categories(&p, &s)?;
    let (p, s) = read_hashed(routing_dir.join(LEXICON))?;
    let (settings, terms) = parse_lexicon(&p, &s, &categories)?;
    let (p, s) = read_hashed(routing_dir.join(ABBREVIATIONS))?;
    let abbreviations = parse_abbreviations(&p, &s)?;
    let (p, s) = read_hashed(routing_dir.join(REGIONS))?;
    let regions = parse_regions(&p, &s, &wilayah)?;
    let (p, s) = read_hashed(routing_dir.join(AGENCIES))?;
    let offices = parse_offices(&p, &s, &categories)?;
    let (p, s) = read_hashed(routing_dir.join(OVERRIDES))?;
    let overrides = parse_overrides(&p, &s, &categories)?;
    let (p, s) = read_hashed(routing_dir.join(CUES))?;
    let cues = parse_cues(&p, &s)?;
    let model_path = routing_dir.join(super::model::MODEL_FILE);
    let model = if model_path.exists() {
        Some(read_hashed(model_path)?)
    } else {
        None
    };
    let digest = hex::encode(&h.finalize()[..6]);

    Ok(Tables {
        categories,
        settings,
        terms,
        abbreviations,
        regions,
        offices,
        overrides,
        cues,
        wilayah,
        digest,
        model,
    })
}
