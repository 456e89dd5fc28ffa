//! Twilio-style Programmable Messaging webhook (form POST, `X-Twilio-Signature`).
//!
//! The signature is base64(HMAC-SHA1(auth token, URL + every POST parameter name
//! and value, sorted by name)) over the URL the provider called.

use base64::Engine;
use http::Method;
use serde::Deserialize;

use super::{check_size, finish_sms, parse_rules, required, ProfileError, SmsFields};
use crate::adapter::{AdapterError, AuthError, Parsed, Receipt, WebRequest, WebResponse, WebhookAdapter};
use crate::auth::{check_source, hmac_sha1, secret_eq, IpRule};
use crate::form::Fields;
use crate::inbound::{Attachment, Channel};
use crate::secret::Secret;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    #[serde(default)]
    pub enabled: bool,
    /// The account's auth token: the signing key. Required when enabled.
    #[serde(default)]
    pub auth_token: Option<Secret>,
    #[serde(default)]
    pub allow_ips: Vec<String>,
    /// Public base URL Twilio calls (`https://pintu.example.go.id`); the signature
    /// covers it, and behind a proxy the local URL differs.
    #[serde(default)]
    pub public_base_url: Option<String>,
    /// REST API base for replies.
    #[serde(default)]
    pub api_base: Option<String>,
    #[serde(default)]
    pub account_sid: Option<String>,
}

pub struct Twilio {
    auth_token: Secret,
    allow: Vec<IpRule>,
}

impl Twilio {
    /// Fails without an auth token: every request must carry its signature.
    pub fn new(cfg: &TwilioConfig) -> Result<Twilio, ProfileError> {
        Ok(Twilio {
            auth_token: required("auth_token", &cfg.auth_token)?,
            allow: parse_rules(&cfg.allow_ips)?,
        })
    }
}

/// The value Twilio puts in `X-Twilio-Signature` for this URL and form body.
pub fn signature(auth_token: &str, url: &str, form_body: &[u8]) -> String {
    let fields = Fields::from_bytes(form_body);
    let mut pairs: Vec<(String, String)> = fields
        .pairs()
        .iter()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    pairs.sort();
    let mut data = url.to_string();
    for (k, v) in pairs {
        data.push_str(&k);
        data.push_str(&v);
    }
    base64::engine::general_purpose::STANDARD.encode(hmac_sha1(auth_token.as_bytes(), data.as_bytes()))
}

impl WebhookAdapter for Twilio {
    fn provider(&self) -> &'static str {
        "twilio"
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn authenticate(&self, req: &WebRequest<'_>) -> Result<(), AuthError> {
        check_source(&self.allow, req.remote)?;
        let presented = req
            .header("x-twilio-signature")
            .ok_or(AuthError::Missing("X-Twilio-Signature"))?;
        let expected = signature(self.auth_token.expose(), req.public_url, req.body);
        if secret_eq(presented.trim().as_bytes(), expected.as_bytes()) {
            Ok(())
        } else {
            Err(AuthError::Invalid("X-Twilio-Signature"))
        }
    }

    fn parse(&self, req: &WebRequest<'_>) -> Result<Parsed, AdapterError> {
        if *req.method != Method::POST {
            return Err(AdapterError::Method(req.method.to_string()));
        }
        let f = Fields::from_bytes(req.body);
        let body = f.raw("Body").unwrap_or_default();
        check_size(body)?;
        let sms = SmsFields {
            provider: "twilio",
            external_id: f.non_empty("MessageSid").or_else(|| f.non_empty("SmsSid")),
            from: f.non_empty("From"),
            to: f.non_empty("To"),
            text: String::from_utf8_lossy(body).into_owned(),
            segment: None,
            sent_at: None,
            smsc: None,
        };
        let num_media: usize = f
            .non_empty("NumMedia")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
            .min(10);
        let mut parsed = finish_sms(sms);
        if let Ok(Parsed::Messages(msgs)) = &mut parsed {
            for m in msgs.iter_mut() {
                for i in 0..num_media {
                    if let Some(url) = f.non_empty(&format!("MediaUrl{i}")) {
                        m.attachments.push(Attachment {
                            name: format!("media{i}"),
                            content_type: f
                                .non_empty(&format!("MediaContentType{i}"))
                                .unwrap_or_else(|| "application/octet-stream".into()),
                            size: 0,
                            sha256: String::new(),
                            reference: Some(url),
                        });
                    }
                }
            }
        }
        parsed
    }

    fn accepted(&self, _receipts: &[Receipt]) -> WebResponse {
        // Replies go out through the durable outbound queue, not inline TwiML.
        WebResponse {
            status: 200,
            content_type: "text/xml",
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>".into(),
        }
    }
}
