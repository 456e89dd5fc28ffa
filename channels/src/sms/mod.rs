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

/// Raw text bytes beyond this are refused: ten concatenated UCS-2 parts are ~1.4 KB,
/// so anything near this size is not an SMS.
pub const MAX_SMS_BYTES: usize = 16 * 1024;

/// Authentication settings every SMS profile shares.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsAuth {
    /// Shared secret, sent by the gateway as `token` query parameter or
    /// `Authorization: Bearer`.
    #[serde(default)]
    pub token: Option<String>,
    /// Source addresses allowed (`127.0.0.1`, `10.0.0.0/8`); empty = any.
    #[serde(default)]
    pub allow_ips: Vec<String>,
}

impl SmsAuth {
    pub fn rules(&self) -> Result<Vec<IpRule>, String> {
        self.allow_ips.iter().map(|s| s.parse()).collect()
    }
}

/// Check the source address, then the token from the query or a bearer header.
pub(crate) fn check_shared(req: &WebRequest<'_>, token: Option<&str>, allow: &[IpRule]) -> Result<(), AuthError> {
    check_source(allow, req.remote)?;
    let query = crate::form::Fields::from_bytes(req.query());
    let presented = query
        .text("token")
        .or_else(|| {
            req.header("authorization")
                .and_then(|h| h.strip_prefix("Bearer "))
                .map(str::to_string)
        })
        .or_else(|| req.header("x-pintu-token").map(str::to_string));
    check_token(presented.as_deref(), token, "token")
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
