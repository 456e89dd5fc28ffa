//! Building the engine: every table's vocabulary becomes patterns of one
//! Aho-Corasick automaton, each carrying its meanings (category term, office,
//! place name, cue, ...), and the places of the BPS tables are indexed by
//! every spelling a citizen may use. Runs once at start.

use std::collections::HashMap;

use aho_corasick::{AhoCorasickBuilder, MatchKind};

use super::engine::{Meaning, Place, PrefixKind, NONE_CLASS};
use super::features::Names;
use super::hashed::TableKeys;
use super::misspelt::Name;
use super::model::ModelFile;
use super::tables::{Src, Tables};
use super::text::Normalizer;
use super::{Engine, ReportType, RoutingError};

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
        for (i, pair) in c.pairs.iter().enumerate() {
            for (words, side_b) in [(&pair.a, false), (&pair.b, true)] {
                for w in words {
                    let m = Meaning::Pair {
                        pair: i as u16,
                        b: side_b,
                    };
                    b.add(w, m, Some(&pair.src))?;
                }
            }
        }
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
        let mut misspelt = Vec::with_capacity(w.regencies.len());
        for (i, r) in w.regencies.iter().enumerate() {
            let canon = norm.term(&r.bare);
            misspelt.push(Name {
                joined: canon.replace(' ', ""),
                regency: i,
                is_city: r.is_city,
            });
            let mut spellings = vec![canon.clone()];
            if canon.contains(' ') {
                spellings.push(canon.replace(' ', ""));
            }
            // Citizens split long one-word names (`tulung agung`, `pekan
            // baru`, `pare pare`): every split into two parts of at least
            // three letters spells the same place.
            if !canon.contains(' ') && canon.len() >= 8 && canon.is_ascii() {
                for k in 3..=canon.len() - 3 {
                    spellings.push(format!("{} {}", &canon[..k], &canon[k..]));
                }
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
        for (entry, src) in &t.regions.ambiguous {
            let (n, at_end) = match entry.trim().strip_suffix('$') {
                Some(n) => (n.trim(), true),
                None => (entry.trim(), false),
            };
            match place_ix.get(&norm.term(n)) {
                Some(&ix) if places[ix].alias.is_some() => {
                    places[ix].ambiguous = true;
                    places[ix].word_at_end = at_end;
                }
                _ => return Err(src.err(format!("`{n}` is not an alias of [aliases]"))),
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
            places[ix].reads_official = reads_as_official;
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
        let ambiguous_before = t.regions.ambiguous_before.iter().map(|w| norm.term(w)).collect();
        let ambiguous_after = t.regions.ambiguous_after.iter().map(|w| norm.term(w)).collect();
        let category_codes: Vec<String> = t.categories.iter().map(|c| c.code.clone()).collect();
        let (model, class_category) = match &t.model {
            Some((path, text)) => {
                let m = ModelFile::parse(path, text)?;
                let mut map = Vec::new();
                for class in &m.category.classes {
                    match category_codes.iter().position(|c| c == class) {
                        Some(i) => map.push(Some(i)),
                        None if class == NONE_CLASS => map.push(None),
                        None => {
                            return Err(RoutingError::Invalid(format!(
                                "{}: model class `{class}` is not a category of {}",
                                path.display(),
                                super::tables::CATEGORIES
                            )))
                        }
                    }
                }
                (Some(m), map)
            }
            None => (None, Vec::new()),
        };
        let pair_names: Vec<String> = t.cues.pairs.iter().map(|p| p.name.clone()).collect();
        let table_keys = TableKeys::new(&Names {
            categories: &category_codes,
            pairs: &pair_names,
        });
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
            category_codes,
            class_category,
            model,
            pairs: t.cues.pairs.iter().map(|p| (p.name.clone(), p.window)).collect(),
            pair_names,
            table_keys,
            misspelt,
            ambiguous_before,
            ambiguous_after,
        })
    }
}

fn place_entry(index: &mut HashMap<String, usize>, places: &mut Vec<Place>, canon: String) -> usize {
    *index.entry(canon).or_insert_with(|| {
        places.push(Place::default());
        places.len() - 1
    })
}
