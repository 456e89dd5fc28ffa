//! Indonesia's three time zones, chosen by the province code of the agency.
//!
//! Indonesia has no daylight saving time, so a fixed UTC offset per zone is
//! exact and no time-zone database is needed. The province is the first two
//! digits of a regional agency code (`3171.dinkes` → 31, DKI Jakarta); a
//! national agency (`kemenkes`) keeps office hours in Jakarta (WIB).

use chrono::FixedOffset;

/// WIB (UTC+7), WITA (UTC+8) or WIT (UTC+9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Wib,
    Wita,
    Wit,
}

impl Zone {
    pub fn offset(self) -> FixedOffset {
        let hours = match self {
            Zone::Wib => 7,
            Zone::Wita => 8,
            Zone::Wit => 9,
        };
        // A constant of 7–9 hours, always within chrono's ±24 h: not an input.
        FixedOffset::east_opt(hours * 3600).expect("offset within a day")
    }

    pub fn name(self) -> &'static str {
        match self {
            Zone::Wib => "WIB",
            Zone::Wita => "WITA",
            Zone::Wit => "WIT",
        }
    }

    /// The zone of a BPS province code (`"94"` → WIT). Unknown codes are
    /// `None`, so a caller can say which agency it could not place.
    pub fn of_province(code: &str) -> Option<Zone> {
        let n: u8 = code.parse().ok()?;
        Some(match n {
            // Sumatra, Java, West and Central Kalimantan.
            11..=19 | 31..=36 | 61 | 62 => Zone::Wib,
            // Bali, Nusa Tenggara, South/East/North Kalimantan, Sulawesi.
            51..=53 | 63..=65 | 71..=76 => Zone::Wita,
            // Maluku, North Maluku, and every Papua province (91–97, the
            // 2022 provinces included although the 2018 BPS table predates them).
            81 | 82 | 91..=97 => Zone::Wit,
            _ => return None,
        })
    }
}

/// The province code of an agency code: its leading two digits when it is
/// a regional code (`3171.dinkes`, `35.dinkes`), else `None` (national).
pub fn province_of_agency(agency: &str) -> Option<&str> {
    let head = agency.split('.').next().unwrap_or("");
    if head.len() >= 2 && head.bytes().all(|b| b.is_ascii_digit()) {
        head.get(..2)
    } else {
        None
    }
}

/// The regency (kabupaten/kota) code of an agency code, when it has one.
pub fn regency_of_agency(agency: &str) -> Option<&str> {
    let head = agency.split('.').next().unwrap_or("");
    if head.len() >= 4 && head.bytes().all(|b| b.is_ascii_digit()) {
        head.get(..4)
    } else {
        None
    }
}

/// The zone an agency keeps office hours in: by province, WIB for national
/// agencies and for codes whose province is not known.
pub fn zone_of_agency(agency: &str) -> Zone {
    province_of_agency(agency)
        .and_then(Zone::of_province)
        .unwrap_or(Zone::Wib)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_by_province_code() {
        let cases = [
            ("3171.dinkes", Zone::Wib, Some("31")),
            ("1371.disdik", Zone::Wib, Some("13")),
            ("6171.dinkes", Zone::Wib, Some("61")),
            ("5171.dinkes", Zone::Wita, Some("51")),
            ("7371.pu", Zone::Wita, Some("73")),
            ("6471.dinkes", Zone::Wita, Some("64")),
            ("9471.dinkes", Zone::Wit, Some("94")),
            ("81.dinkes", Zone::Wit, Some("81")),
            ("kemenkes", Zone::Wib, None),
            ("x9.dinkes", Zone::Wib, None),
            ("", Zone::Wib, None),
        ];
        for (agency, zone, province) in cases {
            assert_eq!(zone_of_agency(agency), zone, "{agency}");
            assert_eq!(province_of_agency(agency), province, "{agency}");
        }
        assert_eq!(Zone::Wit.offset().local_minus_utc(), 9 * 3600);
        assert_eq!(Zone::of_province("99"), None);
        assert_eq!(regency_of_agency("3171.dinkes"), Some("3171"));
        assert_eq!(regency_of_agency("31.dinkes"), None);
    }
}
