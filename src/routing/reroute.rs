//! The next-best agency for a complaint an agency declared "bukan wewenang"
//! (not its authority): decide again; the router's agency or its own
//! suggestion if not excluded, else the unit of the next category the model
//! ranked — when, with the excluded ones ruled out, it is more likely than
//! everything else left together (`none` included) — else the triage desk.
//! Never nowhere.

use super::category::RANKED;
use super::{Context, Decision, Engine, RouteOptions};
use crate::complaint::Complaint;

pub const TRIAGE: &str = "triage";

/// A ranked category is the next best when its share of the probability
/// left, once the excluded agencies' categories are ruled out, is at least
/// this: more likely than all the rest together, `none` (the desk) included.
const MIN_SHARE: f32 = 0.5;

impl Engine {
    /// The agencies of the categories ranked after the decision's, most
    /// likely first, with their probabilities (duplicates and the decided
    /// agency left out).
    pub fn alternatives(&self, d: &Decision) -> Vec<(String, f32)> {
        let mut out: Vec<(String, f32)> = Vec::with_capacity(RANKED);
        for (cat, p) in d.ranked.iter().flatten().copied() {
            let (unit, _) = self.unit_for(cat, d.region_ix);
            if unit != d.agency && !out.iter().any(|(a, _)| *a == unit) {
                out.push((unit, p));
            }
        }
        out
    }
}

/// (agency, reason) for `c` with `excluded` agencies ruled out.
pub fn next_best(engine: &Engine, opts: &RouteOptions, c: &Complaint, excluded: &[String]) -> (String, String) {
    let ctx = Context {
        default_region: opts.default_region(c),
        category: None,
    };
    let d = engine.decide_in(c.subject.as_deref(), &c.text, &ctx);
    let is_excluded = |a: &str| excluded.iter().any(|x| x == a);
    let allowed = |a: &str| a != TRIAGE && !is_excluded(a);
    if allowed(&d.agency) {
        return (d.agency, "router's decision without the excluded agencies".into());
    }
    if let Some(s) = d.suggested_agency.clone().filter(|s| allowed(s)) {
        return (s, "router's suggestion without the excluded agencies".into());
    }
    let alternatives = engine.alternatives(&d);
    // What is left once the decided category and every ranked one of an
    // excluded agency are ruled out.
    let mut left = 1.0 - d.p_pick;
    for (a, p) in &alternatives {
        if is_excluded(a) {
            left -= p;
        }
    }
    let next = alternatives
        .into_iter()
        .find(|(a, p)| allowed(a) && left > 0.0 && p / left >= MIN_SHARE);
    if let Some((agency, p)) = next {
        let why = format!(
            "the next category the router ranked ({:.0} % of what is left without the excluded agencies)",
            100.0 * p / left
        );
        return (agency, why);
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

    fn engine() -> (Engine, RouteOptions) {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let engine = Engine::load(&repo.join("config/routing"), &repo.join("config/wilayah")).unwrap();
        (engine, RouteOptions::default())
    }

    /// A routed-to-be SMS complaint with `text`.
    fn sms(text: &str) -> Complaint {
        serde_json::from_value(serde_json::json!({
            "schema": 1, "id": "01HZZZZZZZZZZZZZZZZZZZZZZZ", "tracking": "LPR-7K3Q9X",
            "received_at": "2026-01-01T00:00:00Z", "channel": "sms", "provider": "kannel",
            "external_id": null, "sender": null, "recipient": null, "subject": null,
            "text": text, "attachments": [],
            "flags": {"confidential": false, "anonymous": false}, "in_reply_to": null, "parts": 1,
            "fingerprint": "x"}))
        .unwrap()
    }

    #[test]
    fn excluded_agency_is_never_chosen_again() {
        let (engine, opts) = engine();
        let c = sms("jalan berlubang besar di kota bandung mohon diperbaiki");
        let (first, _) = next_best(&engine, &opts, &c, &[]);
        assert_eq!(first, "3273.dpupr");
        let (second, why) = next_best(&engine, &opts, &c, std::slice::from_ref(&first));
        assert_ne!(second, first);
        assert_eq!(second, TRIAGE, "{why}");
        assert!(why.contains("3273.dpupr"));
    }

    #[test]
    fn the_next_category_ranked_takes_over_when_it_holds_most_of_what_is_left() {
        let (engine, opts) = engine();
        let c = sms("lampu jalan mati dan jalan berlubang di kota bandung tolong diperbaiki");
        let (first, _) = next_best(&engine, &opts, &c, &[]);
        assert_eq!(first, "3273.dpupr");
        // Street lights are the other half of this text: Dishub.
        let (second, why) = next_best(&engine, &opts, &c, std::slice::from_ref(&first));
        assert_eq!(second, "3273.dishub", "{why}");
        assert!(why.contains("next category"), "{why}");
        // Both said no: nothing else is likely enough, the desk decides.
        let (third, why) = next_best(&engine, &opts, &c, &[first, second]);
        assert_eq!(third, TRIAGE, "{why}");
    }
}
