//! The rules of the loop, as pure functions on a [`Record`]: what an agency's
//! update or a citizen's answer changes, what the citizen is told and what is
//! published. [`super::store`] commits the result in one transaction.

use chrono::{DateTime, Utc};

use super::contract::{Cause, Stage, StageChange, StatusUpdate, UpdateStatus};
use super::record::Record;
use crate::complaint::Complaint;

/// What the citizen is told (rendered by [`super::notify`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A new stage and/or the agency's message.
    Stage {
        stage: Stage,
        agency: String,
        message: Option<String>,
    },
    /// Forwarded to another agency (by the agency, or re-routed after
    /// `bukan_wewenang`).
    Forwarded { to: String, message: Option<String> },
    /// The citizen's BELUM was recorded.
    Reopened { agency: String },
    /// The citizen's PUAS was recorded.
    Closed,
}

/// Where a published message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Exchange {
    Agency,
    Outbound,
    /// `<prefix>.sla`: stage events for the deadline clock (`sla_feed`).
    Sla,
}

/// A message to publish once the change is durable (kept in the status outbox).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub exchange: Exchange,
    pub routing_key: String,
    pub message_id: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// Header naming what an extra message on an agency queue is.
pub const EVENT_HEADER: &str = "x-pintu-event";

/// What applying one update or answer does.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<StageChange>,
    pub notices: Vec<Notice>,
    /// Complaints to publish to `pintu.agency` (re-routed, forwarded, reopened).
    pub publish: Vec<Pending>,
    /// The complaint now belongs to another agency (new feed position).
    pub reassigned: bool,
}

/// Why an update was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The complaint is routed to another agency (403, counted).
    Forbidden,
}

/// The next agency after `bukan_wewenang` (a function of the routed
/// complaint and the agencies excluded so far; see `routing::reroute`).
pub type Reroute<'a> = &'a (dyn Fn(&Complaint, &[String]) -> (String, String) + Sync);

/// Apply `u` to `rec`; `rec` is changed in place only on `Ok`.
pub fn update(rec: &mut Record, u: &StatusUpdate, reroute: Reroute<'_>) -> Result<Plan, Refusal> {
    if u.agency != rec.agency {
        return Err(Refusal::Forbidden);
    }
    let mut plan = Plan::default();
    let cause = Cause::Update {
        update_id: u.update_id.clone(),
        status: u.status,
    };
    let message = u.citizen_message().map(str::to_string);
    let note = u.note.clone();
    let simple = match u.status {
        UpdateStatus::Diproses => Some(Stage::Diproses),
        UpdateStatus::Tertunda => Some(Stage::Tertunda),
        UpdateStatus::Selesai => Some(Stage::Selesai),
        _ => None,
    };
    if let Some(stage) = simple {
        let changed = rec.stage != stage;
        plan.changes.push(rec.push(stage, cause, u.at, message.clone(), note));
        if changed || message.is_some() {
            if message.is_some() {
                rec.last_message = message.clone();
            }
            plan.notices.push(Notice::Stage {
                stage,
                agency: rec.agency.clone(),
                message,
            });
        }
        return Ok(plan);
    }
    let from = rec.agency.clone();
    let (to, reason) = match (u.status, &u.to_agency) {
        (UpdateStatus::Diteruskan, Some(to)) => (to.clone(), format!("diteruskan oleh {from}")),
        _ => {
            // Bukan wewenang: record it, exclude the agency, route on.
            plan.changes
                .push(rec.push(Stage::BukanWewenang, cause.clone(), u.at, message.clone(), note.clone()));
            if !rec.excluded.contains(&from) {
                rec.excluded.push(from.clone());
            }
            let (to, why) = reroute(&rec.complaint, &rec.excluded);
            (to, format!("bukan wewenang {from}; {why}"))
        }
    };
    rec.agency = to.clone();
    let next_cause = match u.status {
        UpdateStatus::Diteruskan => cause,
        _ => Cause::Rerouted { from_agency: from },
    };
    plan.changes
        .push(rec.push(Stage::initial(&to), next_cause, u.at, None, note));
    if message.is_some() {
        rec.last_message = message.clone();
    }
    plan.reassigned = true;
    plan.publish.push(reassigned_complaint(rec, &reason, u.at));
    plan.notices.push(Notice::Forwarded { to, message });
    Ok(plan)
}

/// The complaint as the new agency receives it: the routed copy with the new
/// agency and the reason appended (anonymity as before: it is the copy the
/// first agency saw).
fn reassigned_complaint(rec: &mut Record, reason: &str, at: DateTime<Utc>) -> Pending {
    if let Some(r) = rec.complaint.routing.as_mut() {
        r.agency = rec.agency.clone();
        r.reasons.push(reason.to_string());
        r.routed_at = at;
        r.suggested_agency = None;
    }
    Pending {
        exchange: Exchange::Agency,
        routing_key: crate::broker::Names::agency_key(&rec.agency),
        message_id: rec.complaint_id.clone(),
        body: serde_json::to_vec(&rec.complaint).unwrap_or_default(),
        headers: vec![(EVENT_HEADER.into(), "rerouted".into())],
    }
}

/// The citizen's answer to `selesai`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Puas,
    Belum,
}

/// Apply the citizen's answer; `None` when the complaint is not waiting for
/// one (not `selesai`): the caller then treats the message as a status query.
pub fn answer(rec: &mut Record, a: Answer, at: DateTime<Utc>) -> Option<Plan> {
    if rec.stage != Stage::Selesai {
        return None;
    }
    let mut plan = Plan::default();
    match a {
        Answer::Puas => {
            plan.changes
                .push(rec.push(Stage::Ditutup, Cause::Closed, at, None, None));
            plan.notices.push(Notice::Closed);
        }
        Answer::Belum => {
            rec.reopened += 1;
            plan.changes
                .push(rec.push(Stage::Terdisposisi, Cause::Reopened, at, None, None));
            plan.notices.push(Notice::Reopened {
                agency: rec.agency.clone(),
            });
            plan.publish.push(Pending {
                exchange: Exchange::Agency,
                routing_key: crate::broker::Names::agency_key(&rec.agency),
                // Not the complaint id: the agency's consumer may have
                // deduplicated that one already.
                message_id: ulid::Ulid::new().to_string(),
                body: serde_json::to_vec(&rec.complaint).unwrap_or_default(),
                headers: vec![(EVENT_HEADER.into(), "reopened".into())],
            });
        }
    }
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::record::tests_support::record;

    fn upd(agency: &str, status: UpdateStatus, to: Option<&str>, msg: Option<&str>) -> StatusUpdate {
        StatusUpdate {
            update_id: ulid::Ulid::new().to_string(),
            tracking: Some("LPR-7K3Q9X".into()),
            id: None,
            agency: agency.into(),
            status,
            to_agency: to.map(str::to_string),
            message: msg.map(str::to_string),
            note: Some("internal".into()),
            at: Utc::now(),
        }
    }

    fn triage(_: &Complaint, _: &[String]) -> (String, String) {
        ("triage".into(), "no other agency".into())
    }

    #[test]
    fn another_agency_is_refused_and_nothing_changes() {
        let mut rec = record("3273.dpupr");
        let before = rec.clone();
        let r = update(
            &mut rec,
            &upd("3273.dishub", UpdateStatus::Selesai, None, None),
            &triage,
        );
        assert_eq!(r.err(), Some(Refusal::Forbidden));
        assert_eq!(rec, before);
    }

    #[test]
    fn stage_changes_notify_repeats_only_with_a_message() {
        let mut rec = record("3273.dpupr");
        let p = update(
            &mut rec,
            &upd("3273.dpupr", UpdateStatus::Diproses, None, None),
            &triage,
        )
        .unwrap();
        assert_eq!((rec.stage, p.notices.len()), (Stage::Diproses, 1));
        let p = update(
            &mut rec,
            &upd("3273.dpupr", UpdateStatus::Diproses, None, None),
            &triage,
        )
        .unwrap();
        assert!(p.notices.is_empty(), "same stage, no message: nothing to tell");
        let p = update(
            &mut rec,
            &upd("3273.dpupr", UpdateStatus::Diproses, None, Some("Besok")),
            &triage,
        )
        .unwrap();
        assert_eq!(p.notices.len(), 1);
        assert_eq!(rec.last_message.as_deref(), Some("Besok"));
        assert!(p.publish.is_empty());
    }

    #[test]
    fn bukan_wewenang_reroutes_excluding_the_agency_and_tells_the_citizen() {
        let mut rec = record("3273.dpupr");
        let next = |_: &Complaint, ex: &[String]| {
            assert_eq!(ex, ["3273.dpupr".to_string()]);
            ("32.dpupr".to_string(), "province unit".to_string())
        };
        let p = update(
            &mut rec,
            &upd("3273.dpupr", UpdateStatus::BukanWewenang, None, None),
            &next,
        )
        .unwrap();
        assert_eq!((rec.agency.as_str(), rec.stage), ("32.dpupr", Stage::Terdisposisi));
        let stages: Vec<Stage> = p.changes.iter().map(|c| c.to).collect();
        assert_eq!(stages, [Stage::BukanWewenang, Stage::Terdisposisi]);
        assert_eq!(p.publish[0].routing_key, "agency.32.dpupr");
        let sent: Complaint = serde_json::from_slice(&p.publish[0].body).unwrap();
        assert_eq!(sent.routing.unwrap().agency, "32.dpupr");
        assert!(matches!(&p.notices[0], Notice::Forwarded { to, .. } if to == "32.dpupr"));
        assert!(p.reassigned);
        // The old agency can no longer touch it.
        let r = update(&mut rec, &upd("3273.dpupr", UpdateStatus::Selesai, None, None), &triage);
        assert_eq!(r.err(), Some(Refusal::Forbidden));
    }

    #[test]
    fn selesai_then_belum_reopens_and_puas_closes() {
        let mut rec = record("3273.dpupr");
        assert!(answer(&mut rec, Answer::Belum, Utc::now()).is_none(), "not selesai yet");
        update(&mut rec, &upd("3273.dpupr", UpdateStatus::Selesai, None, None), &triage).unwrap();
        let p = answer(&mut rec, Answer::Belum, Utc::now()).unwrap();
        assert_eq!((rec.stage, rec.reopened), (Stage::Terdisposisi, 1));
        assert_eq!(p.publish[0].headers[0].1, "reopened");
        update(&mut rec, &upd("3273.dpupr", UpdateStatus::Selesai, None, None), &triage).unwrap();
        answer(&mut rec, Answer::Puas, Utc::now()).unwrap();
        assert_eq!(rec.stage, Stage::Ditutup);
    }
}
