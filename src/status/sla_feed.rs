//! The status loop's stage changes as the deadline clock's stage events
//! (docs/sla.md, "Input: stage events").
//!
//! Each event is written to the status outbox in the same transaction as
//! the change it comes from, so a change the gateway recorded always reaches
//! the clock (published with confirms, after a restart too), and its
//! deterministic message id lets the clock ignore a second copy. The first
//! disposition is not repeated here: the router announces it itself.

use super::apply::{Exchange, Pending};
use super::contract::{Cause, Stage, StageChange};
use crate::sla::{StageEvent, StageKind};

/// The clock events one stage change means, in order.
pub fn events(c: &StageChange) -> Vec<StageEvent> {
    let Some(from) = c.from else {
        // The record's first stage: the router's own disposition.
        return Vec::new();
    };
    let mut kinds = Vec::new();
    if from == Stage::Tertunda && c.to != Stage::Tertunda {
        kinds.push(StageKind::Resumed);
    }
    match (&c.cause, c.to) {
        (Cause::Reopened, _) => kinds.push(StageKind::Reopened),
        (_, Stage::Ditutup) => kinds.push(StageKind::Closed),
        (_, Stage::Selesai) => kinds.push(StageKind::FollowedUp),
        (_, Stage::Tertunda) if from != Stage::Tertunda => kinds.push(StageKind::Paused),
        // Re-routed, forwarded, or sent to the triage desk: the clock
        // restarts for whoever holds the complaint now.
        (_, Stage::Terdisposisi | Stage::BelumTerverifikasi) => kinds.push(StageKind::Dispositioned),
        // `diproses` keeps the follow-up clock running; `bukan_wewenang` is
        // followed at once by the re-routing change that names the new agency.
        _ => {}
    }
    kinds
        .into_iter()
        .map(|kind| StageEvent {
            complaint: c.complaint_id.clone(),
            agency: c.agency.clone(),
            kind,
            at: c.at,
            report_type: None,
            category: c.category.clone(),
            region: c.region.clone(),
            channel: None,
        })
        .collect()
}

/// The outbox entries for `changes`.
pub fn pending(changes: &[StageChange]) -> Vec<Pending> {
    changes
        .iter()
        .flat_map(events)
        .filter_map(|e| {
            Some(Pending {
                exchange: Exchange::Sla,
                routing_key: e.routing_key(),
                message_id: e.message_id(),
                body: serde_json::to_vec(&e).ok()?,
                headers: Vec::new(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::contract::UpdateStatus;
    use chrono::Utc;

    fn change(from: Option<Stage>, to: Stage, cause: Cause) -> StageChange {
        StageChange {
            complaint_id: "01JTEST".into(),
            tracking: "LPR-AAAAAA".into(),
            agency: "3273.dpupr".into(),
            from,
            to,
            cause,
            at: Utc::now(),
            recorded_at: Utc::now(),
            category: Some("pekerjaan-umum".into()),
            region: Some("3273".into()),
        }
    }

    fn update(status: UpdateStatus) -> Cause {
        Cause::Update {
            update_id: "u1".into(),
            status,
        }
    }

    fn kinds(c: &StageChange) -> Vec<StageKind> {
        events(c).into_iter().map(|e| e.kind).collect()
    }

    #[test]
    fn each_stage_maps_as_docs_sla_says() {
        use Stage::*;
        let table = [
            (None, Terdisposisi, Cause::Routed, vec![]),
            (Some(Terdisposisi), Diproses, update(UpdateStatus::Diproses), vec![]),
            (
                Some(Diproses),
                Selesai,
                update(UpdateStatus::Selesai),
                vec![StageKind::FollowedUp],
            ),
            (
                Some(Diproses),
                Tertunda,
                update(UpdateStatus::Tertunda),
                vec![StageKind::Paused],
            ),
            (Some(Tertunda), Tertunda, update(UpdateStatus::Tertunda), vec![]),
            (
                Some(Tertunda),
                Diproses,
                update(UpdateStatus::Diproses),
                vec![StageKind::Resumed],
            ),
            (
                Some(Tertunda),
                Selesai,
                update(UpdateStatus::Selesai),
                vec![StageKind::Resumed, StageKind::FollowedUp],
            ),
            (Some(Selesai), Terdisposisi, Cause::Reopened, vec![StageKind::Reopened]),
            (Some(Selesai), Ditutup, Cause::Closed, vec![StageKind::Closed]),
            (
                Some(Diproses),
                BukanWewenang,
                update(UpdateStatus::BukanWewenang),
                vec![],
            ),
            (
                Some(BukanWewenang),
                Terdisposisi,
                Cause::Rerouted {
                    from_agency: "3273.dinkes".into(),
                },
                vec![StageKind::Dispositioned],
            ),
            (
                Some(BukanWewenang),
                BelumTerverifikasi,
                Cause::Rerouted {
                    from_agency: "3273.dinkes".into(),
                },
                vec![StageKind::Dispositioned],
            ),
        ];
        for (from, to, cause, want) in table {
            let c = change(from, to, cause.clone());
            assert_eq!(kinds(&c), want, "{from:?} -> {to:?} by {cause:?}");
        }
    }

    #[test]
    fn events_are_valid_on_the_wire_with_stable_ids() {
        let c = change(Some(Stage::Diproses), Stage::Selesai, update(UpdateStatus::Selesai));
        let p = pending(std::slice::from_ref(&c));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].routing_key, "stage.followed_up");
        let parsed = StageEvent::from_wire(&p[0].body).expect("the clock accepts it");
        assert_eq!(parsed.agency, "3273.dpupr");
        assert_eq!(pending(&[c])[0].message_id, p[0].message_id, "same change, same id");
    }
}
