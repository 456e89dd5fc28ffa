//! Working-day arithmetic: Monday–Friday minus the calendar's days off,
//! counted in the agency's own time zone, deadlines at the end of the office
//! day.
//!
//! Counting rule (as LAPOR! and the regulations count "n hari kerja sejak
//! diterima"): the day a complaint arrives is day 0, whatever the hour; day 1
//! is the next working day *in the agency's zone*. A complaint routed at
//! 23:50 WIT on a Friday therefore has its first day on Monday, and one at
//! 00:30 WIT on a Tuesday (still Monday in UTC) counts from Tuesday. Every
//! search over days is bounded, so a hostile override file that closes every
//! day of the year gives an error instead of a hang.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use thiserror::Error;

use super::calendar::Calendar;
use super::zone::{province_of_agency, zone_of_agency, Zone};

/// Longest run of days off searched before giving up (a year and a bit).
const MAX_SEARCH_DAYS: u32 = 400;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum WorkdayError {
    #[error("no working day within {MAX_SEARCH_DAYS} days after {0} for {1}")]
    NoWorkingDay(NaiveDate, String),
}

/// Office hours, the same in every zone (local time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeHours {
    pub open: NaiveTime,
    pub close: NaiveTime,
    /// Friday's close (ASN work a longer Friday after the prayer break).
    pub friday_close: NaiveTime,
}

impl Default for OfficeHours {
    fn default() -> Self {
        OfficeHours {
            open: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            close: NaiveTime::from_hms_opt(16, 0, 0).unwrap_or_default(),
            friday_close: NaiveTime::from_hms_opt(16, 30, 0).unwrap_or_default(),
        }
    }
}

/// Where the clock runs: an agency, its province and zone.
#[derive(Debug, Clone)]
pub struct Place<'a> {
    pub agency: &'a str,
    pub province: Option<&'a str>,
    pub zone: Zone,
}

impl<'a> Place<'a> {
    pub fn of_agency(agency: &'a str) -> Place<'a> {
        Place {
            agency,
            province: province_of_agency(agency),
            zone: zone_of_agency(agency),
        }
    }
}

/// The calendar with office hours: everything deadlines are computed from.
#[derive(Debug, Clone, Default)]
pub struct WorkingTime {
    pub calendar: Calendar,
    pub hours: OfficeHours,
}

impl WorkingTime {
    pub fn new(calendar: Calendar, hours: OfficeHours) -> WorkingTime {
        WorkingTime { calendar, hours }
    }

    pub fn is_working_day(&self, date: NaiveDate, place: &Place) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
            && !self.calendar.is_listed_off(date, place.agency, place.province)
    }

    /// The local date of an instant in the place's zone.
    pub fn local_date(&self, at: DateTime<Utc>, place: &Place) -> NaiveDate {
        at.with_timezone(&place.zone.offset()).date_naive()
    }

    /// The first working day strictly after `date`.
    pub fn next_working_day(&self, date: NaiveDate, place: &Place) -> Result<NaiveDate, WorkdayError> {
        let mut d = date;
        for _ in 0..MAX_SEARCH_DAYS {
            d = d.succ_opt().ok_or_else(|| self.no_day(date, place))?;
            if self.is_working_day(d, place) {
                return Ok(d);
            }
        }
        Err(self.no_day(date, place))
    }

    /// The last working day strictly before `date`.
    fn prev_working_day(&self, date: NaiveDate, place: &Place) -> Result<NaiveDate, WorkdayError> {
        let mut d = date;
        for _ in 0..MAX_SEARCH_DAYS {
            d = d.pred_opt().ok_or_else(|| self.no_day(date, place))?;
            if self.is_working_day(d, place) {
                return Ok(d);
            }
        }
        Err(self.no_day(date, place))
    }

    fn no_day(&self, date: NaiveDate, place: &Place) -> WorkdayError {
        WorkdayError::NoWorkingDay(date, place.agency.to_string())
    }

    /// The UTC instant of a local time on a local date.
    fn instant(&self, date: NaiveDate, time: NaiveTime, place: &Place) -> DateTime<Utc> {
        // A fixed offset has exactly one mapping for every local time.
        let local = date.and_time(time);
        match place.zone.offset().from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
            _ => Utc.from_utc_datetime(&local),
        }
    }

    pub fn close_of(&self, date: NaiveDate, place: &Place) -> DateTime<Utc> {
        let t = if date.weekday() == Weekday::Fri {
            self.hours.friday_close
        } else {
            self.hours.close
        };
        self.instant(date, t, place)
    }

    pub fn open_of(&self, date: NaiveDate, place: &Place) -> DateTime<Utc> {
        self.instant(date, self.hours.open, place)
    }

    /// End of the office day of the `n`-th working day after `start`'s local
    /// date. `n = 0`: the end of `start`'s own office day when that is a
    /// working day and not over yet, else the next working day's.
    pub fn deadline(&self, start: DateTime<Utc>, n: u32, place: &Place) -> Result<DateTime<Utc>, WorkdayError> {
        let mut d = self.local_date(start, place);
        if n == 0 {
            if self.is_working_day(d, place) && self.close_of(d, place) >= start {
                return Ok(self.close_of(d, place));
            }
            return Ok(self.close_of(self.next_working_day(d, place)?, place));
        }
        for _ in 0..n {
            d = self.next_working_day(d, place)?;
        }
        Ok(self.close_of(d, place))
    }

    /// Start of the office day `k` working days before `deadline`'s local
    /// date (the reminder instant).
    pub fn working_days_before(
        &self,
        deadline: DateTime<Utc>,
        k: u32,
        place: &Place,
    ) -> Result<DateTime<Utc>, WorkdayError> {
        let mut d = self.local_date(deadline, place);
        for _ in 0..k {
            d = self.prev_working_day(d, place)?;
        }
        Ok(self.open_of(d, place))
    }

    /// Working days `d` with `from`'s local date < `d` ≤ `to`'s local date
    /// (what is left of a deadline when its clock is paused). Bounded by
    /// the span, which is at most a deadline's length.
    pub fn working_days_between(&self, from: DateTime<Utc>, to: DateTime<Utc>, place: &Place) -> u32 {
        let (mut d, end) = (self.local_date(from, place), self.local_date(to, place));
        let mut n = 0;
        while d < end {
            match d.succ_opt() {
                Some(next) => d = next,
                None => break,
            }
            if self.is_working_day(d, place) {
                n += 1;
            }
        }
        n
    }

    /// End of the office day `days` calendar days after `start`'s local
    /// date, or of the next working day when that day is off.
    pub fn calendar_deadline(
        &self,
        start: DateTime<Utc>,
        days: u32,
        place: &Place,
    ) -> Result<DateTime<Utc>, WorkdayError> {
        let d = self.local_date(start, place) + Duration::days(i64::from(days));
        if self.is_working_day(d, place) {
            Ok(self.close_of(d, place))
        } else {
            Ok(self.close_of(self.next_working_day(d, place)?, place))
        }
    }
}

#[cfg(test)]
#[path = "workdays_tests.rs"]
mod tests;
