//! Stage transitions of one clock, on the real calendar.

use chrono::{DateTime, Utc};

use crate::sla::calendar::Calendar;
use crate::sla::config::{SlaConfig, Stage};
use crate::sla::deadlines::{Outcome, Planner, TimerKind};
use crate::sla::event::{StageEvent, StageKind};
use crate::sla::workdays::{OfficeHours, WorkingTime};

const NATIONAL: &str = include_str!("../../config/calendar/national.toml");

fn planner() -> Planner {
    let wt = WorkingTime::new(Calendar::from_strs(NATIONAL, None).unwrap(), OfficeHours::default());
    Planner::new(SlaConfig::default(), wt)
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ev(kind: StageKind, agency: &str, at: &str) -> StageEvent {
    StageEvent {
        complaint: "01JTEST".into(),
        agency: agency.into(),
        kind,
        at: t(at),
        report_type: Some("pengaduan".into()),
        category: Some("kesehatan".into()),
        region: Some("3171".into()),
        channel: Some("sms".into()),
    }
}

fn put(o: Outcome) -> crate::sla::deadlines::ClockRecord {
    match o {
        Outcome::Put(r) => *r,
        other => panic!("expected a record, got {other:?}"),
    }
}

#[test]
fn disposition_pause_resume_follow_up_reopen_close() {
    let p = planner();
    let r = put(p
        .apply(
            None,
            &ev(StageKind::Dispositioned, "3171.dinkes", "2025-03-27T10:00:00+07:00"),
        )
        .unwrap());
    assert_eq!(r.stage, Stage::FollowUp);
    assert_eq!(r.due_ms, t("2025-04-14T16:00:00+07:00").timestamp_millis());
    let kinds: Vec<_> = r.timers.iter().map(|x| (x.kind, x.level)).collect();
    assert_eq!(
        kinds,
        [
            (TimerKind::Remind, 0),
            (TimerKind::Due, 0),
            (TimerKind::Escalate, 1),
            (TimerKind::Escalate, 2),
            (TimerKind::Outer, 0)
        ]
    );
    assert_eq!(r.timers[0].at_ms, t("2025-04-11T08:00:00+07:00").timestamp_millis());
    // Redelivery of the same disposition changes nothing.
    let same = p
        .apply(
            Some(&r),
            &ev(StageKind::Dispositioned, "3171.dinkes", "2025-03-27T10:00:00+07:00"),
        )
        .unwrap();
    assert!(matches!(same, Outcome::Ignore(_)));
    // Tertunda on Tue 8 Apr: 8 Apr is day 0, 9–14 Apr leave 4 working days.
    let paused = put(p
        .apply(
            Some(&r),
            &ev(StageKind::Paused, "3171.dinkes", "2025-04-08T10:00:00+07:00"),
        )
        .unwrap());
    assert_eq!(paused.paused.map(|x| x.remaining), Some(4));
    assert!(paused.timers.iter().all(|x| x.kind == TimerKind::Outer));
    // Resumed on Mon 21 Apr: four working days from there is Fri 25 Apr.
    let resumed = put(p
        .apply(
            Some(&paused),
            &ev(StageKind::Resumed, "3171.dinkes", "2025-04-21T09:00:00+07:00"),
        )
        .unwrap());
    assert_eq!(resumed.due_ms, t("2025-04-25T16:30:00+07:00").timestamp_millis());
    // An event from an agency the complaint is not with is ignored.
    let other = p.apply(
        Some(&resumed),
        &ev(StageKind::FollowedUp, "3172.dinkes", "2025-04-22T09:00:00+07:00"),
    );
    assert!(matches!(other.unwrap(), Outcome::Ignore(_)));
    let fu = put(p
        .apply(
            Some(&resumed),
            &ev(StageKind::FollowedUp, "3171.dinkes", "2025-04-22T09:00:00+07:00"),
        )
        .unwrap());
    assert_eq!(fu.stage, Stage::CitizenReply);
    assert!(fu.seq > resumed.seq);
    assert!(fu
        .timers
        .iter()
        .all(|x| matches!(x.kind, TimerKind::Due | TimerKind::Outer)));
    // A stale event (older than the last applied) is ignored.
    let stale = p.apply(
        Some(&fu),
        &ev(StageKind::Paused, "3171.dinkes", "2025-04-01T09:00:00+07:00"),
    );
    assert!(matches!(stale.unwrap(), Outcome::Ignore(_)));
    let re = put(p
        .apply(
            Some(&fu),
            &ev(StageKind::Reopened, "3171.dinkes", "2025-05-05T09:00:00+07:00"),
        )
        .unwrap());
    assert_eq!(re.stage, Stage::FollowUp);
    assert_eq!(re.first_ms, t("2025-05-05T09:00:00+07:00").timestamp_millis());
    let closed = p.apply(
        Some(&re),
        &ev(StageKind::Closed, "3171.dinkes", "2025-05-06T09:00:00+07:00"),
    );
    assert_eq!(closed.unwrap(), Outcome::Remove);
}

#[test]
fn triage_gets_the_verify_deadline_and_rerouting_restarts_for_the_new_agency() {
    let p = planner();
    let r = put(p
        .apply(
            None,
            &ev(StageKind::Dispositioned, "triage", "2025-11-10T10:00:00+07:00"),
        )
        .unwrap());
    assert_eq!(r.stage, Stage::Verify);
    assert_eq!(r.due_ms, t("2025-11-13T16:00:00+07:00").timestamp_millis());
    let moved = put(p
        .apply(
            Some(&r),
            &ev(StageKind::Dispositioned, "9471.dinkes", "2025-11-12T10:00:00+07:00"),
        )
        .unwrap());
    assert_eq!(moved.stage, Stage::FollowUp);
    assert_eq!(moved.agency, "9471.dinkes");
    // Five working days in WIT from Wed 12 Nov: Wed 19 Nov, 16:00 WIT.
    assert_eq!(moved.due_ms, t("2025-11-19T16:00:00+09:00").timestamp_millis());
    // The outer bound counts from the first disposition.
    assert_eq!(moved.first_ms, r.first_ms);
}
