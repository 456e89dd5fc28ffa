//! SMS gateway adapters: one file per gateway, sharing the text decoding and UDH
//! handling here.

pub mod generic;
pub mod jasmin;
pub mod kannel;
pub mod twilio;
pub mod udh;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;

use crate::adapter::{AdapterError, AuthError, Parsed, WebRequest};
use crate::auth::{check_source, check_token, IpRule};
use crate::inbound::{Channel, Inbound, Segment};
use crate::normalize::{clean_fragment, normalize_sender, normalize_text};
use crate::secret::Secret;

/// Raw text bytes beyond this are refused: ten concatenated UCS-2 parts are ~1.4 KB,
/// so anything near this size is not an SMS.
pub const MAX_SMS_BYTES: usize = 16 * 1024;

/// Authentication settings every SMS profile shares.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsAuth {
    /// Shared secret, sent by the gateway as `token` query parameter,
    /// `Authorization: Bearer` or `X-Pintu-Token`. Required.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Source addresses allowed (`127.0.0.1`, `10.0.0.0/8`); empty = any.
    #[serde(default)]
    pub allow_ips: Vec<String>,
}

/// Why a profile's settings cannot make an adapter; the field is named so the
/// runtime can report the config key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// An enabled profile has no credential (or an empty one): it would
    /// accept anyone.
    #[error("required when the channel is enabled (an empty value authenticates nobody)")]
    MissingCredential(&'static str),
    #[error("{1}")]
    Invalid(&'static str, String),
}

impl ProfileError {
    /// The settings field at fault (`token`, `allow_ips`, …).
    pub fn field(&self) -> &'static str {
        match self {
            ProfileError::MissingCredential(f) | ProfileError::Invalid(f, _) => f,
        }
    }
}

/// A credential that must be present and non-empty.
pub(crate) fn required(field: &'static str, s: &Option<Secret>) -> Result<Secret, ProfileError> {
    match s {
        Some(s) if !s.is_empty() => Ok(s.clone()),
        _ => Err(ProfileError::MissingCredential(field)),
    }
}

/// A credential that may be absent but, when given, is not empty.
pub(crate) fn optional(field: &'static str, s: &Option<Secret>) -> Result<Option<Secret>, ProfileError> {
    match s {
        Some(s) if s.is_empty() => Err(ProfileError::MissingCredential(field)),
        other => Ok(other.clone()),
    }
}

pub(crate) fn parse_rules(allow_ips: &[String]) -> Result<Vec<IpRule>, ProfileError> {
    allow_ips
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_, String>>()
        .map_err(|e| ProfileError::Invalid("allow_ips", e))
}

impl SmsAuth {
    pub fn rules(&self) -> Result<Vec<IpRule>, String> {
        self.allow_ips.iter().map(|s| s.parse()).collect()
    }
}

/// The token a gateway presented: `?token=`, a bearer header or
/// `X-Pintu-Token`, the first that is not empty.
fn presented_token(req: &WebRequest<'_>) -> Option<String> {
    let query = crate::form::Fields::from_bytes(req.query());
    query
        .non_empty("token")
        .or_else(|| {
            req.header("authorization")
                .and_then(|h| h.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        })
        .or_else(|| {
            req.header("x-pintu-token")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        })
}

/// Check the source address, then the token.
pub(crate) fn check_shared(req: &WebRequest<'_>, token: &Secret, allow: &[IpRule]) -> Result<(), AuthError> {
    check_source(allow, req.remote)?;
    check_token(presented_token(req).as_deref(), token, "token")
}

/// The fields every SMS adapter extracts before building an [`Inbound`].
pub(crate) struct SmsFields {
    pub provider: &'static str,
    pub external_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub text: String,
    pub segment: Option<Segment>,
    pub sent_at: Option<DateTime<Utc>>,
    pub smsc: Option<String>,
}

impl SmsFields {
    pub fn into_inbound(self) -> Result<Inbound, AdapterError> {
        let from = self
            .from
            .filter(|f| !f.trim().is_empty())
            .ok_or(AdapterError::MissingField("from"))?;
        let sender = normalize_sender(&from);
        // Parts are normalised once joined (runtime), keeping their edge spaces.
        let text = match self.segment {
            Some(_) => clean_fragment(&self.text),
            None => normalize_text(&self.text),
        };
        let mut inbound = Inbound::new(Channel::Sms, self.provider, sender, text);
        inbound.external_id = self.external_id.filter(|s| !s.is_empty());
        inbound.recipient = self.to.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        inbound.segment = self.segment;
        inbound.sent_at = self.sent_at;
        if let Some(smsc) = self.smsc.filter(|s| !s.is_empty()) {
            inbound.reply_context.insert("smsc".into(), smsc);
        }
        if let Some(to) = &inbound.recipient {
            inbound.reply_context.insert("reply_from".into(), to.clone());
        }
        Ok(inbound)
    }
}

/// Reject a text field that cannot be an SMS.
pub(crate) fn check_size(bytes: &[u8]) -> Result<(), AdapterError> {
    if bytes.len() > MAX_SMS_BYTES {
        return Err(AdapterError::invalid(
            "text",
            format!("{} bytes is more than an SMS can carry", bytes.len()),
        ));
    }
    Ok(())
}

/// Gateways send times as Unix seconds or `YYYY-MM-DD HH:MM:SS` (UTC); anything
/// else is ignored rather than rejected: the time is informative only.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return Utc.timestamp_opt(secs, 0).single();
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .ok()
        .map(|n| n.and_utc())
}

/// Build the inbound message; an empty SMS (not a part) carries no complaint and
/// is answered as ignored, with the reason counted by the runtime.
pub(crate) fn finish_sms(sms: SmsFields) -> Result<Parsed, AdapterError> {
    let inbound = sms.into_inbound()?;
    if inbound.text.is_empty() && inbound.segment.is_none() {
        return Ok(Parsed::Ignored("empty message".into()));
    }
    Ok(Parsed::Messages(vec![inbound]))
}
