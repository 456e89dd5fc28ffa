//! Kannel `sms-service` (smsbox) MO delivery.
//!
//! get-url template the gateway expects:
//! `/sms/kannel?token=…&id=%I&from=%p&to=%P&text=%a&time=%T&coding=%c&charset=%C&udh=%u&smsc=%i`.
//! post-url sends the text as the body with `X-Kannel-*` headers (token still in
//! the URL). Kannel does not retry a failed call unless `http-request-retry` is
//! set, so the runtime must answer fast and only after the message is durable.

use http::Method;

use super::{
    check_shared, check_size, finish_sms, parse_rules, parse_time, required, udh, ProfileError, SmsAuth, SmsFields,
};
use crate::adapter::{AdapterError, AuthError, Parsed, Receipt, WebRequest, WebResponse, WebhookAdapter};
use crate::auth::{hex_decode, IpRule};
use crate::form::Fields;
use crate::inbound::Channel;
use crate::normalize::charset::{decode, decode_guess, Charset};
use crate::secret::Secret;

pub struct Kannel {
    token: Secret,
    allow: Vec<IpRule>,
}

impl Kannel {
    /// Fails without a (non-empty) token: the profile would be open.
    pub fn new(auth: &SmsAuth) -> Result<Kannel, ProfileError> {
        Ok(Kannel {
            token: required("token", &auth.token)?,
            allow: parse_rules(&auth.allow_ips)?,
        })
    }
}

/// Kannel's `coding`: 0 = 7-bit, 1 = 8-bit data, 2 = UCS-2.
fn text_of(bytes: &[u8], coding: Option<&str>, charset: Option<&str>) -> String {
    if let Some(cs) = charset.and_then(Charset::from_label) {
        return decode(bytes, cs);
    }
    match coding.map(str::trim) {
        Some("2") => decode(bytes, Charset::Utf16Be),
        _ => decode_guess(bytes),
    }
}

fn charset_param(content_type: &str) -> Option<&str> {
    content_type
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"'))
}

impl WebhookAdapter for Kannel {
    fn provider(&self) -> &'static str {
        "kannel"
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn authenticate(&self, req: &WebRequest<'_>) -> Result<(), AuthError> {
        check_shared(req, &self.token, &self.allow)
    }

    fn parse(&self, req: &WebRequest<'_>) -> Result<Parsed, AdapterError> {
        let is_form = req.content_type().starts_with("application/x-www-form-urlencoded");
        let fields = match *req.method {
            Method::GET => Fields::from_bytes(req.query()),
            Method::POST if is_form => Fields::merged(req.query(), req.body),
            Method::POST => return self.parse_post_url(req),
            ref m => return Err(AdapterError::Method(m.to_string())),
        };
        let raw = fields.raw("text").ok_or(AdapterError::MissingField("text"))?;
        check_size(raw)?;
        let udh_bytes = fields.raw("udh").unwrap_or_default();
        let segment = udh::parse(udh_bytes).map_err(|e| AdapterError::invalid("udh", e.to_string()))?;
        let sms = SmsFields {
            provider: "kannel",
            external_id: fields.non_empty("id"),
            from: fields.non_empty("from"),
            to: fields.non_empty("to"),
            text: text_of(
                raw,
                fields.non_empty("coding").as_deref(),
                fields.non_empty("charset").as_deref(),
            ),
            segment,
            sent_at: fields.non_empty("time").as_deref().and_then(parse_time),
            smsc: fields.non_empty("smsc"),
        };
        finish_sms(sms)
    }

    fn accepted(&self, receipts: &[Receipt]) -> WebResponse {
        // smsbox runs with max-messages = 0, so this body is never sent as an SMS;
        // it is for logs and for people calling the endpoint by hand.
        let codes: Vec<&str> = receipts.iter().filter_map(|r| r.tracking.as_deref()).collect();
        WebResponse::text(
            200,
            if codes.is_empty() {
                "OK".to_string()
            } else {
                format!("OK {}", codes.join(" "))
            },
        )
    }
}

impl Kannel {
    fn parse_post_url(&self, req: &WebRequest<'_>) -> Result<Parsed, AdapterError> {
        check_size(req.body)?;
        let h = |n: &str| {
            req.header(n)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let udh_bytes = match h("x-kannel-udh") {
            Some(hexs) => hex_decode(&hexs).ok_or_else(|| AdapterError::invalid("X-Kannel-UDH", "not hex"))?,
            None => Vec::new(),
        };
        let segment = udh::parse(&udh_bytes).map_err(|e| AdapterError::invalid("udh", e.to_string()))?;
        let charset = charset_param(req.content_type()).map(str::to_string);
        let sms = SmsFields {
            provider: "kannel",
            external_id: h("x-kannel-id").or_else(|| Fields::from_bytes(req.query()).non_empty("id")),
            from: h("x-kannel-from"),
            to: h("x-kannel-to"),
            text: text_of(req.body, h("x-kannel-coding").as_deref(), charset.as_deref()),
            segment,
            sent_at: h("x-kannel-time").as_deref().and_then(parse_time),
            smsc: h("x-kannel-smsc"),
        };
        finish_sms(sms)
    }
}
