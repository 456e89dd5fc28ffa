//! Rules 3–5 of docs/routing.md: from category and region to an agency code —
//! level overrides (SMA → province, jalan tol → kemenpu, …), the category's
//! unit at the place's level, and an office the citizen addresses by name or
//! `@handle`.

use super::engine::{Analysis, PlaceKind, Region};
use super::tables::{OfficeLevel, OverrideTarget};
use super::text::NormText;
use super::Engine;

impl Engine {
    /// Rule 4: the unit of `cat` for `region`.
    pub(super) fn unit_for(&self, cat: usize, region: Option<Region>) -> (String, &'static str) {
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
    pub(super) fn agency_by_rules(
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
            let file = o.src.file.file_name().and_then(|f| f.to_str()).unwrap_or_default();
            if o.target == OverrideTarget::Local {
                let (agency, why) = self.unit_for(cat, region);
                reasons.push(format!(
                    "agency {agency}: {why}; '{word}' keeps it local ({file}:{}, rules 3-4)",
                    o.src.line
                ));
                return agency;
            }
            let c = &self.categories[cat];
            let agency = match (&o.target, region, &c.p) {
                (OverrideTarget::Agency(code), _, _) => code.clone(),
                (OverrideTarget::National, _, _) => c.n.clone(),
                (OverrideTarget::Province, Some(r), Some(p)) => {
                    format!("{}.{p}", self.wilayah.provinces[self.province_of(r)].code)
                }
                (OverrideTarget::Province | OverrideTarget::Local, _, _) => c.n.clone(),
            };
            reasons.push(format!(
                "agency {agency}: level override for '{word}' ({file}:{}, rule 3)",
                o.src.line
            ));
            return agency;
        }
        let (agency, why) = self.unit_for(cat, region);
        reasons.push(format!("agency {agency}: {why} (rule 4)"));
        agency
    }

    /// Rule 5: an office the citizen addresses, when it maps to an agency.
    pub(super) fn addressee(
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
                    PlaceKind::District(_) | PlaceKind::WeakDistrict(_) => None,
                });
            let local = a.local_start_toks.contains(&(end_tok + 1));
            if let Some(agency) = self.office_agency(o, own, local, region) {
                return Some((agency, format!("'{}'", &nt.s[ev.start..ev.end])));
            }
        }
        None
    }

    pub(super) fn office_agency(
        &self,
        o: usize,
        own: Option<Region>,
        local: bool,
        region: Option<Region>,
    ) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn handles_are_found() {
        let h: Vec<String> = handles("@PLN123 min, cc @KemensosRI. mail a@b.com").collect();
        assert_eq!(h, vec!["pln123", "kemensosri"]);
    }
}
