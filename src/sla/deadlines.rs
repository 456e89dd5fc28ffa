//! A complaint's clock and how stage events move it: pure functions from
//! (record, event, policy, calendar) to the new record and its timers, so the
//! rules are tested without sled or a broker.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::config::{SlaConfig, Stage};
use super::event::{StageEvent, StageKind};
use super::workdays::{Place, WorkdayError, WorkingTime};

/// One pending instant of a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    pub at_ms: i64,
    pub kind: TimerKind,
    pub level: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerKind {
    Remind,
    Due,
    Escalate,
    Outer,
}

impl TimerKind {
    pub fn tag(self) -> u8 {
        match self {
            TimerKind::Remind => 1,
            TimerKind::Due => 2,
            TimerKind::Escalate => 3,
            TimerKind::Outer => 4,
        }
    }
    pub fn from_tag(t: u8) -> Option<TimerKind> {
        Some(match t {
            1 => TimerKind::Remind,
            2 => TimerKind::Due,
            3 => TimerKind::Escalate,
            4 => TimerKind::Outer,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paused {
    pub at_ms: i64,
    /// Working days that were left when the clock stopped.
    pub remaining: u32,
}

/// A complaint's clock, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockRecord {
    pub agency: String,
    pub report_type: Option<String>,
    pub category: Option<String>,
    pub region: Option<String>,
    pub channel: Option<String>,
    pub stage: Stage,
    /// Generation: bumped at every (re)start, part of every event id.
    pub seq: u32,
    pub first_ms: i64,
    pub started_ms: i64,
    pub due_ms: i64,
    pub outer_ms: i64,
    /// Time of the last event applied (older events are stale).
    pub last_ms: i64,
    pub paused: Option<Paused>,
    /// Set when the stage's deadline passed.
    pub overdue_since: Option<i64>,
    pub first_follow_up_ms: Option<i64>,
    /// Timers of this generation already fired (kind tag, level).
    pub fired: Vec<(u8, u8)>,
    /// Timers pending in the index.
    pub timers: Vec<Timer>,
}

impl ClockRecord {
    /// Counted as overdue for the agency (the citizen's silence is not).
    pub fn is_overdue(&self) -> bool {
        self.overdue_since.is_some() && self.stage != Stage::CitizenReply
    }
}

pub fn to_utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// What applying an event does.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Store this record (its timers replace the old ones).
    Put(Box<ClockRecord>),
    /// Remove the clock.
    Remove,
    /// Nothing changes (duplicate, stale, or not applicable), with why.
    Ignore(&'static str),
}

/// The policy and calendar together.
#[derive(Debug, Clone)]
pub struct Planner {
    pub cfg: SlaConfig,
    pub time: WorkingTime,
}

impl Planner {
    pub fn new(cfg: SlaConfig, time: WorkingTime) -> Planner {
        Planner { cfg, time }
    }

    /// The next state of a complaint's clock after `ev`.
    pub fn apply(&self, old: Option<&ClockRecord>, ev: &StageEvent) -> Result<Outcome, WorkdayError> {
        let at = ev.at.timestamp_millis();
        if let Some(o) = old {
            if at < o.last_ms {
                return Ok(Outcome::Ignore("stale event"));
            }
        }
        let place = Place::of_agency(&ev.agency);
        match (ev.kind, old) {
            (StageKind::Dispositioned, Some(o)) if o.agency == ev.agency => {
                Ok(Outcome::Ignore("already with this agency"))
            }
            (StageKind::Dispositioned, _) | (StageKind::Reopened, _) => {
                let stage = if ev.agency == "triage" {
                    Stage::Verify
                } else {
                    Stage::FollowUp
                };
                let keep_outer = ev.kind == StageKind::Dispositioned;
                let first_ms = match old {
                    Some(o) if keep_outer => o.first_ms,
                    _ => at,
                };
                let mut r = ClockRecord {
                    agency: ev.agency.clone(),
                    report_type: ev
                        .report_type
                        .clone()
                        .or_else(|| old.and_then(|o| o.report_type.clone())),
                    category: ev.category.clone().or_else(|| old.and_then(|o| o.category.clone())),
                    region: ev.region.clone().or_else(|| old.and_then(|o| o.region.clone())),
                    channel: ev.channel.clone().or_else(|| old.and_then(|o| o.channel.clone())),
                    stage,
                    seq: old.map_or(0, |o| o.seq.saturating_add(1)),
                    first_ms,
                    started_ms: at,
                    due_ms: 0,
                    outer_ms: 0,
                    last_ms: at,
                    paused: None,
                    overdue_since: None,
                    first_follow_up_ms: if keep_outer {
                        old.and_then(|o| o.first_follow_up_ms)
                    } else {
                        None
                    },
                    // The outer bound fires once per case, across agencies.
                    fired: match old {
                        Some(o) if keep_outer => o
                            .fired
                            .iter()
                            .copied()
                            .filter(|f| f.0 == TimerKind::Outer.tag())
                            .collect(),
                        _ => Vec::new(),
                    },
                    timers: Vec::new(),
                };
                let days = self
                    .cfg
                    .days_for(stage, r.report_type.as_deref(), r.category.as_deref());
                r.due_ms = self.time.deadline(ev.at, days, &place)?.timestamp_millis();
                r.outer_ms = self
                    .time
                    .calendar_deadline(to_utc(first_ms), self.cfg.outer_bound_days, &place)?
                    .timestamp_millis();
                self.plan_timers(&mut r, at, &place)?;
                Ok(Outcome::Put(Box::new(r)))
            }
            (_, None) => Ok(Outcome::Ignore("no clock for this complaint")),
            (_, Some(o)) if o.agency != ev.agency => Ok(Outcome::Ignore("event from another agency")),
            (StageKind::FollowedUp, Some(o)) => {
                if o.stage == Stage::CitizenReply {
                    return Ok(Outcome::Ignore("already followed up"));
                }
                let mut r = o.clone();
                r.stage = Stage::CitizenReply;
                r.seq = r.seq.saturating_add(1);
                r.started_ms = at;
                r.last_ms = at;
                r.paused = None;
                r.overdue_since = None;
                r.fired.retain(|f| f.0 == TimerKind::Outer.tag());
                r.first_follow_up_ms.get_or_insert(at);
                let days = self
                    .cfg
                    .days_for(Stage::CitizenReply, r.report_type.as_deref(), r.category.as_deref());
                r.due_ms = self.time.deadline(ev.at, days, &place)?.timestamp_millis();
                self.plan_timers(&mut r, at, &place)?;
                Ok(Outcome::Put(Box::new(r)))
            }
            (StageKind::Paused, Some(o)) => {
                if !self.cfg.pause_while_pending || o.paused.is_some() {
                    return Ok(Outcome::Ignore("not pausing"));
                }
                let mut r = o.clone();
                r.last_ms = at;
                let remaining = self.time.working_days_between(ev.at, to_utc(o.due_ms), &place);
                r.paused = Some(Paused { at_ms: at, remaining });
                // The outer bound keeps running: it bounds the whole case.
                r.timers.retain(|t| t.kind == TimerKind::Outer);
                Ok(Outcome::Put(Box::new(r)))
            }
            (StageKind::Resumed, Some(o)) => {
                let Some(p) = o.paused else {
                    return Ok(Outcome::Ignore("not paused"));
                };
                let mut r = o.clone();
                r.last_ms = at;
                r.paused = None;
                if r.overdue_since.is_none() {
                    r.due_ms = self.time.deadline(ev.at, p.remaining, &place)?.timestamp_millis();
                }
                self.plan_timers(&mut r, at, &place)?;
                Ok(Outcome::Put(Box::new(r)))
            }
            (StageKind::Closed, Some(_)) => Ok(Outcome::Remove),
        }
    }

    /// Timers of the current stage that have not fired yet.
    fn plan_timers(&self, r: &mut ClockRecord, now_ms: i64, place: &Place) -> Result<(), WorkdayError> {
        let due = to_utc(r.due_ms);
        let mut t = Vec::new();
        let agency_stage = r.stage != Stage::CitizenReply;
        if agency_stage && self.cfg.remind_working_days > 0 {
            let at = self
                .time
                .working_days_before(due, self.cfg.remind_working_days, place)?
                .timestamp_millis();
            if at > now_ms && at < r.due_ms {
                t.push(Timer {
                    at_ms: at,
                    kind: TimerKind::Remind,
                    level: 0,
                });
            }
        }
        t.push(Timer {
            at_ms: r.due_ms,
            kind: TimerKind::Due,
            level: 0,
        });
        if agency_stage {
            for (i, e) in self.cfg.escalation.iter().enumerate() {
                let at = if e.after_working_days == 0 {
                    r.due_ms
                } else {
                    self.time.deadline(due, e.after_working_days, place)?.timestamp_millis()
                };
                t.push(Timer {
                    at_ms: at,
                    kind: TimerKind::Escalate,
                    level: u8::try_from(i + 1).unwrap_or(u8::MAX),
                });
            }
        }
        t.push(Timer {
            at_ms: r.outer_ms,
            kind: TimerKind::Outer,
            level: 0,
        });
        t.retain(|x| !r.fired.contains(&(x.kind.tag(), x.level)));
        r.timers = t;
        Ok(())
    }
}

#[cfg(test)]
#[path = "deadlines_tests.rs"]
mod tests;
