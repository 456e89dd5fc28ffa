//! What a due timer announces: a reminder or the overdue event to the
//! agency, an escalation copy to a level's target, the citizen-reply lapse,
//! the outer bound. Announcing never changes the agency of the complaint.

use super::config::{SlaConfig, Stage};
use super::deadlines::{to_utc, ClockRecord, TimerKind};
use super::event::{SlaEvent, SlaKind};
use super::index::DueTimer;

/// The events of one due timer (none when it no longer applies).
pub fn events_for(cfg: &SlaConfig, due: &DueTimer, r: &ClockRecord) -> Vec<SlaEvent> {
    let ev = |kind: SlaKind, level: Option<u8>, target: Option<String>| SlaEvent {
        schema: 1,
        kind,
        complaint: due.id.clone(),
        agency: r.agency.clone(),
        stage: r.stage,
        due_at: to_utc(r.due_ms),
        at: to_utc(due.timer.at_ms),
        level,
        target,
        event_id: match level {
            Some(l) => format!("{}.{}.{}.{l}", due.id, r.seq, kind.as_str()),
            None => format!("{}.{}.{}", due.id, r.seq, kind.as_str()),
        },
    };
    match due.timer.kind {
        TimerKind::Remind => vec![ev(SlaKind::Reminder, None, None)],
        TimerKind::Due if r.stage == Stage::CitizenReply => vec![ev(SlaKind::CloseDue, None, None)],
        TimerKind::Due => vec![ev(SlaKind::Overdue, None, None)],
        TimerKind::Escalate => {
            let level = due.timer.level;
            match cfg.escalation.get(usize::from(level).saturating_sub(1)) {
                Some(l) if level > 0 => vec![ev(SlaKind::Escalation, Some(level), Some(l.target_for(&r.agency)))],
                // The level was removed from the config since: nothing to send.
                _ => Vec::new(),
            }
        }
        TimerKind::Outer => vec![ev(SlaKind::OuterBound, None, None)],
    }
}
