//! A generic JSON SMS webhook for gateways without a dedicated adapter.
//!
//! `POST /sms/generic` with
//! `{"id": "…", "from": "0812…", "to": "1708", "text": "…", "time": "RFC 3339",
//!   "concat": {"ref": 42, "total": 2, "seq": 1}}`.
//! Authenticated by `Authorization: Bearer <token>` and/or
//! `X-Pintu-Signature: sha256=<hex HMAC-SHA256(secret, body)>`: at least one
//! of `token` and `hmac_secret` must be configured, and each configured one is
//! checked.

use http::Method;
use serde::Deserialize;

use super::{
    check_shared, check_size, finish_sms, optional, parse_rules, parse_time, ProfileError, SmsAuth, SmsFields,
};
use crate::adapter::{AdapterError, AuthError, Parsed, WebRequest, WebhookAdapter};
use crate::auth::{check_source, verify_hex_sha256, IpRule};
use crate::inbound::{Channel, Segment};
use crate::secret::Secret;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(flatten)]
    pub auth: SmsAuth,
    /// HMAC-SHA256 key for `X-Pintu-Signature`; when set the signature is required.
    #[serde(default)]
    pub hmac_secret: Option<Secret>,
}

pub struct Generic {
    token: Option<Secret>,
    hmac: Option<Secret>,
    allow: Vec<IpRule>,
}

impl Generic {
    /// Fails unless a token or an HMAC key (not empty) is configured: a
    /// profile without either would accept anyone.
    pub fn new(cfg: &GenericConfig) -> Result<Generic, ProfileError> {
        let token = optional("token", &cfg.auth.token)?;
        let hmac = optional("hmac_secret", &cfg.hmac_secret)?;
        if token.is_none() && hmac.is_none() {
            return Err(ProfileError::MissingCredential("token"));
        }
        Ok(Generic {
            token,
            hmac,
            allow: parse_rules(&cfg.auth.allow_ips)?,
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
        check_source(&self.allow, req.remote)?;
        if let Some(token) = &self.token {
            check_shared(req, token, &self.allow)?;
        }
        match &self.hmac {
            Some(secret) => verify_hex_sha256(req.header("x-pintu-signature"), secret.expose().as_bytes(), req.body),
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

#[cfg(test)]
mod tests {
    use http::{HeaderMap, Method, Uri};

    use super::*;

    fn auth(g: &Generic, query: &str) -> Result<(), AuthError> {
        let uri: Uri = format!("/sms/generic{query}").parse().unwrap();
        let headers = HeaderMap::new();
        let req = WebRequest {
            method: &Method::POST,
            uri: &uri,
            public_url: "",
            headers: &headers,
            body: b"{}",
            remote: None,
        };
        g.authenticate(&req)
    }

    #[test]
    fn no_credential_no_profile() {
        let cfg = |token: Option<&str>, hmac: Option<&str>| GenericConfig {
            enabled: true,
            auth: SmsAuth {
                token: token.map(Secret::from),
                allow_ips: vec![],
            },
            hmac_secret: hmac.map(Secret::from),
        };
        assert_eq!(
            Generic::new(&cfg(None, None)).err(),
            Some(ProfileError::MissingCredential("token"))
        );
        assert_eq!(
            Generic::new(&cfg(Some(""), None)).err(),
            Some(ProfileError::MissingCredential("token"))
        );
        assert_eq!(
            Generic::new(&cfg(None, Some(""))).err(),
            Some(ProfileError::MissingCredential("hmac_secret"))
        );
        let g = Generic::new(&cfg(Some("gN-8mN1bV4cX7zL0kJ3h"), None)).unwrap();
        assert_eq!(auth(&g, "?token="), Err(AuthError::Missing("token")));
        assert_eq!(auth(&g, ""), Err(AuthError::Missing("token")));
        assert_eq!(auth(&g, "?token=gN-8mN1bV4cX7zL0kJ3h"), Ok(()));
    }
}
