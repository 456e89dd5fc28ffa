//! The next-best agency for a complaint an agency declared "bukan wewenang"
//! (not its authority), from the engine's public decision alone: decide
//! again; if that or the router's own suggestion is an agency not excluded,
//! it is the answer, otherwise the triage desk — never nowhere.

use chrono::Utc;

use super::{Engine, RouteOptions};
use crate::complaint::Complaint;

pub const TRIAGE: &str = "triage";

/// (agency, reason) for `c` with `excluded` agencies ruled out.
pub fn next_best(engine: &Engine, opts: &RouteOptions, c: &Complaint, excluded: &[String]) -> (String, String) {
    let mut fresh = c.clone();
    fresh.routing = None;
    let routed = engine.route_with(&fresh, Utc::now(), opts);
    let Some(r) = routed.routing else {
        return (TRIAGE.into(), "no decision: triage desk".into());
    };
    let allowed = |a: &str| a != TRIAGE && !excluded.iter().any(|x| x == a);
    if allowed(&r.agency) {
        return (r.agency, "router's decision without the excluded agencies".into());
    }
    if let Some(s) = r.suggested_agency.filter(|s| allowed(s)) {
        return (s, "router's suggestion without the excluded agencies".into());
    }
    (
        TRIAGE.into(),
        format!(
            "no other agency for it (excluded: {}): triage desk",
            excluded.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn excluded_agency_is_never_chosen_again() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let engine = Engine::load(&repo.join("config/routing"), &repo.join("config/wilayah")).unwrap();
        let opts = RouteOptions::default();
        let c: Complaint = serde_json::from_value(serde_json::json!({
            "schema": 1, "id": "01HZZZZZZZZZZZZZZZZZZZZZZZ", "tracking": "LPR-7K3Q9X",
            "received_at": "2026-01-01T00:00:00Z", "channel": "sms", "provider": "kannel",
            "external_id": null, "sender": null, "recipient": null, "subject": null,
            "text": "jalan berlubang besar di kota bandung mohon diperbaiki", "attachments": [],
            "flags": {"confidential": false, "anonymous": false}, "in_reply_to": null, "parts": 1,
            "fingerprint": "x"}))
        .unwrap();
        let (first, _) = next_best(&engine, &opts, &c, &[]);
        assert_eq!(first, "3273.dpupr");
        let (second, why) = next_best(&engine, &opts, &c, std::slice::from_ref(&first));
        assert_ne!(second, first);
        assert_eq!(second, TRIAGE, "{why}");
        assert!(why.contains("3273.dpupr"));
    }
}
