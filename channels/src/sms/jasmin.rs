//! Jasmin SMS gateway HTTP MO callback.
//!
//! Jasmin POSTs `id, from, to, origin-connector, priority, coding, validity,
//! content, binary` and retries 3 times, 30 s apart, unless the body of the
//! answer is exactly `ACK/Jasmin`.

use http::Method;

use super::{check_shared, check_size, finish_sms, parse_rules, required, ProfileError, SmsAuth, SmsFields};
use crate::adapter::{AdapterError, AuthError, Parsed, Receipt, WebRequest, WebResponse, WebhookAdapter};
use crate::auth::{hex_decode, IpRule};
use crate::form::Fields;
use crate::inbound::Channel;
use crate::normalize::charset::{decode, decode_guess, Charset};
use crate::secret::Secret;

pub struct Jasmin {
    token: Secret,
    allow: Vec<IpRule>,
}

impl Jasmin {
    /// Fails without a (non-empty) token: the profile would be open.
    pub fn new(auth: &SmsAuth) -> Result<Jasmin, ProfileError> {
        Ok(Jasmin {
            token: required("token", &auth.token)?,
            allow: parse_rules(&auth.allow_ips)?,
        })
    }
}

/// SMPP data_coding as Jasmin forwards it: 0 SMSC default (GSM-7 already
/// converted to bytes), 1 IA5/ASCII, 3 Latin-1, 8 UCS-2.
fn text_of(bytes: &[u8], coding: Option<&str>) -> String {
    match coding.map(str::trim) {
        Some("8") => decode(bytes, Charset::Utf16Be),
        Some("3") => decode(bytes, Charset::Latin1),
        _ => decode_guess(bytes),
    }
}

impl WebhookAdapter for Jasmin {
    fn provider(&self) -> &'static str {
        "jasmin"
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn authenticate(&self, req: &WebRequest<'_>) -> Result<(), AuthError> {
        check_shared(req, &self.token, &self.allow)
    }

    fn parse(&self, req: &WebRequest<'_>) -> Result<Parsed, AdapterError> {
        let fields = match *req.method {
            Method::POST => Fields::merged(req.query(), req.body),
            Method::GET => Fields::from_bytes(req.query()),
            ref m => return Err(AdapterError::Method(m.to_string())),
        };
        // `binary` is the hex of the exact PDU bytes; prefer it over `content`,
        // which a proxy may have re-encoded.
        let bytes = match fields.non_empty("binary") {
            Some(hexs) => hex_decode(&hexs).ok_or_else(|| AdapterError::invalid("binary", "not hex"))?,
            None => fields
                .raw("content")
                .ok_or(AdapterError::MissingField("content"))?
                .to_vec(),
        };
        check_size(&bytes)?;
        let sms = SmsFields {
            provider: "jasmin",
            external_id: fields.non_empty("id"),
            from: fields.non_empty("from"),
            to: fields.non_empty("to"),
            text: text_of(&bytes, fields.non_empty("coding").as_deref()),
            segment: None,
            sent_at: None,
            smsc: fields.non_empty("origin-connector"),
        };
        finish_sms(sms)
    }

    fn accepted(&self, _receipts: &[Receipt]) -> WebResponse {
        WebResponse::text(200, "ACK/Jasmin")
    }
}
