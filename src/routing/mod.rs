//! The router (docs/routing.md): which agency gets a complaint, and why.
//!
//! - [`tables`] reads the vocabulary under `config/routing/` and the BPS
//!   region tables under `config/wilayah/`, reporting mistakes as
//!   `file:line: problem`;
//! - [`text`] normalises complaint text and table terms alike;
//! - [`engine`] compiles the tables into one Aho-Corasick matcher and decides;
//! - [`cli`] holds `pintu explain` and `pintu eval`;
//! - [`worker`] is `pintu route`: intake queue -> decision -> agency exchange.
//!
//! The decision is a pure function of the complaint's subject, text and
//! flags, so a redelivered complaint is routed exactly as before.

mod agency;
mod category;
pub mod cli;
mod compile;
mod engine;
mod features;
mod figures;
pub mod ftrl;
mod hashed;
mod misspelt;
mod model;
mod places;
pub(crate) mod reroute;
mod store;
pub mod tables;
pub mod text;
pub mod train;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::complaint::{Complaint, Routing};
use crate::config::Config;

pub use engine::Engine;
pub use model::MODEL_FILE;

#[derive(Debug, Error)]
pub enum RoutingError {
    #[error("{}:{line}: {msg}", file.display())]
    Table { file: PathBuf, line: usize, msg: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("routing tables: {0}")]
    Invalid(String),
    #[error("{}:{line}: {msg}", file.display())]
    Eval { file: PathBuf, line: usize, msg: String },
}

/// docs/routing.md §1 `report_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportType {
    Pengaduan,
    Aspirasi,
    Informasi,
}

impl ReportType {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportType::Pengaduan => "pengaduan",
            ReportType::Aspirasi => "aspirasi",
            ReportType::Informasi => "informasi",
        }
    }
}

/// What the channel a complaint came through says about it (rule 8).
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The region of the number, mailbox or account it was sent to, used
    /// only when the text names no place.
    pub default_region: Option<&'a str>,
    /// A category decided by someone who knows better (the triage desk, or
    /// `pintu train` measuring the place rules alone): rules 2–5 still apply.
    pub category: Option<&'a str>,
}

/// Where the agency's place came from: confidence differs by kind (a named
/// regency is surer than a district guess), so calibration keeps a rate each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PlaceEvidence {
    /// A regency/city or alias named unambiguously.
    Named,
    /// A bare name a city and a regency share (the city by rule 2).
    Shared,
    District,
    Province,
    /// Rule 8: the channel's default region.
    Channel,
    /// No place named: a local unit's category fell back to its national unit.
    #[default]
    None,
    /// The agency does not depend on the place (national unit or override).
    National,
    /// Rule 5 decided.
    Addressee,
}

impl PlaceEvidence {
    pub const ALL: [PlaceEvidence; 8] = [
        PlaceEvidence::Named,
        PlaceEvidence::Shared,
        PlaceEvidence::District,
        PlaceEvidence::Province,
        PlaceEvidence::Channel,
        PlaceEvidence::None,
        PlaceEvidence::National,
        PlaceEvidence::Addressee,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlaceEvidence::Named => "named",
            PlaceEvidence::Shared => "shared",
            PlaceEvidence::District => "district",
            PlaceEvidence::Province => "province",
            PlaceEvidence::Channel => "channel",
            PlaceEvidence::None => "none",
            PlaceEvidence::National => "national",
            PlaceEvidence::Addressee => "addressee",
        }
    }
}

/// The router's output for one complaint (docs/routing.md §1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub category: Option<String>,
    pub region: Option<String>,
    pub agency: String,
    pub report_type: ReportType,
    pub confidential: bool,
    pub anonymous: bool,
    pub reasons: Vec<String>,
    /// Rule 9: how likely `agency` is right, 0–1 (three decimals).
    pub confidence: f64,
    /// When the agency is `triage`: the agency the router would pick next
    /// (the best category's unit), for the human desk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_agency: Option<String>,
    /// What kind of place evidence the agency rests on (for calibration).
    #[serde(skip)]
    pub place: PlaceEvidence,
    /// The next categories after the pick and the place decided: what
    /// [`Engine::alternatives`] turns into agencies when asked (a re-route),
    /// not on every decision.
    #[serde(skip)]
    ranked: category::Ranked,
    /// The calibrated probability of the decided category (`none` too).
    #[serde(skip)]
    p_pick: f32,
    #[serde(skip)]
    region_ix: Option<engine::Region>,
    /// Subject and text as the agency sees them: privacy markers removed.
    #[serde(skip)]
    pub subject: Option<String>,
    #[serde(skip)]
    pub text: String,
}

/// Routing tables directory of a config (`routing.dir`).
pub fn routing_dir(cfg: &Config) -> PathBuf {
    cfg.resolve(&cfg.routing.dir)
}

/// Region tables directory of a config (`routing.wilayah_dir`).
pub fn wilayah_dir(cfg: &Config) -> PathBuf {
    cfg.resolve(&cfg.routing.wilayah_dir)
}

impl Engine {
    /// Read and compile every table.
    pub fn load(routing_dir: &Path, wilayah_dir: &Path) -> Result<Engine, RoutingError> {
        Engine::compile(tables::load(routing_dir, wilayah_dir)?)
    }

    pub fn from_config(cfg: &Config) -> Result<Engine, RoutingError> {
        Engine::load(&routing_dir(cfg), &wilayah_dir(cfg))
    }

    /// The complaint as the agency receives it, with the default options.
    pub fn route(&self, c: &Complaint, routed_at: DateTime<Utc>) -> Complaint {
        self.route_with(c, routed_at, &RouteOptions::default())
    }

    /// The complaint as the agency receives it: decision attached, privacy
    /// markers removed from subject and text, and for an anonymous complaint
    /// nothing that leads back to the citizen (rule 7): no sender, no phone
    /// number or e-mail address in the text, no provider message id (a
    /// WhatsApp `wamid` or Telegram chat id encodes the sender), no media
    /// references, no link to an earlier complaint. The gateway keeps all of
    /// them for the replies. `routed_at` is the only part that depends on
    /// when this runs.
    pub fn route_with(&self, c: &Complaint, routed_at: DateTime<Utc>, opts: &RouteOptions) -> Complaint {
        let ctx = Context {
            default_region: opts.default_region(c),
            category: None,
        };
        let mut d = self.decide_in(c.subject.as_deref(), &c.text, &ctx);
        let mut out = c.clone();
        out.flags.confidential |= d.confidential;
        out.flags.anonymous |= d.anonymous;
        out.text = std::mem::take(&mut d.text);
        out.subject = d.subject.take();
        if out.flags.anonymous {
            out.sender = None;
            out.text = mask_contacts(&out.text);
            out.subject = out.subject.map(|s| mask_contacts(&s));
            out.external_id = None;
            out.in_reply_to = None;
            for a in &mut out.attachments {
                a.reference = None;
                a.name = mask_contacts(&a.name);
            }
        }
        // Rule 9: below the threshold the human desk confirms the guess.
        let mut suggested = d.suggested_agency.take();
        if d.agency != TRIAGE && d.confidence < opts.review_below {
            d.reasons.push(format!(
                "agency triage: confidence {:.2} below routing.review_below {:.2}; suggested {} (rule 9)",
                d.confidence, opts.review_below, d.agency
            ));
            suggested = Some(std::mem::replace(&mut d.agency, TRIAGE.to_string()));
        }
        out.routing = Some(Routing {
            category: d.category,
            region: d.region,
            agency: d.agency,
            report_type: d.report_type.as_str().to_string(),
            reasons: d.reasons,
            router_version: self.version().to_string(),
            routed_at,
            confidence: Some(d.confidence),
            suggested_agency: suggested,
        });
        out
    }
}

/// The agency code of the human desk.
pub const TRIAGE: &str = "triage";

/// Routing settings that come from the config rather than the tables.
#[derive(Debug, Clone, Default)]
pub struct RouteOptions {
    /// Rule 9: decisions with a lower confidence go to triage (0 = off).
    pub review_below: f64,
    /// Rule 8: default region per (channel, recipient).
    pub channel_regions: Vec<ChannelRegion>,
}

impl RouteOptions {
    pub fn from_config(cfg: &Config) -> RouteOptions {
        RouteOptions {
            review_below: cfg.routing.review_below,
            channel_regions: cfg.routing.channel_regions.clone(),
        }
    }

    fn default_region<'a>(&'a self, c: &Complaint) -> Option<&'a str> {
        let recipient = c.recipient.as_deref()?;
        self.channel_regions
            .iter()
            .find(|r| r.channel == c.channel && r.recipient.eq_ignore_ascii_case(recipient))
            .map(|r| r.region.as_str())
    }
}

/// Rule 8: a number, mailbox or account of a regional government.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelRegion {
    pub channel: pintu_channels::Channel,
    /// The short code / number, mailbox address or account the citizen wrote to
    /// (the complaint's `recipient`).
    pub recipient: String,
    /// BPS code: 2 digits (province) or 4 (regency/city).
    pub region: String,
}

/// Check every routing table; for `pintu check`. The error names the file,
/// the line and the problem.
pub fn validate_dir(routing_dir: &Path, wilayah_dir: &Path) -> Result<(), RoutingError> {
    Engine::load(routing_dir, wilayah_dir).map(|_| ())
}

/// [`validate_dir`] on the directories a config names, and the routing
/// settings that refer to the tables (rule 8 regions, rule 9 threshold).
pub fn validate_config(cfg: &Config) -> Result<(), RoutingError> {
    let engine = Engine::from_config(cfg)?;
    let r = &cfg.routing;
    if !(0.0..=1.0).contains(&r.review_below) {
        return Err(RoutingError::Invalid(format!(
            "routing.review_below is {}, must be between 0 and 1",
            r.review_below
        )));
    }
    for (i, cr) in r.channel_regions.iter().enumerate() {
        if !engine.knows_region(&cr.region) {
            return Err(RoutingError::Invalid(format!(
                "routing.channel_regions[{i}].region `{}` is not a BPS province or regency code",
                cr.region
            )));
        }
        if cr.recipient.trim().is_empty() {
            return Err(RoutingError::Invalid(format!(
                "routing.channel_regions[{i}].recipient is empty"
            )));
        }
    }
    Ok(())
}

/// Replace phone numbers and e-mail addresses: an anonymous citizen's
/// signature must not reach the agency.
pub fn mask_contacts(text: &str) -> String {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"(?i)[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}|(?:\+?62[ .\-]?|\b0)8[0-9][0-9 .\-]{6,14}[0-9]").ok()
    });
    let Some(re) = re else { return text.to_string() };
    // One pass can leave a number glued to an address (`a@b.co0812…`: no
    // word boundary before the `0` until the address is replaced), so mask
    // until nothing changes; each pass only shortens what is left to match,
    // and a few passes settle any text.
    let mut out = re.replace_all(text, "[disamarkan]").into_owned();
    for _ in 0..4 {
        match re.replace_all(&out, "[disamarkan]") {
            std::borrow::Cow::Borrowed(_) => break,
            std::borrow::Cow::Owned(next) => out = next,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_phones_and_mail() {
        assert_eq!(
            mask_contacts("Hormat saya, Agus HP 0812-0000-4521 / agus.s@example.org"),
            "Hormat saya, Agus HP [disamarkan] / [disamarkan]"
        );
        assert_eq!(mask_contacts("wa +62 812 3456 7890 ya"), "wa [disamarkan] ya");
        assert_eq!(mask_contacts("hub +6281234567890"), "hub [disamarkan]");
        assert_eq!(mask_contacts("tahun 2024 ada 300 orang"), "tahun 2024 ada 300 orang");
        // Found by the routing fuzz target: a number glued to an address.
        let once = mask_contacts("hubungi a@b.co0812345678 ya");
        assert!(!once.contains("0812345678"), "{once}");
        assert_eq!(mask_contacts(&once), once, "masking is idempotent");
    }
}
