//! The status contract (docs/status.md, `schema/status-v1.json`): what an
//! agency sends ([`StatusUpdate`]), the stages a complaint goes through
//! ([`Stage`]), and the event every stage change raises ([`StageChange`]),
//! which the working-day deadline work observes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest `message` for the citizen (characters); longer is refused, not cut.
pub const MAX_MESSAGE_CHARS: usize = 1000;
/// Longest internal `note` (characters).
pub const MAX_NOTE_CHARS: usize = 4000;
/// Longest `update_id` (bytes).
pub const MAX_UPDATE_ID: usize = 128;

/// LAPOR!'s stages of a complaint, plus `ditutup` (the citizen answered PUAS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// At the triage desk, not yet dispositioned to an agency.
    BelumTerverifikasi,
    /// Routed (dispositioned) to an agency that has not answered yet.
    Terdisposisi,
    Diproses,
    Tertunda,
    Selesai,
    /// The agency said it is not its authority; re-routed right after.
    BukanWewenang,
    /// Closed: the citizen confirmed (PUAS).
    Ditutup,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::BelumTerverifikasi,
        Stage::Terdisposisi,
        Stage::Diproses,
        Stage::Tertunda,
        Stage::Selesai,
        Stage::BukanWewenang,
        Stage::Ditutup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::BelumTerverifikasi => "belum_terverifikasi",
            Stage::Terdisposisi => "terdisposisi",
            Stage::Diproses => "diproses",
            Stage::Tertunda => "tertunda",
            Stage::Selesai => "selesai",
            Stage::BukanWewenang => "bukan_wewenang",
            Stage::Ditutup => "ditutup",
        }
    }

    /// How the citizen reads it.
    pub fn words(self) -> &'static str {
        match self {
            Stage::BelumTerverifikasi => "belum terverifikasi",
            Stage::Terdisposisi => "terdisposisi",
            Stage::Diproses => "sedang diproses",
            Stage::Tertunda => "tertunda",
            Stage::Selesai => "selesai",
            Stage::BukanWewenang => "bukan wewenang",
            Stage::Ditutup => "ditutup",
        }
    }

    /// The first stage of a complaint routed to `agency`.
    pub fn initial(agency: &str) -> Stage {
        if agency == "triage" {
            Stage::BelumTerverifikasi
        } else {
            Stage::Terdisposisi
        }
    }
}

/// What an agency reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateStatus {
    Diproses,
    Selesai,
    Tertunda,
    BukanWewenang,
    /// Forwarded to `to_agency` (also how the triage desk dispositions).
    Diteruskan,
}

impl UpdateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateStatus::Diproses => "diproses",
            UpdateStatus::Selesai => "selesai",
            UpdateStatus::Tertunda => "tertunda",
            UpdateStatus::BukanWewenang => "bukan_wewenang",
            UpdateStatus::Diteruskan => "diteruskan",
        }
    }
}

/// A status update from an agency system (body of `pintu.status` messages
/// and of `POST /agency/v1/updates`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusUpdate {
    /// The agency's own id of this update: the same id twice is one update.
    pub update_id: String,
    /// Tracking code (`LPR-…`); `id` may be given instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
    /// Complaint ULID, instead of (or besides) `tracking`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub agency: String,
    pub status: UpdateStatus,
    /// Agency code the complaint is forwarded to (`diteruskan` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_agency: Option<String>,
    /// Text for the citizen (Indonesian).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Internal; never sent to the citizen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Error)]
pub enum InvalidUpdate {
    #[error("not a status update: {0}")]
    Parse(#[source] serde_json::Error),
    #[error("`update_id` must be 1-{MAX_UPDATE_ID} printable characters")]
    UpdateId,
    #[error("neither `tracking` nor `id` names the complaint")]
    NoComplaint,
    #[error("`tracking` is not a tracking code")]
    Tracking,
    #[error("`agency` is not an agency code")]
    Agency,
    #[error("`to_agency` is required with `diteruskan` and allowed only there")]
    ToAgency,
    #[error("`{0}` is longer than {1} characters")]
    TooLong(&'static str, usize),
}

/// By hand because `serde_json::Error` has none: two parse errors are equal
/// when they say the same.
impl PartialEq for InvalidUpdate {
    fn eq(&self, other: &Self) -> bool {
        use InvalidUpdate::*;
        match (self, other) {
            (Parse(a), Parse(b)) => a.to_string() == b.to_string(),
            (TooLong(a, n), TooLong(b, m)) => (a, n) == (b, m),
            (UpdateId, UpdateId)
            | (NoComplaint, NoComplaint)
            | (Tracking, Tracking)
            | (Agency, Agency)
            | (ToAgency, ToAgency) => true,
            _ => false,
        }
    }
}

/// Agency codes: lower-case letters, digits, `-` and `.` (`3273.dpupr`,
/// `bpjs-kesehatan`, `triage`), at most 64 bytes.
pub fn is_agency_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !s.starts_with('.')
        && !s.ends_with('.')
}

impl StatusUpdate {
    /// Parse and check one update; never panics on hostile input.
    pub fn parse(bytes: &[u8]) -> Result<StatusUpdate, InvalidUpdate> {
        let u: StatusUpdate = serde_json::from_slice(bytes).map_err(InvalidUpdate::Parse)?;
        u.validate()?;
        Ok(u)
    }

    pub fn validate(&self) -> Result<(), InvalidUpdate> {
        if self.update_id.is_empty()
            || self.update_id.len() > MAX_UPDATE_ID
            || self.update_id.chars().any(|c| c.is_control())
        {
            return Err(InvalidUpdate::UpdateId);
        }
        match (&self.tracking, &self.id) {
            (None, None) => return Err(InvalidUpdate::NoComplaint),
            (Some(t), _) if !crate::tracking::is_valid(t) => return Err(InvalidUpdate::Tracking),
            (_, Some(id)) if ulid::Ulid::from_string(id).is_err() => return Err(InvalidUpdate::NoComplaint),
            _ => {}
        }
        if !is_agency_code(&self.agency) {
            return Err(InvalidUpdate::Agency);
        }
        let forwarded = self.status == UpdateStatus::Diteruskan;
        match &self.to_agency {
            Some(to) if forwarded && is_agency_code(to) && to != &self.agency => {}
            None if !forwarded => {}
            _ => return Err(InvalidUpdate::ToAgency),
        }
        if self
            .message
            .as_deref()
            .is_some_and(|m| m.chars().count() > MAX_MESSAGE_CHARS)
        {
            return Err(InvalidUpdate::TooLong("message", MAX_MESSAGE_CHARS));
        }
        if self.note.as_deref().is_some_and(|m| m.chars().count() > MAX_NOTE_CHARS) {
            return Err(InvalidUpdate::TooLong("note", MAX_NOTE_CHARS));
        }
        Ok(())
    }

    /// The citizen's text, if it says anything (blank counts as none).
    pub fn citizen_message(&self) -> Option<&str> {
        self.message.as_deref().map(str::trim).filter(|m| !m.is_empty())
    }
}

/// Why a stage changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Cause {
    /// The router's decision (the disposition).
    Routed,
    /// An agency's update.
    Update { update_id: String, status: UpdateStatus },
    /// `bukan_wewenang`: sent on to another agency (or triage) by the gateway.
    Rerouted { from_agency: String },
    /// The citizen answered BELUM to `selesai`.
    Reopened,
    /// The citizen answered PUAS.
    Closed,
}

/// One stage change of one complaint: recorded in its history and handed to
/// every observer ([`crate::status::store::StatusStore::subscribe`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageChange {
    pub complaint_id: String,
    pub tracking: String,
    /// The agency responsible after the change.
    pub agency: String,
    /// `None` for the first stage.
    pub from: Option<Stage>,
    pub to: Stage,
    pub cause: Cause,
    /// When it happened (the agency's `at` for updates).
    pub at: DateTime<Utc>,
    /// When the gateway recorded it.
    pub recorded_at: DateTime<Utc>,
    /// Routing facts the deadlines need (category, region), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(json: serde_json::Value) -> Result<StatusUpdate, InvalidUpdate> {
        StatusUpdate::parse(json.to_string().as_bytes())
    }

    #[test]
    fn a_good_update_parses_and_bad_ones_say_why() {
        let good = serde_json::json!({"update_id": "u-1", "tracking": "LPR-7K3Q9X", "agency": "3273.dpupr",
            "status": "diproses", "message": "Tim kami ke lokasi", "at": "2026-01-02T03:04:05Z"});
        let u = update(good.clone()).unwrap();
        assert_eq!(
            (u.status, u.citizen_message()),
            (UpdateStatus::Diproses, Some("Tim kami ke lokasi"))
        );
        let mut bad = good.clone();
        bad["status"] = "diteruskan".into();
        assert_eq!(update(bad.clone()), Err(InvalidUpdate::ToAgency));
        bad["to_agency"] = "3273.dpupr".into();
        assert_eq!(
            update(bad.clone()),
            Err(InvalidUpdate::ToAgency),
            "forwarding to itself"
        );
        bad["to_agency"] = "3273.dishub".into();
        assert!(update(bad).is_ok());
        let mut bad = good.clone();
        bad["agency"] = "../etc".into();
        assert_eq!(update(bad), Err(InvalidUpdate::Agency));
        let mut bad = good.clone();
        bad["tracking"] = "LPR-000000".into();
        assert_eq!(update(bad), Err(InvalidUpdate::Tracking));
        let mut bad = good.clone();
        bad["secret"] = "x".into();
        assert!(matches!(update(bad), Err(InvalidUpdate::Parse(_))));
        let mut bad = good;
        bad["message"] = "x".repeat(MAX_MESSAGE_CHARS + 1).into();
        assert_eq!(update(bad), Err(InvalidUpdate::TooLong("message", MAX_MESSAGE_CHARS)));
        assert!(matches!(StatusUpdate::parse(b"\xff\x00"), Err(InvalidUpdate::Parse(_))));
    }

    #[test]
    fn a_parse_error_keeps_the_json_error() {
        let e = StatusUpdate::parse(b"{\"update_id\": \"u-1\"").unwrap_err();
        let json = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<serde_json::Error>());
        assert!(json.is_some_and(serde_json::Error::is_eof), "{e:?}");
        assert_eq!(e.to_string(), format!("not a status update: {}", json.unwrap()));
    }

    /// The schema and the type agree: what the type accepts validates, and
    /// what the schema refuses the type refuses too.
    #[test]
    fn schema_and_type_agree() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/status-v1.json");
        let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        let base = serde_json::json!({"update_id": "u-1", "tracking": "LPR-7K3Q9X", "agency": "3273.dpupr",
            "status": "selesai", "message": "Sudah diperbaiki", "note": "regu 3", "at": "2026-01-02T03:04:05+07:00"});
        let fwd = serde_json::json!({"update_id": "u-2", "id": "01HZZZZZZZZZZZZZZZZZZZZZZZ", "agency": "triage",
            "status": "diteruskan", "to_agency": "kemenkes", "at": "2026-01-02T03:04:05Z"});
        for good in [&base, &fwd] {
            let u = update(good.clone()).unwrap();
            let back = serde_json::to_value(&u).unwrap();
            assert!(v.is_valid(good), "{good}");
            assert!(v.is_valid(&back), "serialised form validates: {back}");
        }
        let mut bads = Vec::new();
        for (k, val) in [
            ("status", serde_json::json!("closed")),
            ("tracking", serde_json::json!("LPR-0O0O0O")),
            ("agency", serde_json::json!("Dinas PUPR")),
            ("to_agency", serde_json::json!("kemenkes")),
            ("extra", serde_json::json!(1)),
            ("update_id", serde_json::json!("")),
        ] {
            let mut b = base.clone();
            b[k] = val;
            bads.push(b);
        }
        let mut no_complaint = base.clone();
        no_complaint.as_object_mut().unwrap().remove("tracking");
        bads.push(no_complaint);
        let mut no_target = fwd.clone();
        no_target.as_object_mut().unwrap().remove("to_agency");
        bads.push(no_target);
        for bad in bads {
            assert!(!v.is_valid(&bad), "schema accepts {bad}");
            assert!(update(bad.clone()).is_err(), "type accepts {bad}");
        }
    }

    #[test]
    fn stages_spell_as_the_schema_does() {
        for s in Stage::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        assert_eq!(Stage::initial("triage"), Stage::BelumTerverifikasi);
        assert_eq!(Stage::initial("3273.dpupr"), Stage::Terdisposisi);
    }
}
