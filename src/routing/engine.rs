//! The decision engine: compiled tables and the pure function
//! `(subject, text) -> Decision` of ROUTING.md §4.
//!
//! Every vocabulary item of every table (lexicon terms, office names, place
//! names, cue words) becomes one pattern of a single Aho-Corasick automaton
//! over the canonical text of [`super::text`]; one overlapping scan finds all
//! of them and each pattern carries the list of its meanings. The rules then
//! work on that small list of hits, so a decision costs one pass over the
//! text plus work proportional to the number of hits.

use std::collections::HashMap;
use std::fmt::Write as _;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::tables::{
    CategoryDef, CueSettings, LexSettings, OfficeDef, OfficeLevel, OverrideDef, OverrideTarget, RegionRef, Src, Tables,
    Wilayah,
};
use super::text::{NormText, Normalizer};
use super::{Decision, ReportType, RoutingError};

/// Which kind of place a prefix word announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrefixKind {
    City,
    Regency,
    Province,
    District,
}

/// Everything one canonical name can denote.
#[derive(Debug, Clone, Default)]
struct Place {
    provinces: Vec<u16>,
    cities: Vec<u16>,
    regencies: Vec<u16>,
    /// Regencies that have a district (kecamatan) of this name.
    districts: Vec<u16>,
    alias: Option<RegionRef>,
    /// The name is an everyday word: bare use needs a place word before it.
    needs_place_word: bool,
    /// As a district name it is an everyday word: needs `kecamatan` before it.
    common_district: bool,
}

#[derive(Debug, Clone, Copy)]
enum Meaning {
    Term { cat: u16, weight: f32 },
    Office(u16),
    Override(u16),
    Report { kind: ReportType, weight: f32 },
    Request,
    Addressee,
    NotAddressee,
    Local,
    PlaceWord,
    Prefix(PrefixKind),
    Place(u32),
}

/// A resolved place: index into the wilayah tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Province(usize),
    Regency(usize),
}

/// A category-evidence hit.
#[derive(Debug, Clone, Copy)]
struct Ev {
    start: usize,
    end: usize,
    tok: usize,
    cat: usize,
    weight: f32,
    office: Option<usize>,
}

/// A place hit after interpretation.
#[derive(Debug, Clone)]
struct PlaceHit {
    start: usize,
    end: usize,
    tok: usize,
    kind: PlaceKind,
}

#[derive(Debug, Clone)]
enum PlaceKind {
    Province(usize),
    /// A regency or city name: candidates, the default, and whether a prefix
    /// or alias made it unambiguous.
    Regency {
        cands: Vec<usize>,
        default: usize,
        explicit: bool,
    },
    District(Vec<usize>),
}

/// The compiled router.
pub struct Engine {
    norm: Normalizer,
    ac: AhoCorasick,
    meanings: Vec<Vec<Meaning>>,
    places: Vec<Place>,
    categories: Vec<CategoryDef>,
    settings: LexSettings,
    cue: CueSettings,
    offices: Vec<OfficeDef>,
    overrides: Vec<OverrideDef>,
    handles: HashMap<String, usize>,
    wilayah: Wilayah,
    version: String,
}

/// Collects patterns while the engine is built: one pattern per canonical
/// string, however many tables use it.
struct Builder<'a> {
    norm: &'a Normalizer,
    index: HashMap<String, usize>,
    patterns: Vec<String>,
    meanings: Vec<Vec<Meaning>>,
}

impl Builder<'_> {
    fn add(&mut self, raw: &str, m: Meaning, src: Option<&Src>) -> Result<(), RoutingError> {
        let canon = self.norm.term(raw);
        if canon.is_empty() {
            let msg = format!("`{raw}` has no letters or digits");
            return Err(match src {
                Some(s) => s.err(msg),
                None => RoutingError::Invalid(msg),
            });
        }
        self.add_canon(canon, m);
        Ok(())
    }

    fn add_canon(&mut self, canon: String, m: Meaning) {
        let id = match self.index.get(&canon) {
            Some(&id) => id,
            None => {
                let id = self.patterns.len();
                self.index.insert(canon.clone(), id);
                self.patterns.push(canon);
                self.meanings.push(Vec::new());
                id
            }
        };
        self.meanings[id].push(m);
    }
}

fn src_err(src: &Src, msg: String) -> RoutingError {
    src.err(msg)
}

impl Engine {
    /// Compile parsed tables. Fails on what parsing cannot see: a term that
    /// normalises to nothing, an alias that is not a name, ...
    pub fn compile(t: Tables) -> Result<Engine, RoutingError> {
        let norm = Normalizer::new(t.abbreviations.iter().map(|(k, v, _)| (k.clone(), v.clone())));
        let mut b = Builder {
            norm: &norm,
            index: HashMap::new(),
            patterns: Vec::new(),
            meanings: Vec::new(),
        };

        // Category evidence. The same term listed twice for one category
        // keeps the larger weight: duplicates after normalisation are easy to
        // create (`ngalir` vs `mengalir`) and harmless.
        let mut term_weight: HashMap<(String, u16), f32> = HashMap::new();
        for term in &t.terms {
            let canon = norm.term(&term.term);
            if canon.is_empty() {
                return Err(src_err(
                    &term.src,
                    format!("term `{}` has no letters or digits", term.term),
                ));
            }
            let w = term_weight.entry((canon, term.category as u16)).or_insert(0.0);
            *w = w.max(term.weight);
        }
        let mut term_list: Vec<_> = term_weight.into_iter().collect();
        // Deterministic pattern order, whatever the hash map did.
        term_list.sort_by(|a, b| a.0.cmp(&b.0));
        for ((canon, cat), weight) in term_list {
            b.add_canon(canon, Meaning::Term { cat, weight });
        }

        let mut handles = HashMap::new();
        for (i, o) in t.offices.iter().enumerate() {
            for n in &o.names {
                b.add(n, Meaning::Office(i as u16), Some(&o.src))?;
            }
            for h in &o.handles {
                if let Some(prev) = handles.insert(h.clone(), i) {
                    if prev != i {
                        return Err(o.src.err(format!("handle @{h} already names another office")));
                    }
                }
            }
        }
        for (i, o) in t.overrides.iter().enumerate() {
            for term in &o.terms {
                b.add(term, Meaning::Override(i as u16), Some(&o.src))?;
            }
        }
        let c = &t.cues;
        for (w, p) in &c.aspirasi {
            b.add(
                p,
                Meaning::Report {
                    kind: ReportType::Aspirasi,
                    weight: *w,
                },
                None,
            )?;
        }
        for (w, p) in &c.informasi {
            b.add(
                p,
                Meaning::Report {
                    kind: ReportType::Informasi,
                    weight: *w,
                },
                None,
            )?;
        }
        for (list, m) in [
            (&c.request, Meaning::Request),
            (&c.addressee, Meaning::Addressee),
            (&c.not_addressee, Meaning::NotAddressee),
            (&c.local, Meaning::Local),
            (&t.regions.place_words, Meaning::PlaceWord),
            (&t.regions.prefixes.city, Meaning::Prefix(PrefixKind::City)),
            (&t.regions.prefixes.regency, Meaning::Prefix(PrefixKind::Regency)),
            (&t.regions.prefixes.province, Meaning::Prefix(PrefixKind::Province)),
            (&t.regions.prefixes.district, Meaning::Prefix(PrefixKind::District)),
        ] {
            for p in list {
                b.add(p, m, None)?;
            }
        }

        // Places: every official name, its joined spelling, aliases, districts.
        let w = &t.wilayah;
        let mut place_ix: HashMap<String, usize> = HashMap::new();
        let mut places: Vec<Place> = Vec::new();
        let not_names: Vec<String> = t.regions.not_names.iter().map(|n| norm.term(n)).collect();
        for (i, p) in w.provinces.iter().enumerate() {
            let canon = norm.term(&p.name);
            if !not_names.contains(&canon) {
                let ix = place_entry(&mut place_ix, &mut places, canon);
                places[ix].provinces.push(i as u16);
            }
        }
        for (i, r) in w.regencies.iter().enumerate() {
            let canon = norm.term(&r.bare);
            let mut spellings = vec![canon.clone()];
            if canon.contains(' ') {
                spellings.push(canon.replace(' ', ""));
            }
            for s in spellings {
                if not_names.contains(&s) {
                    continue;
                }
                let ix = place_entry(&mut place_ix, &mut places, s);
                let pl = &mut places[ix];
                if r.is_city {
                    pl.cities.push(i as u16);
                } else {
                    pl.regencies.push(i as u16);
                }
            }
        }
        for a in &t.regions.aliases {
            let canon = norm.term(&a.name);
            if canon.is_empty() {
                return Err(a.src.err(format!("alias `{}` has no letters or digits", a.name)));
            }
            let ix = place_entry(&mut place_ix, &mut places, canon);
            let pl = &mut places[ix];
            if pl.alias.is_some_and(|prev| prev != a.target) {
                return Err(a
                    .src
                    .err(format!("alias `{}` defined twice with different targets", a.name)));
            }
            pl.alias = Some(a.target);
        }
        for d in &w.districts {
            let canon = norm.term(&d.name);
            if canon.is_empty() {
                continue;
            }
            let ix = place_entry(&mut place_ix, &mut places, canon);
            let pl = &mut places[ix];
            if !pl.districts.contains(&(d.regency as u16)) {
                pl.districts.push(d.regency as u16);
            }
        }
        for (n, src) in &t.regions.needs_place_word {
            match place_ix.get(&norm.term(n)) {
                Some(&ix) => places[ix].needs_place_word = true,
                None => return Err(src.err(format!("`{n}` is not an official name or alias"))),
            }
        }
        // A district name that is also an everyday word, a subject term or a
        // cue would turn ordinary sentences into places.
        for n in &t.regions.common_words {
            if let Some(&ix) = place_ix.get(&norm.term(n)) {
                places[ix].common_district = true;
            }
        }
        let prefixes: Vec<String> = [
            &t.regions.prefixes.city,
            &t.regions.prefixes.regency,
            &t.regions.prefixes.province,
        ]
        .into_iter()
        .flatten()
        .map(|p| norm.term(p))
        .collect();
        for (canon, &ix) in &place_ix {
            if places[ix].districts.is_empty() {
                continue;
            }
            // `Kota Padang` is also a district of Rejang Lebong; written bare it
            // means the city, so such districts need `kecamatan` before them.
            let reads_as_official = prefixes.iter().any(|p| {
                canon
                    .strip_prefix(p.as_str())
                    .and_then(|rest| rest.strip_prefix(' '))
                    .and_then(|rest| place_ix.get(rest))
                    .is_some_and(|&o| {
                        let o = &places[o];
                        !o.cities.is_empty() || !o.regencies.is_empty() || !o.provinces.is_empty()
                    })
            });
            if reads_as_official || canon.len() <= 3 || b.index.contains_key(canon) {
                places[ix].common_district = true;
            }
        }
        let mut place_list: Vec<(&String, &usize)> = place_ix.iter().collect();
        place_list.sort();
        for (canon, &ix) in place_list {
            b.add_canon(canon.clone(), Meaning::Place(ix as u32));
        }

        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&b.patterns)
            .map_err(|e| RoutingError::Invalid(format!("cannot build the matcher: {e}")))?;
        let meanings = b.meanings;
        let version = format!("pintu-router/{} tables:{}", env!("CARGO_PKG_VERSION"), t.digest);
        Ok(Engine {
            norm,
            ac,
            meanings,
            places,
            categories: t.categories,
            settings: t.settings,
            cue: t.cues.settings,
            offices: t.offices,
            overrides: t.overrides,
            handles,
            wilayah: t.wilayah,
            version,
        })
    }

    /// `router_version` of routed messages: code version and table digest.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn categories(&self) -> impl Iterator<Item = &str> {
        self.categories.iter().map(|c| c.code.as_str())
    }

    /// Number of patterns in the matcher (for load benchmarks and `check`).
    pub fn pattern_count(&self) -> usize {
        self.meanings.len()
    }

    /// Decide where a complaint goes. Pure: the same input always gives the
    /// same decision.
    pub fn decide(&self, subject: Option<&str>, text: &str) -> Decision {
        let (subj_markers, subject_clean) = match subject {
            Some(s) => {
                let (m, t) = pintu_channels::normalize::strip_markers(s);
                (m, Some(t))
            }
            None => (Default::default(), None),
        };
        let (text_markers, text_clean) = pintu_channels::normalize::strip_markers(text);
        let confidential = subj_markers.confidential || text_markers.confidential;
        let anonymous = subj_markers.anonymous || text_markers.anonymous;

        let body = without_quoted_history(&text_clean);
        let mut nt = NormText::default();
        if let Some(s) = &subject_clean {
            self.norm.push(s, &mut nt);
        }
        nt.subject_toks = nt.toks.len();
        self.norm.push(&body, &mut nt);

        let mut reasons = Vec::new();
        if confidential {
            reasons.push("flag confidential: the sender wrote RAHASIA".to_string());
        }
        if anonymous {
            reasons.push("flag anonymous: the sender wrote ANONIM; sender removed for the agency".to_string());
        }

        let a = self.analyse(&nt);

        // Rule 1: category.
        let category = self.pick_category(&a, &nt, &mut reasons);
        // Rule 2: region.
        let region = self.pick_region(&a, &nt, &mut reasons);
        let region_code = region.map(|r| self.region_code(r).to_string());

        // Rules 3 and 4, then 5.
        let agency = match category {
            None => {
                reasons.push("agency triage: no category applies".to_string());
                "triage".to_string()
            }
            Some(cat) => {
                let by_rules = self.agency_by_rules(cat, region, &a, &nt, &mut reasons);
                match self.addressee(&a, &nt, subject_clean.as_deref(), &body, region) {
                    Some((agency, why)) if agency != by_rules => {
                        reasons.push(format!("agency {agency}: explicit addressee {why} (rule 5)"));
                        agency
                    }
                    Some((_, why)) => {
                        reasons.push(format!("agency {by_rules}: also the explicit addressee {why}"));
                        by_rules
                    }
                    None => by_rules,
                }
            }
        };

        let report_type = self.report_type(&a, &nt, &mut reasons);

        Decision {
            category: category.map(|c| self.categories[c].code.clone()),
            region: region_code,
            agency,
            report_type,
            confidential,
            anonymous,
            reasons,
            subject: subject_clean,
            text: text_clean,
        }
    }

    fn region_code(&self, r: Region) -> &str {
        match r {
            Region::Province(p) => &self.wilayah.provinces[p].code,
            Region::Regency(g) => &self.wilayah.regencies[g].code,
        }
    }

    fn region_name(&self, r: Region) -> &str {
        match r {
            Region::Province(p) => &self.wilayah.provinces[p].name,
            Region::Regency(g) => &self.wilayah.regencies[g].name,
        }
    }

    /// One scan: every whole-word hit, sorted into what the rules need.
    fn analyse(&self, nt: &NormText) -> Analysis {
        let bytes = nt.s.as_bytes();
        let mut a = Analysis::default();
        let mut raw_places: Vec<(usize, usize, usize)> = Vec::new();
        for m in self.ac.find_overlapping_iter(&nt.s) {
            let (s, e) = (m.start(), m.end());
            // Whole words only: the canonical text pads every word with spaces.
            if s == 0 || e >= bytes.len() || bytes[s - 1] != b' ' || bytes[e] != b' ' {
                continue;
            }
            let tok = nt.tok_at(s);
            for &mean in &self.meanings[m.pattern().as_usize()] {
                match mean {
                    Meaning::Term { cat, weight } => a.ev.push(Ev {
                        start: s,
                        end: e,
                        tok,
                        cat: cat as usize,
                        weight,
                        office: None,
                    }),
                    Meaning::Office(o) => a.ev.push(Ev {
                        start: s,
                        end: e,
                        tok,
                        cat: self.offices[o as usize].category,
                        weight: self.cue.office_weight,
                        office: Some(o as usize),
                    }),
                    Meaning::Override(o) => a.overrides.push((s, e, o as usize)),
                    Meaning::Report { kind, weight } => a.reports.push((s, e, kind, weight)),
                    Meaning::Request => a.request_end_toks.push(nt.tok_at(e) - 1),
                    Meaning::Addressee => a.addressee_end_toks.push(nt.tok_at(e) - 1),
                    Meaning::NotAddressee => a.not_addressee_end_toks.push(nt.tok_at(e) - 1),
                    Meaning::Local => a.local_start_toks.push(tok),
                    Meaning::PlaceWord => a.place_word_ends.push(e),
                    Meaning::Prefix(k) => a.prefix_ends.push((e, k)),
                    Meaning::Place(p) => raw_places.push((s, e, p as usize)),
                }
            }
        }
        drop_contained(&mut a.ev, |x| (x.start, x.end));
        // An office name that is also a lexicon term of its category is one
        // piece of evidence, not two; the office hit stays for rule 5.
        let terms: Vec<(usize, usize, usize)> =
            a.ev.iter()
                .filter(|x| x.office.is_none())
                .map(|x| (x.start, x.end, x.cat))
                .collect();
        for x in a.ev.iter_mut().filter(|x| x.office.is_some()) {
            if terms.contains(&(x.start, x.end, x.cat)) {
                x.weight = 0.0;
            }
        }
        drop_contained(&mut a.reports, |x| (x.0, x.1));
        a.places = self.interpret_places(&raw_places, &a, nt);
        drop_contained(&mut a.places, |x| (x.start, x.end));
        // A subject word inside a place name is part of the name (`tanah` in
        // `Tanah Bumbu`), not evidence.
        let names: Vec<(usize, usize)> = a
            .places
            .iter()
            .filter(|p| !matches!(p.kind, PlaceKind::District(_)))
            .map(|p| (p.start, p.end))
            .collect();
        a.ev.retain(|x| {
            !names
                .iter()
                .any(|&(s, e)| s <= x.start && x.end <= e && (e - s) > (x.end - x.start))
        });
        a
    }

    /// Turn name hits into places, using the word before each (ROUTING.md rule 2).
    fn interpret_places(&self, raw: &[(usize, usize, usize)], a: &Analysis, nt: &NormText) -> Vec<PlaceHit> {
        let mut out = Vec::new();
        for &(s, e, ix) in raw {
            let p = &self.places[ix];
            let tok = nt.tok_at(s);
            // The byte before a hit is its separating space; a prefix or place
            // word right before ends one byte earlier.
            let prefix = a.prefix_ends.iter().find(|(pe, _)| *pe + 1 == s).map(|(_, k)| *k);
            let place_word = a.place_word_ends.iter().any(|pe| *pe + 1 == s);
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
            if let Some(alias) = p.alias {
                out.push(hit(match alias {
                    RegionRef::Province(i) => PlaceKind::Province(i),
                    RegionRef::Regency(i) => PlaceKind::Regency {
                        cands: vec![i],
                        default: i,
                        explicit: true,
                    },
                }));
                continue;
            }
            let named = !p.provinces.is_empty() || !p.cities.is_empty() || !p.regencies.is_empty();
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
            if !p.districts.is_empty() && !p.common_district {
                // Bare district names: a proper noun needs a capital, or a
                // place word before it, or more than one word.
                let first = &nt.toks[tok];
                let multiword = nt.s[s..e].contains(' ');
                if multiword || first.cap || place_word {
                    out.push(hit(PlaceKind::District(
                        p.districts.iter().map(|&d| d as usize).collect(),
                    )));
                }
            }
        }
        out
    }

    fn pick_category(&self, a: &Analysis, nt: &NormText, reasons: &mut Vec<String>) -> Option<usize> {
        let n = self.categories.len();
        let mut score = vec![0f32; n];
        let mut best_term = vec![0f32; n];
        let mut seen: Vec<(usize, &str)> = Vec::new();
        for ev in &a.ev {
            let mut w = self.evidence_weight(ev, a, nt);
            // A word repeated adds less each time: a long e-mail saying
            // `rumah sakit` five times is not five times as much about health.
            let word = &nt.s[ev.start..ev.end];
            if seen.contains(&(ev.cat, word)) {
                w *= self.settings.repeat_factor;
            } else {
                seen.push((ev.cat, word));
            }
            score[ev.cat] += w;
            best_term[ev.cat] = best_term[ev.cat].max(w);
        }
        let mut order: Vec<usize> = (0..n).filter(|&c| score[c] > 0.0).collect();
        // Highest score; on a tie the strongest single term; then file order.
        order.sort_by(|&x, &y| {
            score[y]
                .total_cmp(&score[x])
                .then(best_term[y].total_cmp(&best_term[x]))
                .then(x.cmp(&y))
        });
        let Some(&best) = order.first() else {
            reasons.push("category none: no subject word matched".to_string());
            return None;
        };
        if score[best] < self.settings.min_score {
            reasons.push(format!(
                "category none: best candidate {} scored {:.1}, below {:.1}",
                self.categories[best].code, score[best], self.settings.min_score
            ));
            return None;
        }
        let mut why = String::new();
        let mut seen: Vec<&str> = Vec::new();
        for ev in a.ev.iter().filter(|e| e.cat == best) {
            let word = &nt.s[ev.start..ev.end];
            if seen.contains(&word) {
                continue;
            }
            seen.push(word);
            if !why.is_empty() {
                why.push_str(", ");
            }
            let _ = write!(why, "'{word}' {:.1}", self.evidence_weight(ev, a, nt));
        }
        let mut line = format!(
            "category {} (score {:.1}): {why}",
            self.categories[best].code, score[best]
        );
        if let Some(&second) = order.get(1) {
            let _ = write!(
                line,
                "; runner-up {} {:.1}",
                self.categories[second].code, score[second]
            );
        }
        reasons.push(line);
        Some(best)
    }

    /// Weight of one hit: subject and request-word boosts (rule 1 tie-break).
    fn evidence_weight(&self, ev: &Ev, a: &Analysis, nt: &NormText) -> f32 {
        let mut w = ev.weight;
        if ev.tok < nt.subject_toks {
            w *= self.settings.subject_boost;
        }
        let win = self.settings.request_window;
        if a.request_end_toks.iter().any(|&r| r < ev.tok && ev.tok - r <= win) {
            w *= self.settings.request_boost;
        }
        w
    }

    fn pick_region(&self, a: &Analysis, nt: &NormText, reasons: &mut Vec<String>) -> Option<Region> {
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
            let PlaceKind::District(cands) = &p.kind else { continue };
            let pick = if cands.len() == 1 {
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
                return Some(reg);
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
                let how = match &p.kind {
                    PlaceKind::Regency { cands, .. } if cands.len() > 1 => {
                        " (bare name shared by a city and a regency: the city unless `kab` precedes)"
                    }
                    _ => "",
                };
                reasons.push(format!(
                    "region {} {}: named as '{}'{how}",
                    self.region_code(reg),
                    self.region_name(reg),
                    &nt.s[p.start..p.end]
                ));
                return Some(reg);
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
            return Some(reg);
        }
        if let Some(&p) = provinces.first() {
            let reg = Region::Province(p);
            reasons.push(format!(
                "region {} {}: only a province is named",
                self.region_code(reg),
                self.region_name(reg)
            ));
            return Some(reg);
        }
        reasons.push("region none: no place named".to_string());
        None
    }

    fn province_of(&self, r: Region) -> usize {
        match r {
            Region::Province(p) => p,
            Region::Regency(g) => self.wilayah.regencies[g].province,
        }
    }

    /// Rule 4: the unit of `cat` for `region`.
    fn unit_for(&self, cat: usize, region: Option<Region>) -> (String, &'static str) {
        let c = &self.categories[cat];
        match (region, &c.r, &c.p) {
            (Some(Region::Regency(g)), Some(r), _) => (
                format!("{}.{r}", self.wilayah.regencies[g].code),
                "regency unit of the category",
            ),
            (Some(reg @ Region::Regency(_)), None, Some(p)) => (
                format!("{}.{p}", self.wilayah.provinces[self.province_of(reg)].code),
                "no regency unit: province unit",
            ),
            (Some(Region::Province(pv)), _, Some(p)) => (
                format!("{}.{p}", self.wilayah.provinces[pv].code),
                "province unit of the category",
            ),
            (None, _, _) => (c.n.clone(), "no place: national unit"),
            _ => (c.n.clone(), "no unit at that level: national unit"),
        }
    }

    /// Rules 3 and 4.
    fn agency_by_rules(
        &self,
        cat: usize,
        region: Option<Region>,
        a: &Analysis,
        nt: &NormText,
        reasons: &mut Vec<String>,
    ) -> String {
        for (i, o) in self.overrides.iter().enumerate() {
            if o.category != cat {
                continue;
            }
            let Some(&(s, e, _)) = a.overrides.iter().find(|x| x.2 == i) else {
                continue;
            };
            let word = &nt.s[s..e];
            let c = &self.categories[cat];
            let agency = match (&o.target, region, &c.p) {
                (OverrideTarget::Agency(code), _, _) => code.clone(),
                (OverrideTarget::National, _, _) => c.n.clone(),
                (OverrideTarget::Province, Some(r), Some(p)) => {
                    format!("{}.{p}", self.wilayah.provinces[self.province_of(r)].code)
                }
                (OverrideTarget::Province, _, _) => c.n.clone(),
            };
            reasons.push(format!(
                "agency {agency}: level override for '{word}' ({}:{}, rule 3)",
                o.src.file.file_name().and_then(|f| f.to_str()).unwrap_or_default(),
                o.src.line
            ));
            return agency;
        }
        let (agency, why) = self.unit_for(cat, region);
        reasons.push(format!("agency {agency}: {why} (rule 4)"));
        agency
    }

    /// Rule 5: an office the citizen addresses, when it maps to an agency.
    fn addressee(
        &self,
        a: &Analysis,
        nt: &NormText,
        subject: Option<&str>,
        body: &str,
        region: Option<Region>,
    ) -> Option<(String, String)> {
        for text in subject.into_iter().chain(std::iter::once(body)) {
            for h in handles(text) {
                if let Some(&o) = self.handles.get(&h) {
                    if let Some(agency) = self.office_agency(o, None, false, region) {
                        return Some((agency, format!("@{h}")));
                    }
                }
            }
        }
        let win = self.cue.addressee_window;
        for ev in &a.ev {
            let Some(o) = ev.office else { continue };
            if ev.tok > 0 && a.not_addressee_end_toks.contains(&(ev.tok - 1)) {
                continue;
            }
            let addressed = a.addressee_end_toks.iter().any(|&t| t < ev.tok && ev.tok - t <= win);
            if !addressed {
                continue;
            }
            let end_tok = nt.tok_at(ev.end) - 1;
            // The office's own place: a name right after it (`Polda Papua`,
            // `Dinkes Provinsi Jawa Timur`), at most one prefix word between.
            let own = a
                .places
                .iter()
                .filter(|p| p.tok > end_tok && p.tok <= end_tok + 3)
                .find_map(|p| match &p.kind {
                    PlaceKind::Province(i) => Some(Region::Province(*i)),
                    PlaceKind::Regency { default, .. } => Some(Region::Regency(*default)),
                    PlaceKind::District(_) => None,
                });
            let local = a.local_start_toks.contains(&(end_tok + 1));
            if let Some(agency) = self.office_agency(o, own, local, region) {
                return Some((agency, format!("'{}'", &nt.s[ev.start..ev.end])));
            }
        }
        None
    }

    fn office_agency(&self, o: usize, own: Option<Region>, local: bool, region: Option<Region>) -> Option<String> {
        let off = &self.offices[o];
        let c = &self.categories[off.category];
        let place = own.or(region);
        match off.level {
            OfficeLevel::National if own.is_none() && !local => Some(off.code.clone().unwrap_or_else(|| c.n.clone())),
            OfficeLevel::National => Some(self.unit_for(off.category, place).0),
            OfficeLevel::Local => place.map(|r| self.unit_for(off.category, Some(r)).0),
            OfficeLevel::Regency => match (place, &c.r) {
                (Some(Region::Regency(g)), Some(r)) => Some(format!("{}.{r}", self.wilayah.regencies[g].code)),
                _ => None,
            },
            OfficeLevel::Province => match (place, &c.p) {
                (Some(r), Some(p)) => Some(format!("{}.{p}", self.wilayah.provinces[self.province_of(r)].code)),
                _ => None,
            },
        }
    }

    fn report_type(&self, a: &Analysis, nt: &NormText, reasons: &mut Vec<String>) -> ReportType {
        let mut asp = 0f32;
        let mut inf = 0f32;
        let mut words: Vec<&str> = Vec::new();
        for &(s, e, kind, w) in &a.reports {
            match kind {
                ReportType::Aspirasi => asp += w,
                ReportType::Informasi => inf += w,
                ReportType::Pengaduan => {}
            }
            words.push(&nt.s[s..e]);
        }
        let min = self.cue.report_min_score;
        let kind = if asp >= min && asp >= inf {
            ReportType::Aspirasi
        } else if inf >= min {
            ReportType::Informasi
        } else {
            ReportType::Pengaduan
        };
        if kind != ReportType::Pengaduan {
            reasons.push(format!(
                "report type {} (aspirasi {asp:.1}, informasi {inf:.1}): {}",
                kind.as_str(),
                words.join(", ")
            ));
        }
        kind
    }
}

fn place_entry(index: &mut HashMap<String, usize>, places: &mut Vec<Place>, canon: String) -> usize {
    *index.entry(canon).or_insert_with(|| {
        places.push(Place::default());
        places.len() - 1
    })
}

/// What one scan of a text found.
#[derive(Debug, Default)]
struct Analysis {
    ev: Vec<Ev>,
    overrides: Vec<(usize, usize, usize)>,
    reports: Vec<(usize, usize, ReportType, f32)>,
    request_end_toks: Vec<usize>,
    addressee_end_toks: Vec<usize>,
    not_addressee_end_toks: Vec<usize>,
    local_start_toks: Vec<usize>,
    place_word_ends: Vec<usize>,
    prefix_ends: Vec<(usize, PrefixKind)>,
    places: Vec<PlaceHit>,
}

/// Longest match wins: drop every hit lying strictly inside a longer one.
fn drop_contained<T>(v: &mut Vec<T>, span: impl Fn(&T) -> (usize, usize)) {
    if v.len() < 2 {
        return;
    }
    let spans: Vec<(usize, usize)> = v.iter().map(&span).collect();
    let mut i = 0;
    v.retain(|_| {
        let (s, e) = spans[i];
        i += 1;
        !spans.iter().any(|&(s2, e2)| s2 <= s && e <= e2 && (e2 - s2) > (e - s))
    });
}

/// `@handle`s of a text, lower-cased, in order.
fn handles(text: &str) -> impl Iterator<Item = String> + '_ {
    let b = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            if b[i] == b'@' && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.')) {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
                    end += 1;
                }
                i = end.max(i + 1);
                if end > start {
                    return Some(text[start..end].to_ascii_lowercase());
                }
            } else {
                i += 1;
            }
        }
        None
    })
}

/// The part of an e-mail body the citizen wrote now: quoted lines (`> ...`)
/// and everything from a reply header (`On ... wrote:`, `Pada ... menulis:`)
/// or an original-message separator on are history, not this complaint.
pub fn without_quoted_history(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('>') && !text.contains("wrote:") && !text.contains("menulis:") && !text.contains("-----") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let t = line.trim();
        let lower = t.to_lowercase();
        if (lower.starts_with("on ") && lower.ends_with("wrote:"))
            || (lower.starts_with("pada ") && lower.ends_with("menulis:"))
            || lower.starts_with("-----original message")
            || lower.starts_with("-----pesan asli")
        {
            break;
        }
        if t.starts_with('>') {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contained_hits_are_dropped() {
        let mut v = vec![(1, 5), (1, 20), (7, 10), (12, 20)];
        drop_contained(&mut v, |x| *x);
        assert_eq!(v, vec![(1, 20)]);
        let mut v = vec![(1, 5), (1, 5), (3, 9)];
        drop_contained(&mut v, |x| *x);
        assert_eq!(v, vec![(1, 5), (1, 5), (3, 9)], "equal and overlapping spans both stay");
    }

    #[test]
    fn handles_are_found() {
        let h: Vec<String> = handles("@PLN123 min, cc @KemensosRI. mail a@b.com").collect();
        assert_eq!(h, vec!["pln123", "kemensosri"]);
    }

    #[test]
    fn quoted_history_removed() {
        let t = "Tagihan naik.\n\nOn Kam, 4 Jul 2024, Markus <m@x.org> wrote:\n> lama";
        assert_eq!(without_quoted_history(t).trim(), "Tagihan naik.");
        let t = "Halo\n> kutipan\nlagi";
        assert_eq!(without_quoted_history(t), "Halo\nlagi\n");
    }
}
