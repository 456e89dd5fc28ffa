//! Rule 2 of docs/routing.md: which place a complaint is about.
//!
//! Name hits of the engine's scan become places using the word before each
//! (`kab`, `kota`, `kecamatan`, a place word such as `di`); the most specific
//! place named wins, a bare name shared by a city and a regency is the city
//! unless `kab` precedes it, and a district counts only when it identifies
//! one regency (unique, or inside a regency/province the text also names).

use super::engine::{Analysis, PlaceHit, PlaceKind, PrefixKind, Region};
use super::tables::RegionRef;
use super::text::NormText;
use super::{Engine, PlaceEvidence};

impl Engine {
    /// Turn name hits into places, using the word before each (docs/routing.md rule 2).
    pub(super) fn interpret_places(&self, raw: &[(usize, usize, usize)], a: &Analysis, nt: &NormText) -> Vec<PlaceHit> {
        let mut out = Vec::new();
        let mut pending = Vec::new();
        for &(s, e, ix) in raw {
            let p = &self.places[ix];
            let tok = nt.tok_at(s);
            // The byte before a hit is its separating space; a prefix or place
            // word right before ends one byte earlier.
            let prefix = a.prefix_ends.iter().find(|(pe, _)| *pe + 1 == s).map(|(_, k)| *k);
            // An office name works as a place word: `kemenag bone`,
            // `bpbd pesisir barat` name the office's place.
            let place_word = a.place_word_ends.iter().any(|pe| *pe + 1 == s)
                || a.ev.iter().any(|x| x.office.is_some() && x.end + 1 == s);
            let hit = |kind| PlaceHit {
                start: s,
                end: e,
                tok,
                kind,
            };
            if prefix == Some(PrefixKind::District) && !p.districts.is_empty() {
                out.push(hit(PlaceKind::District(
                    p.districts.iter().map(|&d| d as usize).collect(),
                )));
                continue;
            }
            // An alias that is also an everyday SMS word (`plg` = pulang,
            // `mks` = makasih) is the other word when its neighbours say so
            // (`mau plg`, `plg kerja`, `ok mks` at the end); a prefix or
            // place word before it (`di plg`) always makes it the place.
            let bare_ok = if p.ambiguous {
                prefix.is_some() || place_word || !self.alias_means_word(nt, tok, e, p.word_at_end)
            } else {
                !p.needs_place_word || prefix.is_some() || place_word
            };
            if let Some(alias) = p.alias.filter(|_| bare_ok) {
                out.push(hit(match alias {
                    RegionRef::Province(i) => PlaceKind::Province(i),
                    RegionRef::Regency(i) => {
                        // `kab. tasik`: the alias names the city, the prefix
                        // asks for the regency of the same name.
                        let i = match prefix {
                            Some(PrefixKind::Regency) => self.namesake(i, false).unwrap_or(i),
                            Some(PrefixKind::City) => self.namesake(i, true).unwrap_or(i),
                            _ => i,
                        };
                        PlaceKind::Regency {
                            cands: vec![i],
                            default: i,
                            explicit: true,
                        }
                    }
                }));
                continue;
            }
            let named = !p.provinces.is_empty() || !p.cities.is_empty() || !p.regencies.is_empty();
            if named
                && p.needs_place_word
                && prefix.is_none()
                && !place_word
                && (!p.cities.is_empty() || !p.regencies.is_empty())
            {
                // `serang`, `banjar` alone are everyday words; beside a
                // district of that regency (`kramatwatu serang`, `martapura
                // banjar`) the two name each other (see `corroborated`).
                let mut cands: Vec<usize> = p.cities.iter().map(|&c| c as usize).collect();
                cands.extend(p.regencies.iter().map(|&c| c as usize));
                let default = cands[0];
                pending.push(hit(PlaceKind::Regency {
                    cands,
                    default,
                    explicit: false,
                }));
            }
            if named && (!p.needs_place_word || prefix.is_some() || place_word) {
                let cities: Vec<usize> = p.cities.iter().map(|&c| c as usize).collect();
                let kabs: Vec<usize> = p.regencies.iter().map(|&c| c as usize).collect();
                let kind = match prefix {
                    Some(PrefixKind::Province) if !p.provinces.is_empty() => {
                        Some(PlaceKind::Province(p.provinces[0] as usize))
                    }
                    Some(PrefixKind::Regency) if !kabs.is_empty() => Some(PlaceKind::Regency {
                        cands: kabs.clone(),
                        default: kabs[0],
                        explicit: true,
                    }),
                    Some(PrefixKind::City) if !cities.is_empty() => Some(PlaceKind::Regency {
                        cands: cities.clone(),
                        default: cities[0],
                        explicit: true,
                    }),
                    _ => None,
                };
                let kind = kind.unwrap_or_else(|| {
                    if !cities.is_empty() || !kabs.is_empty() {
                        // A bare name shared by a city and a regency is the city.
                        let default = cities.first().or(kabs.first()).copied().unwrap_or_default();
                        let mut cands = cities.clone();
                        cands.extend(&kabs);
                        let explicit = cands.len() == 1;
                        PlaceKind::Regency {
                            cands,
                            default,
                            explicit,
                        }
                    } else {
                        PlaceKind::Province(p.provinces[0] as usize)
                    }
                });
                out.push(hit(kind));
                continue;
            }
            if !p.districts.is_empty() {
                // Bare district names: a proper noun needs a capital, or a
                // place word before it, or more than one word. Without one
                // (`kraksaan probolinggo`), or when the name is also an
                // everyday phrase (`tanah abang`), it is weak: it counts only
                // inside a regency or province the text also names.
                let first = &nt.toks[tok];
                let multiword = nt.s[s..e].contains(' ');
                let cands: Vec<usize> = p.districts.iter().map(|&d| d as usize).collect();
                // A text that opens with the name alone and a comma
                // (`rungkut, tiap malam ...`) names its place like a dateline.
                let dateline = nt.lead == Some((s as u32, e as u32));
                if !p.common_district && (multiword || first.cap || place_word || dateline) {
                    out.push(hit(PlaceKind::District(cands)));
                } else if !p.reads_official && (!p.common_district || multiword) {
                    out.push(hit(PlaceKind::WeakDistrict(cands)));
                }
            }
        }
        if !pending.is_empty() {
            let kept: Vec<PlaceHit> = pending.into_iter().filter(|r| corroborated(r, &out)).collect();
            out.extend(kept);
            out.sort_by_key(|h| h.start);
        }
        out
    }

    /// The neighbours of the one-word alias at word `tok` (ending at byte
    /// `end`) read it as an everyday word; `word_at_end`: so does being the
    /// last word (`... tolong dicek mks`), for the aliases where that holds
    /// (`mks`, not `sby`: `UMK sby` is Surabaya).
    fn alias_means_word(&self, nt: &NormText, tok: usize, end: usize, word_at_end: bool) -> bool {
        let before = tok.checked_sub(1).map(|i| nt.word(i));
        let after_tok = nt.tok_at(end);
        let after = (after_tok < nt.toks.len()).then(|| nt.word(after_tok));
        before.is_some_and(|w| self.ambiguous_before.contains(w))
            || after.is_some_and(|w| self.ambiguous_after.contains(w))
            || (after.is_none() && word_at_end)
    }

    /// The regency (`city` false) or city of the same bare name as regency `i`.
    fn namesake(&self, i: usize, city: bool) -> Option<usize> {
        let r = &self.wilayah.regencies[i];
        self.wilayah
            .regencies
            .iter()
            .position(|o| o.bare == r.bare && o.is_city == city)
    }

    pub(super) fn pick_region(
        &self,
        a: &Analysis,
        nt: &NormText,
        reasons: &mut Vec<String>,
    ) -> (Option<Region>, PlaceEvidence) {
        let provinces: Vec<usize> = a
            .places
            .iter()
            .filter_map(|p| match p.kind {
                PlaceKind::Province(i) => Some(i),
                _ => None,
            })
            .collect();
        let regency_cands: Vec<usize> = a
            .places
            .iter()
            .flat_map(|p| match &p.kind {
                PlaceKind::Regency { cands, .. } => cands.clone(),
                _ => Vec::new(),
            })
            .collect();
        let w = &self.wilayah;
        // Districts identify a regency when unique, or when the text also names
        // the regency or province containing them.
        let mut district_regency: Vec<(usize, usize)> = Vec::new();
        for p in &a.places {
            let (cands, weak) = match &p.kind {
                PlaceKind::District(c) => (c, false),
                PlaceKind::WeakDistrict(c) => (c, true),
                _ => continue,
            };
            // A weak district must stand right beside the regency or
            // province that contains it (`kraksaan probolinggo`, `tambora
            // jakarta`), or an everyday word that happens to be a district
            // name somewhere in a named province would pick a regency.
            if weak
                && !a.places.iter().any(|o| {
                    matches!(o.kind, PlaceKind::Regency { .. } | PlaceKind::Province(_)) && o.tok.abs_diff(p.tok) <= 3
                })
            {
                continue;
            }
            let pick = if cands.len() == 1 && !weak {
                Some(cands[0])
            } else {
                let by_regency: Vec<usize> = cands.iter().copied().filter(|c| regency_cands.contains(c)).collect();
                let by_province: Vec<usize> = cands
                    .iter()
                    .copied()
                    .filter(|&c| provinces.contains(&w.regencies[c].province))
                    .collect();
                if by_regency.len() == 1 {
                    Some(by_regency[0])
                } else if by_province.len() == 1 {
                    Some(by_province[0])
                } else {
                    None
                }
            };
            match pick {
                Some(r) => district_regency.push((p.start, r)),
                None if weak => {}
                None => reasons.push(format!(
                    "district '{}' is in {} regencies: no region from it alone",
                    &nt.s[p.start..p.end],
                    cands.len()
                )),
            }
        }
        let district_name = |start: usize| -> String {
            a.places
                .iter()
                .find(|p| p.start == start)
                .map(|p| nt.s[p.start..p.end].to_string())
                .unwrap_or_default()
        };

        // A district that picks one of the regencies a bare name could mean.
        for &(start, r) in &district_regency {
            if regency_cands.contains(&r) {
                let reg = Region::Regency(r);
                reasons.push(format!(
                    "region {} {}: district '{}' lies there and the text names the regency",
                    self.region_code(reg),
                    self.region_name(reg),
                    district_name(start)
                ));
                return (Some(reg), PlaceEvidence::District);
            }
        }
        // Named regencies: an unambiguous mention first, then a bare one.
        let regs: Vec<&PlaceHit> = a
            .places
            .iter()
            .filter(|p| matches!(p.kind, PlaceKind::Regency { .. }))
            .collect();
        let choose = |p: &PlaceHit| -> Option<usize> {
            let PlaceKind::Regency { cands, default, .. } = &p.kind else {
                return None;
            };
            // A shared name inside a named province (Banjar, Kalimantan Selatan).
            let in_prov: Vec<usize> = cands
                .iter()
                .copied()
                .filter(|&c| provinces.contains(&w.regencies[c].province))
                .collect();
            Some(if in_prov.len() == 1 { in_prov[0] } else { *default })
        };
        let explicit = regs
            .iter()
            .find(|p| matches!(p.kind, PlaceKind::Regency { explicit: true, .. }));
        if let Some(p) = explicit.or(regs.first()) {
            if let Some(r) = choose(p) {
                let reg = Region::Regency(r);
                let (how, kind) = match &p.kind {
                    PlaceKind::Regency {
                        cands, explicit: false, ..
                    } if cands.len() > 1 => (
                        " (bare name shared by a city and a regency: the city unless `kab` precedes)",
                        PlaceEvidence::Shared,
                    ),
                    _ => ("", PlaceEvidence::Named),
                };
                reasons.push(format!(
                    "region {} {}: named as '{}'{how}",
                    self.region_code(reg),
                    self.region_name(reg),
                    &nt.s[p.start..p.end]
                ));
                return (Some(reg), kind);
            }
        }
        if let Some(&(start, r)) = district_regency.first() {
            let reg = Region::Regency(r);
            reasons.push(format!(
                "region {} {}: district '{}' identifies it",
                self.region_code(reg),
                self.region_name(reg),
                district_name(start)
            ));
            return (Some(reg), PlaceEvidence::District);
        }
        if let Some(&p) = provinces.first() {
            let reg = Region::Province(p);
            reasons.push(format!(
                "region {} {}: only a province is named",
                self.region_code(reg),
                self.region_name(reg)
            ));
            return (Some(reg), PlaceEvidence::Province);
        }
        reasons.push("region none: no place named".to_string());
        (None, PlaceEvidence::None)
    }

    pub(super) fn province_of(&self, r: Region) -> usize {
        match r {
            Region::Province(p) => p,
            Region::Regency(g) => self.wilayah.regencies[g].province,
        }
    }
}

/// Whether a regency name that needs a place word stands within two words of
/// a district lying in one of its regencies: each makes the other a place.
fn corroborated(regency: &PlaceHit, hits: &[PlaceHit]) -> bool {
    let PlaceKind::Regency { cands, .. } = &regency.kind else {
        return false;
    };
    hits.iter().any(|h| match &h.kind {
        PlaceKind::District(d) | PlaceKind::WeakDistrict(d) => {
            h.tok.abs_diff(regency.tok) <= 2 && h.start != regency.start && d.iter().any(|r| cands.contains(r))
        }
        _ => false,
    })
}
