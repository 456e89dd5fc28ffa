//! The working-day calendar as data: national public holidays and *cuti
//! bersama* (`config/calendar/national.toml`, each day naming the decree it
//! comes from) plus an operator's override file (regional holidays, office
//! closures, a national day an office works after all).
//!
//! Both files are validated on load — a date that is not a calendar date, a
//! day listed twice for the same scope, an unknown kind or decree — and every
//! error names the file and the entry, because `pintu check` shows it to an
//! operator. Lookups are hash-set probes; the arithmetic is in
//! [`super::workdays`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CalendarError {
    #[error("{file}: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {source}")]
    Parse {
        file: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{file}: day {index} ({name}): {reason}")]
    Entry {
        file: PathBuf,
        index: usize,
        name: String,
        reason: String,
    },
}

/// What a listed day is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// Hari libur nasional (national public holiday).
    NationalHoliday,
    /// Cuti bersama (joint leave day decreed with the holidays).
    JointLeave,
    /// A holiday of one province or regency (override file only).
    RegionalHoliday,
    /// An office closure (override file only).
    Closure,
    /// A listed day on which the scoped offices work after all (override
    /// file only), e.g. a service that stays open during cuti bersama.
    WorkingDay,
}

impl DayKind {
    fn national(self) -> bool {
        matches!(self, DayKind::NationalHoliday | DayKind::JointLeave)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DayEntry {
    date: String,
    kind: DayKind,
    name: String,
    /// Key of `[decrees.*]` (national file) or a free-text reason (overrides).
    #[serde(default)]
    decree: Option<String>,
    /// An expected date not yet fixed by decree (kept so deadlines are not
    /// wrong by a whole Lebaran week; `pintu check` warns about them).
    #[serde(default)]
    provisional: bool,
    #[serde(default)]
    note: Option<String>,
    /// Override file: province codes (`"51"`) the day applies to.
    #[serde(default)]
    provinces: Vec<String>,
    /// Override file: agency codes or prefixes (`"3171"` covers `3171.dinkes`).
    #[serde(default)]
    agencies: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decree {
    title: String,
    #[serde(default)]
    signed: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

impl Decree {
    fn describe(&self) -> String {
        let mut s = self.title.clone();
        if let Some(d) = &self.signed {
            s.push_str(&format!(" (signed {d})"));
        }
        if let Some(n) = &self.note {
            s.push_str(&format!(" [{n}]"));
        }
        s
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    #[serde(default)]
    decrees: BTreeMap<String, Decree>,
    #[serde(default)]
    day: Vec<DayEntry>,
}

/// Where an override applies.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    Everywhere,
    Provinces(Vec<String>),
    Agencies(Vec<String>),
}

impl Scope {
    fn covers(&self, agency: &str, province: Option<&str>) -> bool {
        match self {
            Scope::Everywhere => true,
            Scope::Provinces(p) => province.is_some_and(|x| p.iter().any(|c| c == x)),
            Scope::Agencies(a) => a.iter().any(|c| {
                agency == c || (agency.starts_with(c.as_str()) && agency.as_bytes().get(c.len()) == Some(&b'.'))
            }),
        }
    }
}

/// One listed day, as kept after validation.
#[derive(Debug, Clone)]
pub struct ListedDay {
    pub date: NaiveDate,
    pub kind: DayKind,
    pub name: String,
    pub provisional: bool,
    /// The decree's title (national file) or the operator's reason.
    pub source: Option<String>,
    pub note: Option<String>,
}

/// The validated calendar: national days and scoped overrides.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    national: HashSet<NaiveDate>,
    days: Vec<ListedDay>,
    /// Scoped overrides by date (few per date).
    overrides: HashMap<NaiveDate, Vec<(DayKind, Scope)>>,
    /// Years with at least one decreed (not provisional) national day.
    decreed_years: HashSet<i32>,
}

impl Calendar {
    /// Load the national file and, when it exists, the override file.
    pub fn load(national: &Path, overrides: Option<&Path>) -> Result<Calendar, CalendarError> {
        let mut cal = Calendar::default();
        cal.add_file(national, &read(national)?, false)?;
        if let Some(o) = overrides {
            cal.add_file(o, &read(o)?, true)?;
        }
        Ok(cal)
    }

    /// From texts (tests and `pintu check` of files given inline).
    pub fn from_strs(national: &str, overrides: Option<&str>) -> Result<Calendar, CalendarError> {
        let mut cal = Calendar::default();
        cal.add_file(Path::new("national"), national, false)?;
        if let Some(o) = overrides {
            cal.add_file(Path::new("overrides"), o, true)?;
        }
        Ok(cal)
    }

    fn add_file(&mut self, file: &Path, text: &str, is_override: bool) -> Result<(), CalendarError> {
        let parsed: CalendarFile = toml::from_str(text).map_err(|source| CalendarError::Parse {
            file: file.to_path_buf(),
            source,
        })?;
        // Date + scope already seen in this file, for the duplicate check.
        let mut seen: HashMap<(NaiveDate, String), usize> = HashMap::new();
        for (i, e) in parsed.day.iter().enumerate() {
            let index = i + 1;
            let err = |reason: String| CalendarError::Entry {
                file: file.to_path_buf(),
                index,
                name: e.name.clone(),
                reason,
            };
            let date = NaiveDate::parse_from_str(&e.date, "%Y-%m-%d")
                .map_err(|x| err(format!("date `{}` is not a calendar date (YYYY-MM-DD): {x}", e.date)))?;
            if !(2000..=2100).contains(&date.year()) {
                return Err(err(format!("date `{}` is outside 2000–2100", e.date)));
            }
            if e.name.trim().is_empty() {
                return Err(err("has no name".into()));
            }
            let scope = match (e.provinces.is_empty(), e.agencies.is_empty()) {
                (true, true) => Scope::Everywhere,
                (false, true) => {
                    if let Some(bad) = e.provinces.iter().find(|p| super::zone::Zone::of_province(p).is_none()) {
                        return Err(err(format!("`{bad}` is not a province code")));
                    }
                    Scope::Provinces(e.provinces.clone())
                }
                (true, false) => {
                    if let Some(bad) = e
                        .agencies
                        .iter()
                        .find(|a| a.is_empty() || a.contains(char::is_whitespace))
                    {
                        return Err(err(format!("`{bad}` is not an agency code")));
                    }
                    Scope::Agencies(e.agencies.clone())
                }
                (false, false) => return Err(err("give provinces or agencies, not both".into())),
            };
            if is_override {
                if e.kind.national() {
                    return Err(err(format!(
                        "kind {:?} belongs in the national file; overrides are regional_holiday, closure or working_day",
                        e.kind
                    )));
                }
                if e.kind == DayKind::RegionalHoliday && scope == Scope::Everywhere {
                    return Err(err("a regional_holiday needs provinces or agencies".into()));
                }
            } else {
                if !e.kind.national() {
                    return Err(err(format!(
                        "kind {:?} belongs in the override file; the national file lists national_holiday and joint_leave",
                        e.kind
                    )));
                }
                if scope != Scope::Everywhere {
                    return Err(err(
                        "national days apply everywhere (scopes belong in the override file)".into(),
                    ));
                }
                match &e.decree {
                    Some(d) if parsed.decrees.contains_key(d) => {}
                    Some(d) => return Err(err(format!("decree `{d}` is not listed under [decrees]"))),
                    None if e.provisional => {}
                    None => return Err(err("names no decree (or mark it provisional = true)".into())),
                }
            }
            let scope_key = format!("{scope:?}");
            if let Some(first) = seen.insert((date, scope_key), index) {
                return Err(err(format!("{} is listed twice (also day {first})", e.date)));
            }
            if is_override {
                self.overrides.entry(date).or_default().push((e.kind, scope));
            } else {
                if self.national.contains(&date) {
                    return Err(err(format!("{} is already a national day", e.date)));
                }
                self.national.insert(date);
                if !e.provisional {
                    self.decreed_years.insert(date.year());
                }
            }
            self.days.push(ListedDay {
                date,
                kind: e.kind,
                name: e.name.clone(),
                provisional: e.provisional,
                source: match &e.decree {
                    Some(d) => Some(parsed.decrees.get(d).map_or_else(|| d.clone(), Decree::describe)),
                    None => None,
                },
                note: e.note.clone(),
            });
        }
        Ok(())
    }

    /// Is `date` a day off for `agency` (in `province`)? Weekends are not
    /// this function's business; see [`super::workdays`].
    pub fn is_listed_off(&self, date: NaiveDate, agency: &str, province: Option<&str>) -> bool {
        let mut off = self.national.contains(&date);
        if let Some(list) = self.overrides.get(&date) {
            for (kind, scope) in list {
                if scope.covers(agency, province) {
                    match kind {
                        DayKind::WorkingDay => return false,
                        _ => off = true,
                    }
                }
            }
        }
        off
    }

    pub fn days(&self) -> &[ListedDay] {
        &self.days
    }

    /// Warnings for `pintu check`: years without decreed days, provisional days.
    pub fn warnings(&self, years: &[i32]) -> Vec<String> {
        let mut w = Vec::new();
        for y in years {
            let provisional = self
                .days
                .iter()
                .filter(|d| d.provisional && d.date.year() == *y)
                .count();
            if provisional > 0 {
                w.push(format!(
                    "calendar: {y} has {provisional} provisional (not decreed) national days; replace them with the year's SKB when it is decreed"
                ));
            } else if !self.decreed_years.contains(y) {
                w.push(format!(
                    "calendar: no national holidays listed for {y}; deadlines count only weekends"
                ));
            }
        }
        w
    }
}

fn read(p: &Path) -> Result<String, CalendarError> {
    std::fs::read_to_string(p).map_err(|source| CalendarError::Read {
        file: p.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NATIONAL: &str = r#"
[decrees.skb]
title = "SKB"
[[day]]
date = "2025-12-25"
kind = "national_holiday"
name = "Natal"
decree = "skb"
"#;

    fn err_of(national: &str, overrides: Option<&str>) -> String {
        match Calendar::from_strs(national, overrides) {
            Ok(_) => panic!("accepted: {national} {overrides:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_files_are_refused_with_the_entry_named() {
        let entry = |date: &str, kind: &str, extra: &str| {
            format!("{NATIONAL}\n[[day]]\ndate = \"{date}\"\nkind = \"{kind}\"\nname = \"X\"\n{extra}\n")
        };
        let cases = [
            (
                entry("2025-02-30", "national_holiday", "decree = \"skb\""),
                "not a calendar date",
            ),
            (
                entry("25-12-2025", "national_holiday", "decree = \"skb\""),
                "not a calendar date",
            ),
            (
                entry("2025-12-25", "national_holiday", "decree = \"skb\""),
                "listed twice",
            ),
            (entry("2025-12-26", "holiday", "decree = \"skb\""), "unknown variant"),
            (
                entry("2025-12-26", "joint_leave", "decree = \"skb-1999\""),
                "not listed under [decrees]",
            ),
            (entry("2025-12-26", "joint_leave", ""), "names no decree"),
            (
                entry("2025-12-26", "closure", "decree = \"skb\""),
                "belongs in the override file",
            ),
            (
                entry("2025-12-26", "joint_leave", "decree = \"skb\"\nprovinces = [\"51\"]"),
                "apply everywhere",
            ),
            (
                entry("2025-12-26", "joint_leave", "decree = \"skb\"\ncolour = 1"),
                "unknown field",
            ),
        ];
        for (text, want) in cases {
            let e = err_of(&text, None);
            assert!(e.contains(want), "{e} should say {want}");
        }
        let e = err_of(&entry("2025-02-30", "national_holiday", "decree = \"skb\""), None);
        assert!(e.contains("day 2 (X)"), "{e}");
        let over = |body: &str| format!("[[day]]\ndate = \"2025-06-02\"\nname = \"Y\"\n{body}\n");
        for (body, want) in [
            ("kind = \"regional_holiday\"", "needs provinces or agencies"),
            ("kind = \"national_holiday\"", "belongs in the national file"),
            ("kind = \"closure\"\nprovinces = [\"99\"]", "not a province code"),
            (
                "kind = \"closure\"\nprovinces = [\"51\"]\nagencies = [\"5171\"]",
                "not both",
            ),
        ] {
            let e = err_of(NATIONAL, Some(&over(body)));
            assert!(e.contains(want), "{e} should say {want}");
        }
        let twice = format!("{}{}", over("kind = \"closure\""), over("kind = \"closure\""));
        assert!(err_of(NATIONAL, Some(&twice)).contains("listed twice"));
        // Same date, different scopes: fine.
        let two_scopes = format!(
            "{}{}",
            over("kind = \"closure\"\nprovinces = [\"51\"]"),
            over("kind = \"closure\"\nprovinces = [\"52\"]")
        );
        assert!(Calendar::from_strs(NATIONAL, Some(&two_scopes)).is_ok());
    }

    #[test]
    fn overrides_apply_to_their_scope_only() {
        let over = r#"
[[day]]
date = "2025-11-19"
kind = "regional_holiday"
name = "Galungan"
provinces = ["51"]
[[day]]
date = "2025-06-03"
kind = "closure"
name = "Pindah kantor"
agencies = ["3171"]
[[day]]
date = "2025-12-25"
kind = "working_day"
name = "Posko Natal"
agencies = ["polri"]
"#;
        let cal = Calendar::from_strs(NATIONAL, Some(over)).unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(cal.is_listed_off(d("2025-11-19"), "5171.dinkes", Some("51")));
        assert!(!cal.is_listed_off(d("2025-11-19"), "5271.dinkes", Some("52")));
        assert!(cal.is_listed_off(d("2025-06-03"), "3171.dinkes", Some("31")));
        assert!(!cal.is_listed_off(d("2025-06-03"), "31710.x", Some("31")));
        assert!(!cal.is_listed_off(d("2025-06-03"), "3172.dinkes", Some("31")));
        assert!(cal.is_listed_off(d("2025-12-25"), "kemenkes", None));
        assert!(!cal.is_listed_off(d("2025-12-25"), "polri", None));
    }
}
