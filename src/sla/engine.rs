//! The clock without the broker: stage events in, due events out, over the
//! durable index, with the time from an injectable [`Clock`].

use std::path::Path;
use std::sync::Arc;

use thiserror::Error;
use tracing::debug;

use super::aggregate::Bump;
use super::calendar::{Calendar, CalendarError};
use super::clock::Clock;
use super::config::SlaConfig;
use super::config::Stage;
use super::deadlines::{ClockRecord, Outcome, Planner, TimerKind};
use super::escalate::events_for;
use super::event::{SlaEvent, StageEvent, StageKind};
use super::index::{DueTimer, IndexError, SlaIndex};
use super::workdays::{WorkdayError, WorkingTime};

#[derive(Debug, Error)]
pub enum SlaError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Workday(#[from] WorkdayError),
    #[error("`{0}`: {1}")]
    Config(String, String),
}

/// What a transition adds to the policy aggregate.
fn bumps_for(old: Option<&ClockRecord>, ev: &StageEvent, outcome: &Outcome) -> Vec<Bump> {
    let Outcome::Put(new) = outcome else {
        return Vec::new();
    };
    let mut b = Vec::new();
    if old.is_none() {
        b.push(Bump::Received);
    }
    if matches!(ev.kind, StageKind::Dispositioned | StageKind::Reopened) {
        b.push(Bump::Dispositioned);
    }
    if ev.kind == StageKind::FollowedUp && old.is_some_and(|o| o.first_follow_up_ms.is_none()) {
        let hours = (ev.at.timestamp_millis() - new.first_ms) / 3_600_000;
        b.push(Bump::FollowedUp { hours });
    }
    b
}

/// Most timers handled in one pass of a tick (the pass repeats until none
/// are due), so one tick's memory is bounded.
pub const BATCH: usize = 4096;

#[derive(Debug, Clone)]
pub struct Engine {
    pub planner: Arc<Planner>,
    pub index: SlaIndex,
    pub clock: Arc<dyn Clock>,
}

/// A due timer with what it announces.
#[derive(Debug, Clone)]
pub struct Firing {
    pub due: DueTimer,
    pub events: Vec<SlaEvent>,
}

impl Engine {
    /// Calendar and policy from the config files (`base` = config directory).
    pub fn load_planner(cfg: &SlaConfig, base: &Path) -> Result<Planner, SlaError> {
        cfg.validate().map_err(|(k, r)| SlaError::Config(k, r))?;
        let hours = cfg.office_hours().map_err(|(k, r)| SlaError::Config(k, r))?;
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        let overrides = resolve(&cfg.overrides);
        let calendar = Calendar::load(
            &resolve(&cfg.calendar),
            overrides.exists().then_some(overrides.as_path()),
        )?;
        Ok(Planner::new(cfg.clone(), WorkingTime::new(calendar, hours)))
    }

    pub fn new(planner: Planner, index: SlaIndex, clock: Arc<dyn Clock>) -> Engine {
        Engine {
            planner: Arc::new(planner),
            index,
            clock,
        }
    }

    /// Apply one stage event durably; returns what was decided.
    pub fn on_stage(&self, ev: &StageEvent) -> Result<Outcome, SlaError> {
        let old = self.index.get(&ev.complaint)?;
        let outcome = self.planner.apply(old.as_ref(), ev)?;
        if let Outcome::Ignore(why) = &outcome {
            debug!(complaint = %ev.complaint, kind = ev.kind.as_str(), why, "stage event ignored");
        }
        let bumps = bumps_for(old.as_ref(), ev, &outcome);
        self.index.store(&ev.complaint, old.as_ref(), &outcome, &bumps)?;
        Ok(outcome)
    }

    /// Timers due now (at most [`BATCH`]) with their events. A timer whose
    /// clock is gone is dropped here.
    pub fn due_now(&self) -> Result<Vec<Firing>, SlaError> {
        let now = self.clock.now().timestamp_millis();
        let mut out = Vec::new();
        for due in self.index.due_until(now, BATCH)? {
            match self.index.get(&due.id)? {
                Some(r) if r.timers.contains(&due.timer) => {
                    let events = events_for(&self.planner.cfg, &due, &r);
                    out.push(Firing { due, events });
                }
                _ => self.index.drop_timer(&due)?,
            }
        }
        Ok(out)
    }

    /// The firing's events were confirmed: remove its timer, mark overdue.
    pub fn fired(&self, f: &Firing) -> Result<(), SlaError> {
        let is_due = f.due.timer.kind == TimerKind::Due;
        let at = f.due.timer.at_ms;
        self.index.complete(&f.due, |r: &mut ClockRecord| {
            if is_due && r.overdue_since.is_none() {
                r.overdue_since = Some(at);
                // The citizen's silence is not the agency's overdue.
                return (r.stage != Stage::CitizenReply).then_some(Bump::Overdue);
            }
            None
        })?;
        Ok(())
    }

    /// Fire everything due without a broker (benchmarks, `pintu status`
    /// dry runs): returns how many events would have been sent.
    pub fn fire_all_due(&self) -> Result<usize, SlaError> {
        let mut n = 0;
        loop {
            let batch = self.due_now()?;
            if batch.is_empty() {
                return Ok(n);
            }
            for f in &batch {
                n += f.events.len();
                self.fired(f)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::sla::clock::ManualClock;
    use crate::sla::event::SlaKind;
    use crate::sla::workdays::OfficeHours;

    const NATIONAL: &str = include_str!("../../config/calendar/national.toml");

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn engine(dir: &Path, clock: Arc<ManualClock>) -> Engine {
        let wt = WorkingTime::new(Calendar::from_strs(NATIONAL, None).unwrap(), OfficeHours::default());
        // sled lets go of its directory lock only when its background
        // flusher has stopped, a moment after the last handle is dropped:
        // reopening at once (the restart below) may find it still held.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let index = loop {
            match SlaIndex::open(dir) {
                Ok(i) => break i,
                Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => panic!("{e}"),
            }
        };
        Engine::new(Planner::new(SlaConfig::default(), wt), index, clock)
    }

    fn fire(e: &Engine) -> Vec<SlaKind> {
        let mut kinds = Vec::new();
        for f in e.due_now().unwrap() {
            kinds.extend(f.events.iter().map(|x| x.kind));
            e.fired(&f).unwrap();
        }
        kinds
    }

    #[test]
    fn timers_fire_in_order_once_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(t("2025-03-27T10:00:00+07:00")));
        let e = engine(dir.path(), clock.clone());
        e.on_stage(&StageEvent {
            complaint: "01JA".into(),
            agency: "3171.dinkes".into(),
            kind: StageKind::Dispositioned,
            at: clock.now(),
            report_type: None,
            category: None,
            region: None,
            channel: None,
        })
        .unwrap();
        // Over Lebaran nothing is due.
        clock.set(t("2025-04-10T23:00:00+07:00"));
        assert!(fire(&e).is_empty());
        clock.set(t("2025-04-11T08:00:00+07:00"));
        assert_eq!(fire(&e), [SlaKind::Reminder]);
        assert!(fire(&e).is_empty(), "a fired timer fires once");
        clock.set(t("2025-04-14T15:59:59+07:00"));
        assert!(fire(&e).is_empty());
        drop(e);
        // Reopened (a restart): nothing lost, nothing repeated.
        let e = engine(dir.path(), clock.clone());
        clock.set(t("2025-04-14T16:00:00+07:00"));
        assert_eq!(fire(&e), [SlaKind::Overdue, SlaKind::Escalation]);
        assert!(e.index.get("01JA").unwrap().unwrap().is_overdue());
        clock.advance(Duration::days(30));
        assert_eq!(fire(&e), [SlaKind::Escalation]);
        clock.advance(Duration::days(60));
        assert_eq!(fire(&e), [SlaKind::OuterBound]);
        assert_eq!(e.index.pending_timers(), 0);
    }

    #[test]
    fn load_planner_names_the_bad_file_and_entry() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("national.toml"), NATIONAL).unwrap();
        std::fs::write(
            dir.path().join("overrides.toml"),
            "[[day]]\ndate = \"2025-02-29\"\nkind = \"closure\"\nname = \"Tutup\"\n",
        )
        .unwrap();
        let cfg = SlaConfig {
            calendar: "national.toml".into(),
            overrides: "overrides.toml".into(),
            ..SlaConfig::default()
        };
        let e = Engine::load_planner(&cfg, dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("overrides.toml") && e.contains("day 1 (Tutup)") && e.contains("2025-02-29"),
            "{e}"
        );
        // A missing override file is no overrides; a missing national file is an error.
        std::fs::remove_file(dir.path().join("overrides.toml")).unwrap();
        assert!(Engine::load_planner(&cfg, dir.path()).is_ok());
        std::fs::remove_file(dir.path().join("national.toml")).unwrap();
        assert!(Engine::load_planner(&cfg, dir.path())
            .unwrap_err()
            .to_string()
            .contains("national.toml"));
    }
}
