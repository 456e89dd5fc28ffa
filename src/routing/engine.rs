//! The decision engine: compiled tables and the pure function
//! `(subject, text) -> Decision` of docs/routing.md §4.
//!
//! Every vocabulary item of every table (lexicon terms, office names, place
//! names, cue words) becomes one pattern of a single Aho-Corasick automaton
//! over the canonical text of [`super::text`]; one overlapping scan finds all
//! of them and each pattern carries the list of its meanings. The rules then
//! work on that small list of hits, so a decision costs one pass over the
//! text plus work proportional to the number of hits.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;

use super::category::{CategoryPick, Seen};
use super::features::TableScores;
use super::hashed::TableKeys;
use super::model::ModelFile;
use super::tables::{CategoryDef, CueSettings, LexSettings, OfficeDef, OverrideDef, RegionRef, Wilayah};
use super::text::{NormText, Normalizer};
use super::{Context, Decision, PlaceEvidence, ReportType};

/// Bytes of a complaint body the router reads (about ten pages of text).
const MAX_ANALYSED_BYTES: usize = 16 * 1024;
const MAX_SUBJECT_BYTES: usize = 1024;

/// At least 70 % of the letters (and a dozen or more) are capitals.
fn mostly_upper(s: &str) -> bool {
    let (mut upper, mut letters) = (0usize, 0usize);
    for c in s.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        upper += c.is_uppercase() as usize;
    }
    letters >= 12 && upper * 10 >= letters * 7
}

/// The longest prefix of `s` within `max` bytes, cut at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Which kind of place a prefix word announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PrefixKind {
    City,
    Regency,
    Province,
    District,
}

/// Everything one canonical name can denote.
#[derive(Debug, Clone, Default)]
pub(super) struct Place {
    pub(super) provinces: Vec<u16>,
    pub(super) cities: Vec<u16>,
    pub(super) regencies: Vec<u16>,
    /// Regencies that have a district (kecamatan) of this name.
    pub(super) districts: Vec<u16>,
    pub(super) alias: Option<RegionRef>,
    /// The name is an everyday word: bare use needs a place word before it.
    pub(super) needs_place_word: bool,
    /// As a district name it is an everyday word: needs `kecamatan` before it.
    pub(super) common_district: bool,
    /// An alias that is also an SMS word: its neighbours decide.
    pub(super) ambiguous: bool,
    /// As the last word of a text the ambiguous alias is the everyday word
    /// (`[ambiguous]` entry `mks $`).
    pub(super) word_at_end: bool,
    /// As a district name it reads as an official name (`kota padang`):
    /// never a district without `kecamatan` before it.
    pub(super) reads_official: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Meaning {
    Term {
        cat: u16,
        weight: f32,
    },
    Office(u16),
    Override(u16),
    Report {
        kind: ReportType,
        weight: f32,
    },
    Request,
    Addressee,
    NotAddressee,
    Local,
    PlaceWord,
    Prefix(PrefixKind),
    Place(u32),
    /// A word of side `b` (else `a`) of cue pair `pair`.
    Pair {
        pair: u16,
        b: bool,
    },
}

/// A resolved place: index into the wilayah tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Province(usize),
    Regency(usize),
}

/// A category-evidence hit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ev {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) tok: usize,
    pub(super) cat: usize,
    pub(super) weight: f32,
    pub(super) office: Option<usize>,
}

/// A place hit after interpretation.
#[derive(Debug, Clone)]
pub(super) struct PlaceHit {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) tok: usize,
    pub(super) kind: PlaceKind,
}

#[derive(Debug, Clone)]
pub(super) enum PlaceKind {
    Province(usize),
    /// A regency or city name: candidates, the default, and whether a prefix
    /// or alias made it unambiguous.
    Regency {
        cands: Vec<usize>,
        default: usize,
        explicit: bool,
    },
    District(Vec<usize>),
    /// A district name without the marks of a proper noun: counts only
    /// inside a regency or province the text also names.
    WeakDistrict(Vec<usize>),
}

/// The compiled router.
pub struct Engine {
    pub(super) norm: Normalizer,
    pub(super) ac: AhoCorasick,
    pub(super) meanings: Vec<Vec<Meaning>>,
    pub(super) places: Vec<Place>,
    pub(super) categories: Vec<CategoryDef>,
    pub(super) settings: LexSettings,
    pub(super) cue: CueSettings,
    pub(super) offices: Vec<OfficeDef>,
    pub(super) overrides: Vec<OverrideDef>,
    pub(super) handles: HashMap<String, usize>,
    pub(super) wilayah: Wilayah,
    pub(super) version: String,
    /// Category codes in table order (the features name categories by code).
    pub(super) category_codes: Vec<String>,
    /// Category of each class of the category model (`None` for `none`).
    pub(super) class_category: Vec<Option<usize>>,
    pub(super) model: Option<ModelFile>,
    /// Cue pairs (`cues.txt`): name and window.
    pub(super) pairs: Vec<(String, usize)>,
    pub(super) pair_names: Vec<String>,
    /// Regency and city names for reading misspelt ones (`kota probolingo`).
    pub(super) misspelt: Vec<super::misspelt::Name>,
    /// Hashes of the table features' names (deciding path).
    pub(super) table_keys: TableKeys,
    /// Words before / after an ambiguous alias that mean it is not a place.
    pub(super) ambiguous_before: std::collections::HashSet<String>,
    pub(super) ambiguous_after: std::collections::HashSet<String>,
}

/// The class of the category model that means "no category" (rule 1).
pub const NONE_CLASS: &str = "none";

impl Engine {
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
        self.decide_in(subject, text, &Context::default())
    }

    /// The parts of a complaint the rules read, prepared once.
    pub(super) fn read(&self, subject: Option<&str>, text: &str) -> Reading {
        let (subj_markers, subject_clean) = match subject {
            Some(s) => {
                let (m, t) = pintu_channels::normalize::strip_markers(s);
                (m, Some(t))
            }
            None => (Default::default(), None),
        };
        let (text_markers, text_clean) = pintu_channels::normalize::strip_markers(text);
        // What decides a complaint is in its first pages; a cap keeps every
        // step linear in a bounded input, whatever a hostile sender writes.
        let body = clip(&without_quoted_history(&text_clean), MAX_ANALYSED_BYTES).to_string();
        let subject_part = subject_clean.as_deref().map(|s| clip(s, MAX_SUBJECT_BYTES).to_string());
        // Sized for the whole text at once: growing them word by word was a
        // tenth of a decision's time.
        let len = body.len() + subject_part.as_deref().map_or(0, str::len) + 8;
        let mut nt = NormText {
            s: String::with_capacity(len + len / 4),
            toks: Vec::with_capacity(len / 4),
            subject_toks: 0,
            lead: None,
        };
        let mut raw = String::with_capacity(len);
        if let Some(s) = &subject_part {
            self.norm.push(s, &mut nt);
            super::text::raw_words(s, &mut raw);
        }
        nt.subject_toks = nt.toks.len();
        self.norm.push(&body, &mut nt);
        super::text::raw_words(&body, &mut raw);
        // In a text written in capitals a capital letter says nothing about
        // proper nouns (rule 2's district names rely on it).
        if mostly_upper(&body) {
            nt.toks.iter_mut().for_each(|t| t.cap = false);
        }
        let a = self.analyse(&nt);
        let question = body.contains('?') || subject_part.as_deref().is_some_and(|s| s.contains('?'));
        let scores = self.table_scores(&a, &nt, question);
        Reading {
            confidential: subj_markers.confidential || text_markers.confidential,
            anonymous: subj_markers.anonymous || text_markers.anonymous,
            subject_clean,
            text_clean,
            subject_part,
            body,
            nt,
            raw,
            a,
            scores,
        }
    }

    /// [`Engine::decide`] with what the channel knows (rule 8).
    pub fn decide_in(&self, subject: Option<&str>, text: &str, ctx: &Context<'_>) -> Decision {
        let r = self.read(subject, text);
        let (confidential, anonymous) = (r.confidential, r.anonymous);
        let (a, nt, body, subject_part) = (&r.a, &r.nt, r.body.as_str(), r.subject_part.as_deref());
        let mut reasons = Vec::new();
        if confidential {
            reasons.push("flag confidential: the sender wrote RAHASIA".to_string());
        }
        if anonymous {
            reasons.push("flag anonymous: the sender wrote ANONIM; sender removed for the agency".to_string());
        }
        let seen = r.seen();

        // Rule 1: category, unless someone who knows better decided it.
        let forced = ctx
            .category
            .map(|code| self.category_codes.iter().position(|c| c == code));
        let pick = match forced {
            Some(cat) => {
                reasons.push(format!(
                    "category {}: given by the caller",
                    ctx.category.unwrap_or_default()
                ));
                CategoryPick {
                    category: cat,
                    probability: 1.0,
                    ..CategoryPick::default()
                }
            }
            None => self.pick_category(a, &seen, &mut reasons),
        };
        // Rule 2: region; rule 8 when the text names none.
        let (mut region, mut place_kind) = self.pick_region(a, nt, &mut reasons);
        if region.is_none() {
            if let Some(r) = ctx.default_region.and_then(|code| self.region_by_code(code)) {
                reasons.push(format!(
                    "region {} {}: the channel's default region, the text names no place (rule 8)",
                    self.region_code(r),
                    self.region_name(r)
                ));
                region = Some(r);
                place_kind = PlaceEvidence::Channel;
            }
        }
        let region_code = region.map(|r| self.region_code(r).to_string());

        // Rules 3 and 4, then 5.
        let mut rate_kind = place_kind;
        let agency = match pick.category {
            None => {
                reasons.push("agency triage: no category applies".to_string());
                "triage".to_string()
            }
            Some(cat) => {
                let by_rules = self.agency_by_rules(cat, region, a, nt, &mut reasons);
                if !by_rules.contains('.') {
                    rate_kind = PlaceEvidence::National;
                }
                match self.addressee(a, nt, subject_part, body, region) {
                    Some((agency, why)) if agency != by_rules => {
                        reasons.push(format!("agency {agency}: explicit addressee {why} (rule 5)"));
                        rate_kind = PlaceEvidence::Addressee;
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

        let report_type = self.report_type(a, &seen, &mut reasons);

        // Rule 9: how likely the agency is right — the calibrated
        // probability of the category times how often the place rules gave
        // the right agency for this kind of place evidence, both measured on
        // held-out data by `pintu train`.
        let confidence = match (&self.model, pick.category) {
            (Some(m), Some(_)) => pick.probability * m.rate(rate_kind.as_str()),
            _ => pick.probability,
        };
        let confidence = (f64::from(confidence.clamp(0.0, 1.0)) * 1000.0).round() / 1000.0;
        let suggested_agency = match pick.alternative {
            Some((cat, _)) if pick.category.is_none() => {
                let (unit, _) = self.unit_for(cat, region);
                Some(unit)
            }
            _ => None,
        };

        Decision {
            category: pick.category.map(|c| self.categories[c].code.clone()),
            region: region_code,
            agency,
            report_type,
            confidential,
            anonymous,
            reasons,
            confidence,
            suggested_agency,
            ranked: pick.ranked,
            p_pick: pick.probability,
            region_ix: region,
            place: rate_kind,
            subject: r.subject_clean,
            text: r.text_clean,
        }
    }

    /// `code` is a province (2 digits) or regency (4 digits) of the tables.
    pub fn knows_region(&self, code: &str) -> bool {
        self.region_by_code(code).is_some()
    }

    fn region_by_code(&self, code: &str) -> Option<Region> {
        match code.len() {
            2 => self.wilayah.province_index(code).map(Region::Province),
            4 => self.wilayah.regency_index(code).map(Region::Regency),
            _ => None,
        }
    }

    pub(super) fn region_code(&self, r: Region) -> &str {
        match r {
            Region::Province(p) => &self.wilayah.provinces[p].code,
            Region::Regency(g) => &self.wilayah.regencies[g].code,
        }
    }

    pub(super) fn region_name(&self, r: Region) -> &str {
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
                    Meaning::Pair { pair, b } => a.pair_hits.push((tok, pair, b)),
                }
            }
        }
        a.request_end_toks.sort_unstable();
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
        let misspelt = self.misspelt_places(&a, nt);
        a.places.extend(misspelt);
        drop_contained(&mut a.places, |x| (x.start, x.end));
        // A subject word inside a place name is part of the name (`tanah` in
        // `Tanah Bumbu`), not evidence.
        let names: Vec<(usize, usize)> = a
            .places
            .iter()
            .filter(|p| !matches!(p.kind, PlaceKind::District(_) | PlaceKind::WeakDistrict(_)))
            .map(|p| (p.start, p.end))
            .collect();
        a.ev.retain(|x| {
            !names
                .iter()
                .any(|&(s, e)| s <= x.start && x.end <= e && (e - s) > (x.end - x.start))
        });
        a
    }
}

/// A complaint as the rules read it: markers stripped, history removed,
/// capped, normalised, scanned.
pub(super) struct Reading {
    pub(super) confidential: bool,
    pub(super) anonymous: bool,
    pub(super) subject_clean: Option<String>,
    pub(super) text_clean: String,
    /// The subject and body that were analysed (clipped).
    pub(super) subject_part: Option<String>,
    pub(super) body: String,
    pub(super) nt: NormText,
    pub(super) raw: String,
    pub(super) a: Analysis,
    pub(super) scores: TableScores,
}

impl Reading {
    pub(super) fn seen(&self) -> Seen<'_> {
        Seen {
            nt: &self.nt,
            raw: &self.raw,
            scores: self.scores.clone(),
            hashes: std::cell::OnceCell::new(),
        }
    }
}

/// What one scan of a text found.
#[derive(Debug, Default)]
pub(super) struct Analysis {
    pub(super) ev: Vec<Ev>,
    pub(super) overrides: Vec<(usize, usize, usize)>,
    pub(super) reports: Vec<(usize, usize, ReportType, f32)>,
    pub(super) request_end_toks: Vec<usize>,
    pub(super) addressee_end_toks: Vec<usize>,
    pub(super) not_addressee_end_toks: Vec<usize>,
    pub(super) local_start_toks: Vec<usize>,
    pub(super) place_word_ends: Vec<usize>,
    pub(super) prefix_ends: Vec<(usize, PrefixKind)>,
    pub(super) places: Vec<PlaceHit>,
    /// (word index, pair, side b) of every cue-pair word.
    pub(super) pair_hits: Vec<(usize, u16, bool)>,
}

/// Longest match wins: drop every hit lying strictly inside a longer one.
/// One sort and one sweep (a pairwise check is quadratic in the hits, and a
/// hostile text can have many).
pub(super) fn drop_contained<T>(v: &mut Vec<T>, span: impl Fn(&T) -> (usize, usize)) {
    if v.len() < 2 {
        return;
    }
    let spans: Vec<(usize, usize)> = v.iter().map(&span).collect();
    // Start ascending, end descending: every span that could contain a hit
    // comes before it.
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|&a, &b| spans[a].0.cmp(&spans[b].0).then(spans[b].1.cmp(&spans[a].1)));
    let mut keep = vec![true; spans.len()];
    // Largest end so far, and the smallest start among spans with that end.
    let mut max_end: Option<(usize, usize)> = None;
    for &i in &order {
        let (s, e) = spans[i];
        if let Some((me, ms)) = max_end {
            // Every earlier span starts at or before `s`; one that ends after
            // `e`, or at `e` but starts earlier, is strictly longer.
            if me > e || (me == e && ms < s) {
                keep[i] = false;
            }
        }
        max_end = match max_end {
            Some((me, ms)) if me > e || (me == e && ms <= s) => Some((me, ms)),
            _ => Some((e, s)),
        };
    }
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        keep[i - 1]
    });
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
    fn quoted_history_removed() {
        let t = "Tagihan naik.\n\nOn Kam, 4 Jul 2024, Markus <m@x.org> wrote:\n> lama";
        assert_eq!(without_quoted_history(t).trim(), "Tagihan naik.");
        let t = "Halo\n> kutipan\nlagi";
        assert_eq!(without_quoted_history(t), "Halo\nlagi\n");
    }
}
