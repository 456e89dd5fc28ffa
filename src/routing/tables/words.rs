//! Parsing the vocabulary files of `config/routing/`: categories, lexicon,
//! abbreviations, region words, offices, overrides and cues. Each function
//! checks syntax and references and names `file:line` in its errors.

use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::routing::RoutingError;

pub(super) fn parse_categories(path: &Path, content: &str) -> Result<Vec<CategoryDef>, RoutingError> {
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

pub(super) fn category_index(cats: &[CategoryDef], src: &Src, code: &str) -> Result<usize, RoutingError> {
    cats.iter()
        .position(|c| c.code == code)
        .ok_or_else(|| src.err(format!("unknown category `{code}` (see {CATEGORIES})")))
}

pub(super) fn parse_lexicon(
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

pub(super) fn parse_abbreviations(path: &Path, content: &str) -> Result<Vec<(String, String, Src)>, RoutingError> {
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

pub(super) fn parse_region_ref(w: &Wilayah, src: &Src, target: &str) -> Result<RegionRef, RoutingError> {
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

pub(super) fn parse_regions(path: &Path, content: &str, w: &Wilayah) -> Result<RegionWords, RoutingError> {
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

pub(super) fn parse_offices(path: &Path, content: &str, cats: &[CategoryDef]) -> Result<Vec<OfficeDef>, RoutingError> {
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

pub(super) fn parse_overrides(
    path: &Path,
    content: &str,
    cats: &[CategoryDef],
) -> Result<Vec<OverrideDef>, RoutingError> {
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
            "local" => OverrideTarget::Local,
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

pub(super) fn parse_cues(path: &Path, content: &str) -> Result<Cues, RoutingError> {
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
