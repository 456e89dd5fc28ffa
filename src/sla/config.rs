//! Which deadline applies: `[sla]` in `pintu.toml` — working days per stage,
//! per-report-type / per-category overrides, reminder lead, escalation
//! levels, office hours and the calendar files.

use std::path::PathBuf;

use chrono::NaiveTime;
use serde::Deserialize;

use super::workdays::OfficeHours;

/// The stage a clock runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// In the triage desk: verify and forward (default 3 working days).
    Verify,
    /// With the agency: its follow-up (default 5 working days).
    FollowUp,
    /// Followed up, waiting for the citizen: closes after 10 working days.
    CitizenReply,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Verify => "verify",
            Stage::FollowUp => "follow_up",
            Stage::CitizenReply => "citizen_reply",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// Run the clock (in `serve`) and have the router announce dispositions.
    #[serde(default)]
    pub enabled: bool,
    /// National holidays and cuti bersama, relative to the config directory.
    #[serde(default = "default_calendar")]
    pub calendar: PathBuf,
    /// The operator's overrides; a missing file is no overrides.
    #[serde(default = "default_overrides")]
    pub overrides: PathBuf,
    /// Local office hours, `HH:MM`.
    #[serde(default = "default_open")]
    pub office_open: String,
    #[serde(default = "default_close")]
    pub office_close: String,
    #[serde(default = "default_friday_close")]
    pub friday_close: String,
    #[serde(default = "default_verify")]
    pub verify_days: u32,
    #[serde(default = "default_follow_up")]
    pub follow_up_days: u32,
    #[serde(default = "default_citizen_reply")]
    pub citizen_reply_days: u32,
    /// Outer bound of a case from its first disposition (calendar days).
    #[serde(default = "default_outer")]
    pub outer_bound_days: u32,
    /// Working days before a deadline the agency is reminded (0 = no reminder).
    #[serde(default = "default_remind")]
    pub remind_working_days: u32,
    /// Stop the clock while a complaint is `tertunda` (pending).
    #[serde(default = "default_true")]
    pub pause_while_pending: bool,
    /// How often due deadlines are looked for (seconds).
    #[serde(default = "default_tick")]
    pub tick_secs: u64,
    /// Deadlines by report type and/or category, first match wins.
    #[serde(default, rename = "rule")]
    pub rules: Vec<SlaRule>,
    /// Escalation levels after a missed follow-up deadline.
    #[serde(default = "default_escalation")]
    pub escalation: Vec<EscalationLevel>,
    /// Agencies named in the Prometheus gauges; others are summed as `other`
    /// (keeps the label set bounded).
    #[serde(default)]
    pub metric_agencies: Vec<String>,
    /// Policy reports suppress every row built from fewer complaints than this.
    #[serde(default = "default_min_cell")]
    pub report_min_cell: u64,
}

/// Working days of one report type and/or category.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaRule {
    #[serde(default)]
    pub report_type: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub verify_days: Option<u32>,
    #[serde(default)]
    pub follow_up_days: Option<u32>,
    #[serde(default)]
    pub citizen_reply_days: Option<u32>,
}

/// One level: who gets a copy, how many working days after the deadline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    #[serde(default)]
    pub after_working_days: u32,
    /// Routing key suffix on `<prefix>.sla` (`escalation.<target>`);
    /// `{province}` and `{regency}` take the agency's codes (`national` when
    /// it has none).
    pub target: String,
}

impl EscalationLevel {
    pub fn target_for(&self, agency: &str) -> String {
        let prov = super::zone::province_of_agency(agency).unwrap_or("national");
        let reg = super::zone::regency_of_agency(agency).unwrap_or(prov);
        self.target.replace("{province}", prov).replace("{regency}", reg)
    }
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            enabled: false,
            calendar: default_calendar(),
            overrides: default_overrides(),
            office_open: default_open(),
            office_close: default_close(),
            friday_close: default_friday_close(),
            verify_days: default_verify(),
            follow_up_days: default_follow_up(),
            citizen_reply_days: default_citizen_reply(),
            outer_bound_days: default_outer(),
            remind_working_days: default_remind(),
            pause_while_pending: true,
            tick_secs: default_tick(),
            rules: Vec::new(),
            escalation: default_escalation(),
            metric_agencies: Vec::new(),
            report_min_cell: default_min_cell(),
        }
    }
}

/// Longest deadline accepted, in working days (a year of them).
const MAX_DAYS: u32 = 250;

impl SlaConfig {
    /// Key and reason of the first problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.office_hours()?;
        let days = [
            ("sla.verify_days", Some(self.verify_days)),
            ("sla.follow_up_days", Some(self.follow_up_days)),
            ("sla.citizen_reply_days", Some(self.citizen_reply_days)),
        ];
        let rules = self.rules.iter().enumerate().flat_map(|(i, r)| {
            [
                (format!("sla.rule[{i}].verify_days"), r.verify_days),
                (format!("sla.rule[{i}].follow_up_days"), r.follow_up_days),
                (format!("sla.rule[{i}].citizen_reply_days"), r.citizen_reply_days),
            ]
        });
        for (key, v) in days.into_iter().map(|(k, v)| (k.to_string(), v)).chain(rules) {
            if let Some(v) = v {
                if v == 0 || v > MAX_DAYS {
                    return Err((key, format!("must be 1–{MAX_DAYS} working days")));
                }
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            if r.report_type.is_none() && r.category.is_none() {
                return Err((format!("sla.rule[{i}]"), "needs report_type or category".into()));
            }
        }
        if self.outer_bound_days == 0 || self.outer_bound_days > 3 * 366 {
            return Err(("sla.outer_bound_days".into(), "must be 1–1098 days".into()));
        }
        if self.remind_working_days > MAX_DAYS {
            return Err(("sla.remind_working_days".into(), format!("must be at most {MAX_DAYS}")));
        }
        if self.report_min_cell == 0 {
            return Err(("sla.report_min_cell".into(), "must be at least 1".into()));
        }
        if self.tick_secs == 0 || self.tick_secs > 3600 {
            return Err(("sla.tick_secs".into(), "must be 1–3600".into()));
        }
        for (i, e) in self.escalation.iter().enumerate() {
            let t = e.target.replace("{province}", "p").replace("{regency}", "r");
            if t.is_empty()
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err((
                    format!("sla.escalation[{i}].target"),
                    "must be ASCII letters, digits, '-', '_', '.', {province} or {regency}".into(),
                ));
            }
            if e.after_working_days > MAX_DAYS {
                return Err((
                    format!("sla.escalation[{i}].after_working_days"),
                    format!("must be at most {MAX_DAYS}"),
                ));
            }
        }
        Ok(())
    }

    pub fn office_hours(&self) -> Result<OfficeHours, (String, String)> {
        let parse = |key: &str, v: &str| {
            NaiveTime::parse_from_str(v, "%H:%M").map_err(|e| (key.to_string(), format!("`{v}` is not HH:MM: {e}")))
        };
        let h = OfficeHours {
            open: parse("sla.office_open", &self.office_open)?,
            close: parse("sla.office_close", &self.office_close)?,
            friday_close: parse("sla.friday_close", &self.friday_close)?,
        };
        if h.open >= h.close || h.open >= h.friday_close {
            return Err((
                "sla.office_open".into(),
                "must be before office_close and friday_close".into(),
            ));
        }
        Ok(h)
    }

    /// Working days for a stage of a complaint of this report type and category.
    pub fn days_for(&self, stage: Stage, report_type: Option<&str>, category: Option<&str>) -> u32 {
        let rule = self.rules.iter().find(|r| {
            r.report_type.as_deref().is_none_or(|t| Some(t) == report_type)
                && r.category.as_deref().is_none_or(|c| Some(c) == category)
        });
        let pick = |f: fn(&SlaRule) -> Option<u32>, d: u32| rule.and_then(f).unwrap_or(d);
        match stage {
            Stage::Verify => pick(|r| r.verify_days, self.verify_days),
            Stage::FollowUp => pick(|r| r.follow_up_days, self.follow_up_days),
            Stage::CitizenReply => pick(|r| r.citizen_reply_days, self.citizen_reply_days),
        }
    }
}

fn default_calendar() -> PathBuf {
    "calendar/national.toml".into()
}
fn default_overrides() -> PathBuf {
    "calendar/overrides.toml".into()
}
fn default_open() -> String {
    "08:00".into()
}
fn default_close() -> String {
    "16:00".into()
}
fn default_friday_close() -> String {
    "16:30".into()
}
fn default_verify() -> u32 {
    3
}
fn default_follow_up() -> u32 {
    5
}
fn default_citizen_reply() -> u32 {
    10
}
fn default_outer() -> u32 {
    60
}
fn default_remind() -> u32 {
    1
}
fn default_min_cell() -> u64 {
    5
}
fn default_tick() -> u64 {
    30
}
fn default_true() -> bool {
    true
}
fn default_escalation() -> Vec<EscalationLevel> {
    vec![
        EscalationLevel {
            after_working_days: 0,
            target: "inspektorat.{regency}".into(),
        },
        EscalationLevel {
            after_working_days: 5,
            target: "ombudsman.{province}".into(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_pick_days_and_bad_values_are_named() {
        let cfg: SlaConfig = toml::from_str(
            r#"
[[rule]]
category = "pungli"
follow_up_days = 2
[[rule]]
report_type = "aspirasi"
follow_up_days = 14
"#,
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.days_for(Stage::FollowUp, Some("pengaduan"), Some("pungli")), 2);
        assert_eq!(cfg.days_for(Stage::FollowUp, Some("aspirasi"), Some("kesehatan")), 14);
        assert_eq!(cfg.days_for(Stage::FollowUp, Some("pengaduan"), None), 5);
        assert_eq!(cfg.days_for(Stage::Verify, Some("pengaduan"), Some("pungli")), 3);
        for (text, key) in [
            ("follow_up_days = 0", "sla.follow_up_days"),
            ("office_close = \"25:00\"", "sla.office_close"),
            ("office_open = \"17:00\"", "sla.office_open"),
            ("[[rule]]\nfollow_up_days = 3", "sla.rule[0]"),
            (
                "[[rule]]\ncategory = \"x\"\nverify_days = 999",
                "sla.rule[0].verify_days",
            ),
            ("[[escalation]]\ntarget = \"a b\"", "sla.escalation[0].target"),
        ] {
            let cfg: SlaConfig = toml::from_str(text).unwrap();
            assert_eq!(cfg.validate().unwrap_err().0, key, "{text}");
        }
        let e = &default_escalation()[0];
        assert_eq!(e.target_for("3171.dinkes"), "inspektorat.3171");
        assert_eq!(e.target_for("kemenkes"), "inspektorat.national");
    }
}
