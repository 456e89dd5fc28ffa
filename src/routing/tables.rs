//! Reading the routing tables: the line-based files under `config/routing/`
//! and the BPS region CSVs under `config/wilayah/`.
//!
//! The files are plain text with one entry per line so an operator can edit a
//! keyword without learning a schema, and so every mistake can be reported as
//! `file:line: problem`. This module only parses and checks syntax and
//! references; [`super::engine`] compiles the result into matchers.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::RoutingError;

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
    /// `[ambiguous-after]`: neighbours that mean the other word (`$` after:
    /// the alias ends the text).
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
struct Line<'a> {
    src: Src,
    section: Option<&'a str>,
    text: &'a str,
}

/// Split a table file into entries: `#` comments and blank lines skipped,
/// `[section]` lines remembered.
fn lines<'a>(file: &Path, content: &'a str) -> Result<Vec<Line<'a>>, RoutingError> {
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

fn read(path: &Path) -> Result<String, RoutingError> {
    fs::read_to_string(path).map_err(|e| RoutingError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

/// `a, b, c` -> ["a", "b", "c"]; empty items are an error.
fn list(src: &Src, s: &str) -> Result<Vec<String>, RoutingError> {
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
fn weighted(src: &Src, s: &str) -> Result<(f32, Vec<String>), RoutingError> {
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

fn setting<T: std::str::FromStr>(src: &Src, value: &str, key: &str) -> Result<T, RoutingError> {
    value
        .trim()
        .parse()
        .map_err(|_| src.err(format!("`{key}`: `{}` is not a valid value", value.trim())))
}

fn check_code(src: &Src, what: &str, code: &str) -> Result<(), RoutingError> {
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

fn parse_categories(path: &Path, content: &str) -> Result<Vec<CategoryDef>, RoutingError> {
    let mut out: Vec<CategoryDef> = Vec::new();
    for l in lines(path, content)? {
        let cols: Vec<&str> = l.text.split_whitespace().collect();
        let [code, r, p, n] = cols[..] else {
            return Err(l.src.err(format!(
                "expected 4 columns `code R-unit P-unit N-unit`, found {}",
                cols.len()
            )));
        };
        let unit = |u: &str| -> Result<Option<String>, RoutingError> {
            if u == "-" {
                Ok(None)
            } else {
                check_code(&l.src, "unit", u)?;
                Ok(Some(u.to_string()))
            }
        };
        check_code(&l.src, "category", code)?;
        if out.iter().any(|c| c.code == code) {
            return Err(l.src.err(format!("category `{code}` defined twice")));
        }
        let n = unit(n)?.ok_or_else(|| l.src.err("every category needs a national unit"))?;
        out.push(CategoryDef {
            code: code.to_string(),
            r: unit(r)?,
            p: unit(p)?,
            n,
        });
    }
    if out.is_empty() {
        return Err(RoutingError::Table {
            file: path.to_path_buf(),
            line: 0,
            msg: "no categories defined".into(),
        });
    }
    Ok(out)
}

fn category_index(cats: &[CategoryDef], src: &Src, code: &str) -> Result<usize, RoutingError> {
    cats.iter()
        .position(|c| c.code == code)
        .ok_or_else(|| src.err(format!("unknown category `{code}` (see {CATEGORIES})")))
}

fn parse_lexicon(
    path: &Path,
    content: &str,
    cats: &[CategoryDef],
) -> Result<(LexSettings, Vec<TermDef>), RoutingError> {
    let mut settings = LexSettings {
        min_score: 1.5,
        request_window: 6,
        request_boost: 1.5,
        subject_boost: 1.5,
        repeat_factor: 0.5,
    };
    let mut terms = Vec::new();
    for l in lines(path, content)? {
        let Some(section) = l.section else {
            return Err(l.src.err("entry before the first `[section]`"));
        };
        if section == "settings" {
            let (k, v) = l
                .text
                .split_once(':')
                .ok_or_else(|| l.src.err("expected `key: value`"))?;
            match k.trim() {
                "min_score" => settings.min_score = setting(&l.src, v, "min_score")?,
                "request_window" => settings.request_window = setting(&l.src, v, "request_window")?,
                "request_boost" => settings.request_boost = setting(&l.src, v, "request_boost")?,
                "subject_boost" => settings.subject_boost = setting(&l.src, v, "subject_boost")?,
                "repeat_factor" => settings.repeat_factor = setting(&l.src, v, "repeat_factor")?,
                other => return Err(l.src.err(format!("unknown setting `{other}`"))),
            }
            continue;
        }
        let category = category_index(cats, &l.src, section)?;
        let (weight, items) = weighted(&l.src, l.text)?;
        for term in items {
            terms.push(TermDef {
                category,
                weight,
                term,
                src: l.src.clone(),
            });
        }
    }
    if !(settings.min_score > 0.0
        && settings.request_boost >= 1.0
        && settings.subject_boost >= 1.0
        && (0.0..=1.0).contains(&settings.repeat_factor))
    {
        return Err(RoutingError::Table {
            file: path.to_path_buf(),
            line: 0,
            msg: "settings: min_score must be > 0, the boosts at least 1, repeat_factor between 0 and 1".into(),
        });
    }
    Ok((settings, terms))
}

fn parse_abbreviations(path: &Path, content: &str) -> Result<Vec<(String, String, Src)>, RoutingError> {
    let mut out: Vec<(String, String, Src)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for l in lines(path, content)? {
        let (k, v) = l
            .text
            .split_once('=')
            .ok_or_else(|| l.src.err("expected `spelling = replacement`"))?;
        let k = k.trim().to_lowercase();
        let v = v.trim().to_lowercase();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(l.src.err(format!(
                "`{k}` must be one word of ASCII letters and digits (text is split at everything else)"
            )));
        }
        if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') {
            return Err(l
                .src
                .err(format!("replacement `{v}` must be words of ASCII letters and digits")));
        }
        if let Some(prev) = seen.insert(k.clone(), l.src.line) {
            return Err(l.src.err(format!("`{k}` already defined on line {prev}")));
        }
        out.push((k, v, l.src));
    }
    Ok(out)
}

fn parse_region_ref(w: &Wilayah, src: &Src, target: &str) -> Result<RegionRef, RoutingError> {
    let t = target.trim();
    if t.chars().all(|c| c.is_ascii_digit()) {
        return match t.len() {
            2 => w
                .province_index(t)
                .map(RegionRef::Province)
                .ok_or_else(|| src.err(format!("no province with code {t} in {PROVINCES}"))),
            4 => w
                .regency_index(t)
                .map(RegionRef::Regency)
                .ok_or_else(|| src.err(format!("no regency with code {t} in {REGENCIES}"))),
            _ => Err(src.err(format!("`{t}` is not a 2-digit province or 4-digit regency code"))),
        };
    }
    let upper = t.to_uppercase();
    if let Some(i) = w.regencies.iter().position(|r| r.name == upper) {
        return Ok(RegionRef::Regency(i));
    }
    if let Some(i) = w.provinces.iter().position(|p| p.name == upper) {
        return Ok(RegionRef::Province(i));
    }
    Err(src.err(format!(
        "`{t}` is neither a code nor an official name in {REGENCIES}/{PROVINCES} (write e.g. `KOTA BANDUNG`)"
    )))
}

fn parse_regions(path: &Path, content: &str, w: &Wilayah) -> Result<RegionWords, RoutingError> {
    let mut out = RegionWords::default();
    for l in lines(path, content)? {
        match l.section {
            Some("aliases") => {
                let (k, v) = l
                    .text
                    .split_once('=')
                    .ok_or_else(|| l.src.err("expected `name = code or official name`"))?;
                let name = k.trim().to_string();
                if name.is_empty() {
                    return Err(l.src.err("empty alias"));
                }
                out.aliases.push(AliasDef {
                    name,
                    target: parse_region_ref(w, &l.src, v)?,
                    src: l.src.clone(),
                });
            }
            Some("prefixes") => {
                let (k, v) = l
                    .text
                    .split_once(':')
                    .ok_or_else(|| l.src.err("expected `kind: word, word`"))?;
                let words = list(&l.src, v)?;
                let p = &mut out.prefixes;
                match k.trim() {
                    "city" => p.city.extend(words),
                    "regency" => p.regency.extend(words),
                    "province" => p.province.extend(words),
                    "district" => p.district.extend(words),
                    other => {
                        return Err(l.src.err(format!(
                            "unknown prefix kind `{other}` (city, regency, province, district)"
                        )))
                    }
                }
            }
            Some("not-names") => out.not_names.push(l.text.to_string()),
            Some("needs-place-word") => out.needs_place_word.push((l.text.to_string(), l.src.clone())),
            Some("place-words") => out.place_words.extend(list(&l.src, l.text)?),
            Some("common-words") => out.common_words.extend(list(&l.src, l.text)?),
            Some("ambiguous") => out.ambiguous.push((l.text.to_string(), l.src.clone())),
            Some("ambiguous-before") => out.ambiguous_before.extend(list(&l.src, l.text)?),
            Some("ambiguous-after") => out.ambiguous_after.extend(list(&l.src, l.text)?),
            Some(other) => return Err(l.src.err(format!("unknown section `[{other}]`"))),
            None => return Err(l.src.err("entry before the first `[section]`")),
        }
    }
    Ok(out)
}

fn parse_offices(path: &Path, content: &str, cats: &[CategoryDef]) -> Result<Vec<OfficeDef>, RoutingError> {
    let mut out = Vec::new();
    for l in lines(path, content)? {
        let (names, spec) = l
            .text
            .rsplit_once('=')
            .ok_or_else(|| l.src.err("expected `name, name = category level [code]`"))?;
        let spec: Vec<&str> = spec.split_whitespace().collect();
        let (cat, level, code) = match spec[..] {
            [c, lv] => (c, lv, None),
            [c, lv, code] => (c, lv, Some(code)),
            _ => return Err(l.src.err("expected `category level [code]` after `=`")),
        };
        let category = category_index(cats, &l.src, cat)?;
        let level = match level {
            "regency" => OfficeLevel::Regency,
            "province" => OfficeLevel::Province,
            "local" => OfficeLevel::Local,
            "national" => OfficeLevel::National,
            other => {
                return Err(l
                    .src
                    .err(format!("unknown level `{other}` (regency, province, local, national)")))
            }
        };
        let c = &cats[category];
        match level {
            OfficeLevel::Regency if c.r.is_none() => {
                return Err(l.src.err(format!("category `{}` has no regency unit", c.code)))
            }
            OfficeLevel::Province if c.p.is_none() => {
                return Err(l.src.err(format!("category `{}` has no province unit", c.code)))
            }
            _ => {}
        }
        if let Some(code) = code {
            if level != OfficeLevel::National {
                return Err(l
                    .src
                    .err("an explicit agency code is only allowed with level `national`"));
            }
            check_code(&l.src, "agency code", code)?;
        }
        let mut office = OfficeDef {
            names: Vec::new(),
            handles: Vec::new(),
            category,
            level,
            code: code.map(str::to_string),
            src: l.src.clone(),
        };
        for n in list(&l.src, names)? {
            if let Some(h) = n.strip_prefix('@') {
                if h.is_empty() || !h.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(l
                        .src
                        .err(format!("handle `{n}` must be @ followed by letters, digits or _")));
                }
                office.handles.push(h.to_lowercase());
            } else {
                office.names.push(n);
            }
        }
        out.push(office);
    }
    Ok(out)
}

fn parse_overrides(path: &Path, content: &str, cats: &[CategoryDef]) -> Result<Vec<OverrideDef>, RoutingError> {
    let mut out = Vec::new();
    for l in lines(path, content)? {
        let parts: Vec<&str> = l.text.split('|').map(str::trim).collect();
        let [cat, target, terms] = parts[..] else {
            return Err(l.src.err("expected `category | target | term, term, ...`"));
        };
        let category = category_index(cats, &l.src, cat)?;
        let target = match target {
            "province" => {
                if cats[category].p.is_none() {
                    return Err(l.src.err(format!("category `{cat}` has no province unit")));
                }
                OverrideTarget::Province
            }
            "national" => OverrideTarget::National,
            code => {
                check_code(&l.src, "agency code", code)?;
                OverrideTarget::Agency(code.to_string())
            }
        };
        out.push(OverrideDef {
            category,
            target,
            terms: list(&l.src, terms)?,
            src: l.src.clone(),
        });
    }
    Ok(out)
}

fn parse_cues(path: &Path, content: &str) -> Result<Cues, RoutingError> {
    let mut cues = Cues {
        settings: CueSettings {
            report_min_score: 2.0,
            office_weight: 2.0,
            addressee_window: 4,
        },
        aspirasi: Vec::new(),
        informasi: Vec::new(),
        request: Vec::new(),
        addressee: Vec::new(),
        not_addressee: Vec::new(),
        local: Vec::new(),
        pairs: Vec::new(),
    };
    for l in lines(path, content)? {
        if let Some(name) = l.section.and_then(|s| s.strip_prefix("pair ")) {
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(l.src.err("a pair name is letters, digits and `-`"));
            }
            if cues.pairs.last().is_none_or(|p| p.name != name) {
                if cues.pairs.iter().any(|p| p.name == name) {
                    return Err(l.src.err(format!("pair `{name}` defined twice")));
                }
                cues.pairs.push(PairDef {
                    name: name.to_string(),
                    window: 8,
                    a: Vec::new(),
                    b: Vec::new(),
                    src: l.src.clone(),
                });
            }
            let (k, v) = l
                .text
                .split_once(':')
                .ok_or_else(|| l.src.err("expected `window: N`, `a: words` or `b: words`"))?;
            let Some(pair) = cues.pairs.last_mut() else { continue };
            match k.trim() {
                "window" => pair.window = setting(&l.src, v, "window")?,
                "a" => pair.a.extend(list(&l.src, v)?),
                "b" => pair.b.extend(list(&l.src, v)?),
                other => return Err(l.src.err(format!("unknown pair key `{other}`"))),
            }
            continue;
        }
        match l.section {
            Some("settings") => {
                let (k, v) = l
                    .text
                    .split_once(':')
                    .ok_or_else(|| l.src.err("expected `key: value`"))?;
                let s = &mut cues.settings;
                match k.trim() {
                    "report_min_score" => s.report_min_score = setting(&l.src, v, "report_min_score")?,
                    "office_weight" => s.office_weight = setting(&l.src, v, "office_weight")?,
                    "addressee_window" => s.addressee_window = setting(&l.src, v, "addressee_window")?,
                    other => return Err(l.src.err(format!("unknown setting `{other}`"))),
                }
            }
            Some(kind @ ("aspirasi" | "informasi")) => {
                let (w, items) = weighted(&l.src, l.text)?;
                let dst = if kind == "aspirasi" {
                    &mut cues.aspirasi
                } else {
                    &mut cues.informasi
                };
                dst.extend(items.into_iter().map(|t| (w, t)));
            }
            Some("request") => cues.request.extend(list(&l.src, l.text)?),
            Some("addressee") => cues.addressee.extend(list(&l.src, l.text)?),
            Some("not-addressee") => cues.not_addressee.extend(list(&l.src, l.text)?),
            Some("local") => cues.local.extend(list(&l.src, l.text)?),
            Some(other) => return Err(l.src.err(format!("unknown section `[{other}]`"))),
            None => return Err(l.src.err("entry before the first `[section]`")),
        }
    }
    if let Some(p) = cues.pairs.iter().find(|p| p.a.is_empty() || p.b.is_empty()) {
        return Err(p.src.err(format!("pair `{}` needs both `a:` and `b:` words", p.name)));
    }
    Ok(cues)
}

#[derive(Deserialize)]
struct CodeName {
    code: String,
    name: String,
}

#[derive(Deserialize)]
struct CodeParentName {
    code: String,
    parent: String,
    name: String,
}

fn csv_rows<T: for<'de> Deserialize<'de>>(path: &Path, content: &str) -> Result<Vec<(usize, T)>, RoutingError> {
    let mut rdr = csv::Reader::from_reader(content.as_bytes());
    let mut out = Vec::new();
    for (i, row) in rdr.deserialize::<T>().enumerate() {
        // Line numbers count the header, like an editor does.
        let line = i + 2;
        let row = row.map_err(|e| RoutingError::Table {
            file: path.to_path_buf(),
            line,
            msg: format!("bad CSV row: {e}"),
        })?;
        out.push((line, row));
    }
    Ok(out)
}

/// The three region CSVs, as read from disk.
pub struct WilayahFiles<'a> {
    pub dir: &'a Path,
    pub provinces: &'a str,
    pub regencies: &'a str,
    pub districts: &'a str,
}

pub fn parse_wilayah(f: &WilayahFiles<'_>) -> Result<Wilayah, RoutingError> {
    let dir = f.dir;
    let mut w = Wilayah::default();
    let prov_path = dir.join(PROVINCES);
    let mut prov_ix: HashMap<String, usize> = HashMap::new();
    for (line, r) in csv_rows::<CodeName>(&prov_path, f.provinces)? {
        let src = Src {
            file: prov_path.clone(),
            line,
        };
        if r.code.len() != 2 || !r.code.chars().all(|c| c.is_ascii_digit()) {
            return Err(src.err(format!("province code `{}` is not 2 digits", r.code)));
        }
        if prov_ix.insert(r.code.clone(), w.provinces.len()).is_some() {
            return Err(src.err(format!("province code {} twice", r.code)));
        }
        w.provinces.push(Province {
            code: r.code,
            name: r.name.trim().to_uppercase(),
        });
    }
    let reg_path = dir.join(REGENCIES);
    let mut reg_ix: HashMap<String, usize> = HashMap::new();
    for (line, r) in csv_rows::<CodeParentName>(&reg_path, f.regencies)? {
        let src = Src {
            file: reg_path.clone(),
            line,
        };
        if r.code.len() != 4 || !r.code.starts_with(&r.parent) {
            return Err(src.err(format!(
                "regency code `{}` must be 4 digits starting with its province `{}`",
                r.code, r.parent
            )));
        }
        let province = *prov_ix
            .get(&r.parent)
            .ok_or_else(|| src.err(format!("unknown province {}", r.parent)))?;
        let name = r.name.trim().to_uppercase();
        let (is_city, bare) = if let Some(b) = name.strip_prefix("KOTA ") {
            (true, b.to_string())
        } else if let Some(b) = name.strip_prefix("KABUPATEN ") {
            (false, b.to_string())
        } else {
            return Err(src.err(format!("regency name `{name}` must start with KABUPATEN or KOTA")));
        };
        if reg_ix.insert(r.code.clone(), w.regencies.len()).is_some() {
            return Err(src.err(format!("regency code {} twice", r.code)));
        }
        w.regencies.push(Regency {
            code: r.code,
            province,
            name,
            is_city,
            bare,
        });
    }
    let dis_path = dir.join(DISTRICTS);
    for (line, r) in csv_rows::<CodeParentName>(&dis_path, f.districts)? {
        let regency = *reg_ix.get(&r.parent).ok_or_else(|| RoutingError::Table {
            file: dis_path.clone(),
            line,
            msg: format!("unknown regency {}", r.parent),
        })?;
        w.districts.push(District {
            regency,
            name: r.name.trim().to_uppercase(),
        });
    }
    Ok(w)
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
