//! A generic JSON SMS webhook for gateways without a dedicated adapter.
//!
//! `POST /sms/generic` with
//! `{"id": "…", "from": "0812…", "to": "1708", "text": "…", "time": "RFC 3339",
//!   "concat": {"ref": 42, "total": 2, "seq": 1}}`.
//! Authenticated by `Authorization: Bearer <token>` and/or
//! `X-Pintu-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.

use http::Method;
use serde::Deserialize;

use super::{check_shared, check_size, finish_sms, parse_time, SmsAuth, SmsFields};
use crate::adapter::{AdapterError, AuthError, Parsed, WebRequest, WebhookAdapter};
use crate::auth::{verify_hex_sha256, IpRule};
use crate::inbound::{Channel, Segment};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(flatten)]
    pub auth: SmsAuth,
    /// HMAC-SHA256 key for `X-Pintu-Signature`; when set the signature is required.
    #[serde(default)]
    pub hmac_secret: Option<String>,
}

pub struct Generic {
    token: Option<String>,
    hmac: Option<String>,
    allow: Vec<IpRule>,
}

impl Generic {
    pub fn new(cfg: &GenericConfig) -> Result<Generic, String> {
        Ok(Generic {
            token: cfg.auth.token.clone(),
            hmac: cfg.hmac_secret.clone(),
            allow: cfg.auth.rules()?,
        })
    }
}

#[derive(Deserialize)]
struct Body {
    id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    text: Option<String>,
    time: Option<String>,
    concat: Option<Concat>,
}

#[derive(Deserialize)]
struct Concat {
    #[serde(rename = "ref")]
    reference: u16,
    total: u8,
    seq: u8,
}

impl WebhookAdapter for Generic {
    fn provider(&self) -> &'static str {
        "generic"
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn authenticate(&self, req: &WebRequest<'_>) -> Result<(), AuthError> {
        check_shared(req, self.token.as_deref(), &self.allow)?;
        match &self.hmac {
            Some(secret) => verify_hex_sha256(req.header("x-pintu-signature"), secret.as_bytes(), req.body),
            None => Ok(()),
        }
    }

    fn parse(&self, req: &WebRequest<'_>) -> Result<Parsed, AdapterError> {
        if *req.method != Method::POST {
            return Err(AdapterError::Method(req.method.to_string()));
        }
        let body: Body = serde_json::from_slice(req.body).map_err(|e| AdapterError::Malformed(e.to_string()))?;
        let text = body.text.ok_or(AdapterError::MissingField("text"))?;
        check_size(text.as_bytes())?;
        let segment = match body.concat {
            Some(c) if c.total == 0 || c.seq == 0 || c.seq > c.total => {
                return Err(AdapterError::invalid(
                    "concat",
                    format!("part {} of {}", c.seq, c.total),
                ))
            }
            Some(c) if c.total > 1 => Some(Segment {
                reference: c.reference,
                total: c.total,
                seq: c.seq,
            }),
            _ => None,
        };
        let sms = SmsFields {
            provider: "generic",
            external_id: body.id,
            from: body.from,
            to: body.to,
            text,
            segment,
            sent_at: body.time.as_deref().and_then(parse_time),
            smsc: None,
        };
        finish_sms(sms)
    }
}
