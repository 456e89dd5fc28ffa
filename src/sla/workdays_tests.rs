//! Working-day edge cases on the real national calendar, by table.

use chrono::{DateTime, Utc};

use crate::sla::calendar::Calendar;
use crate::sla::workdays::{OfficeHours, Place, WorkingTime};

const NATIONAL: &str = include_str!("../../config/calendar/national.toml");

fn wt() -> WorkingTime {
    WorkingTime::new(Calendar::from_strs(NATIONAL, None).unwrap(), OfficeHours::default())
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn the_shipped_calendar_loads_and_warns_only_about_2027() {
    let cal = Calendar::from_strs(NATIONAL, None).unwrap();
    assert!(cal.days().len() > 60);
    let w = cal.warnings(&[2025, 2026, 2027, 2028]);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("2027") && w[0].contains("provisional"), "{w:?}");
    assert!(w[1].contains("2028"), "{w:?}");
}

#[test]
fn deadlines_by_table() {
    let w = wt();
    // (case, agency, start, working days, deadline)
    let cases = [
        // Lebaran 2025: Fri 28 Mar (cuti Nyepi) to Mon 7 Apr are all off.
        (
            "Lebaran 2025, routed the Thursday before",
            "3171.dinkes",
            "2025-03-27T10:00:00+07:00",
            3,
            "2025-04-10T16:00:00+07:00",
        ),
        (
            "Lebaran 2025, 5 days",
            "3171.dinkes",
            "2025-03-27T10:00:00+07:00",
            5,
            "2025-04-14T16:00:00+07:00",
        ),
        (
            "Lebaran 2025, routed during the cuti bersama week",
            "3171.dinkes",
            "2025-04-03T09:00:00+07:00",
            1,
            "2025-04-08T16:00:00+07:00",
        ),
        // Lebaran 2026: Wed 18 Mar to Tue 24 Mar off (Nyepi, cuti, Idul Fitri on a weekend).
        (
            "Lebaran 2026, ends on a Friday (longer office day)",
            "3273.dinkes",
            "2026-03-17T11:00:00+07:00",
            3,
            "2026-03-27T16:30:00+07:00",
        ),
        // Long weekend: Ascension Thu 29 May 2025, cuti Fri 30 May, Pancasila Sun 1 Jun.
        (
            "Ascension long weekend, Makassar (WITA)",
            "7371.dinkes",
            "2025-05-28T14:00:00+08:00",
            1,
            "2025-06-02T16:00:00+08:00",
        ),
        (
            "Idul Adha 2025 with the added cuti bersama (Mon 9 Jun)",
            "kemenkes",
            "2025-06-05T09:00:00+07:00",
            1,
            "2025-06-10T16:00:00+07:00",
        ),
        (
            "HUT RI 80: Sun 17 Aug and cuti Mon 18 Aug 2025",
            "3171.dinkes",
            "2025-08-15T15:00:00+07:00",
            1,
            "2025-08-19T16:00:00+07:00",
        ),
        // 23:50 WIT on a Friday: the day itself is day 0, Monday is day 1,
        // and the deadline is 16:00 WIT (07:00 UTC), not 16:00 WIB.
        (
            "23:50 WIT on a Friday, Jayapura",
            "9471.dinkes",
            "2025-11-14T23:50:00+09:00",
            3,
            "2025-11-19T16:00:00+09:00",
        ),
        // 00:30 WIT on Tuesday is Monday 15:30 in UTC: counted from Tuesday.
        (
            "just after midnight WIT, a day later than in UTC",
            "9471.dinkes",
            "2025-11-18T00:30:00+09:00",
            1,
            "2025-11-19T16:00:00+09:00",
        ),
        (
            "same instant in WIB is still Monday",
            "3171.dinkes",
            "2025-11-18T00:30:00+09:00",
            1,
            "2025-11-18T16:00:00+07:00",
        ),
        (
            "Christmas 2026: cuti Thu 24, Natal Fri 25 Dec",
            "3171.dinkes",
            "2026-12-23T08:00:00+07:00",
            1,
            "2026-12-28T16:00:00+07:00",
        ),
        (
            "n = 0 before the close: the same day",
            "3171.dinkes",
            "2025-11-12T10:00:00+07:00",
            0,
            "2025-11-12T16:00:00+07:00",
        ),
        (
            "n = 0 after the close on a Friday: Monday",
            "3171.dinkes",
            "2025-11-14T17:00:00+07:00",
            0,
            "2025-11-17T16:00:00+07:00",
        ),
    ];
    for (case, agency, start, n, want) in cases {
        let got = w.deadline(t(start), n, &Place::of_agency(agency)).unwrap();
        assert_eq!(got, t(want), "{case}");
    }
}

#[test]
fn reminders_pauses_and_outer_bound() {
    let w = wt();
    let jkt = Place::of_agency("3171.dinkes");
    // One working day before Thu 10 Apr 2025 is Wed 9 Apr, at the office's opening.
    let r = w.working_days_before(t("2025-04-10T16:00:00+07:00"), 1, &jkt).unwrap();
    assert_eq!(r, t("2025-04-09T08:00:00+07:00"));
    // One working day before Tue 8 Apr 2025 jumps over the whole Lebaran break.
    let r = w.working_days_before(t("2025-04-08T16:00:00+07:00"), 1, &jkt).unwrap();
    assert_eq!(r, t("2025-03-27T08:00:00+07:00"));
    // Paused on Thu 27 Mar with the deadline on Thu 10 Apr: three working days remain.
    assert_eq!(
        w.working_days_between(t("2025-03-27T12:00:00+07:00"), t("2025-04-10T16:00:00+07:00"), &jkt),
        3
    );
    // 60 days after Thu 30 Jan 2025 is Mon 31 Mar 2025 (Idul Fitri): next working day.
    let o = w.calendar_deadline(t("2025-01-30T10:00:00+07:00"), 60, &jkt).unwrap();
    assert_eq!(o, t("2025-04-08T16:00:00+07:00"));
}

#[test]
fn a_calendar_with_no_working_day_is_an_error_not_a_hang() {
    let mut over = String::new();
    let mut d = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    for _ in 0..800 {
        over.push_str(&format!(
            "[[day]]\ndate = \"{d}\"\nkind = \"closure\"\nname = \"tutup\"\n"
        ));
        d = d.succ_opt().unwrap();
    }
    let w = WorkingTime::new(
        Calendar::from_strs(NATIONAL, Some(&over)).unwrap(),
        OfficeHours::default(),
    );
    let e = w.deadline(t("2025-01-02T10:00:00+07:00"), 3, &Place::of_agency("kemenkes"));
    assert!(e.is_err());
}
