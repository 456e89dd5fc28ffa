//! Twilio-style Programmable Messaging webhook (form POST, `X-Twilio-Signature`).
//!
//! The signature is base64(HMAC-SHA1(auth token, URL + every POST parameter name
//! and value, sorted by name)) over the URL the provider called: behind a proxy
//! that is `channels.twilio.public_base_url` + the path and query received.
//!
//! Twilio's WhatsApp senders arrive as `From=whatsapp:+62…`: the number is the
//! citizen (msisdn, channel `whatsapp`) and the reply goes back through Twilio
//! with the same prefix. A photo-only MMS (`NumMedia=1`, empty `Body`) is a
//! complaint with its media references.

use base64::Engine;
use http::Method;
use serde::Deserialize;

use super::{check_size, parse_rules, required, ProfileError, SmsFields};
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
    public_base_url: Option<String>,
}

impl Twilio {
    /// Fails without an auth token: every request must carry its signature.
    pub fn new(cfg: &TwilioConfig) -> Result<Twilio, ProfileError> {
        let public_base_url = match cfg.public_base_url.as_deref().map(str::trim) {
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
                Some(u.trim_end_matches('/').to_string())
            }
            Some(u) if !u.is_empty() => {
                return Err(ProfileError::Invalid(
                    "public_base_url",
                    format!("`{u}` is not an http(s) URL"),
                ))
            }
            _ => None,
        };
        Ok(Twilio {
            auth_token: required("auth_token", &cfg.auth_token)?,
            allow: parse_rules(&cfg.allow_ips)?,
            public_base_url,
        })
    }
}

/// Address prefix of Twilio's WhatsApp senders and numbers.
pub const WHATSAPP_PREFIX: &str = "whatsapp:";

/// `whatsapp:+62…` → (`+62…`, true); anything else unchanged.
fn strip_whatsapp(addr: &str) -> (String, bool) {
    let a = addr.trim();
    match a.get(..WHATSAPP_PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(WHATSAPP_PREFIX) => (a[WHATSAPP_PREFIX.len()..].trim().to_string(), true),
        _ => (a.to_string(), false),
    }
}

/// Media URLs are Twilio API links; anything else is not kept as a reference.
fn media_url_ok(s: &str) -> bool {
    s.len() <= 4096 && s.starts_with("https://") && s.bytes().all(|b| b.is_ascii_graphic())
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
        // Twilio signs the URL it called, not the one a proxy forwarded to.
        let configured;
        let url = match &self.public_base_url {
            Some(base) => {
                configured = format!("{base}{}", req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
                configured.as_str()
            }
            None => req.public_url,
        };
        let expected = signature(self.auth_token.expose(), url, req.body);
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
        let (from, whatsapp) = match f.non_empty("From") {
            Some(raw) => {
                let (a, w) = strip_whatsapp(&raw);
                (Some(a), w)
            }
            None => (None, false),
        };
        let to = f.non_empty("To").map(|t| strip_whatsapp(&t).0);
        let sms = SmsFields {
            provider: "twilio",
            external_id: f.non_empty("MessageSid").or_else(|| f.non_empty("SmsSid")),
            from,
            to,
            text: String::from_utf8_lossy(body).into_owned(),
            segment: None,
            sent_at: None,
            smsc: None,
        };
        let mut m = sms.into_inbound()?;
        let num_media: usize = f
            .non_empty("NumMedia")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
            .min(10);
        for i in 0..num_media {
            if let Some(url) = f.non_empty(&format!("MediaUrl{i}")).filter(|u| media_url_ok(u)) {
                m.attachments.push(Attachment {
                    name: format!("media{i}"),
                    content_type: f
                        .non_empty(&format!("MediaContentType{i}"))
                        .filter(|c| c.len() <= 255)
                        .unwrap_or_else(|| "application/octet-stream".into()),
                    size: 0,
                    sha256: String::new(),
                    reference: Some(url),
                });
            }
        }
        // A photo is a complaint too; only a message with nothing in it is not.
        if m.text.is_empty() && m.attachments.is_empty() {
            return Ok(Parsed::Ignored("empty message".into()));
        }
        if whatsapp {
            m.channel = Channel::Whatsapp;
            // Twilio answers on WhatsApp only from and to prefixed addresses.
            if let Some(to) = &m.recipient {
                m.reply_context
                    .insert("reply_from".into(), format!("{WHATSAPP_PREFIX}{to}"));
            }
            m.reply_context.insert("address_prefix".into(), WHATSAPP_PREFIX.into());
        }
        Ok(Parsed::Messages(vec![m]))
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

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue, Method, Uri};

    use super::*;
    use crate::inbound::{Inbound, SenderKind};

    const TOKEN: &str = "twilio-secret-0123456789";

    fn adapter(public_base_url: Option<&str>) -> Twilio {
        Twilio::new(&TwilioConfig {
            enabled: true,
            auth_token: Some(TOKEN.into()),
            public_base_url: public_base_url.map(str::to_string),
            ..Default::default()
        })
        .unwrap()
    }

    /// A form POST to `/sms/twilio` as the server saw it (`local_url`), signed
    /// over `signed_url`.
    fn run(t: &Twilio, form: &str, local_url: &str, signed_url: &str) -> Result<Parsed, String> {
        let uri: Uri = "/sms/twilio".parse().unwrap();
        let mut headers = HeaderMap::new();
        let sig = signature(TOKEN, signed_url, form.as_bytes());
        headers.insert("x-twilio-signature", HeaderValue::from_str(&sig).unwrap());
        let req = WebRequest {
            method: &Method::POST,
            uri: &uri,
            public_url: local_url,
            headers: &headers,
            body: form.as_bytes(),
            remote: None,
        };
        t.authenticate(&req).map_err(|e| e.to_string())?;
        t.parse(&req).map_err(|e| e.to_string())
    }

    fn one(p: Parsed) -> Inbound {
        match p {
            Parsed::Messages(mut m) if m.len() == 1 => m.remove(0),
            other => panic!("expected one message, got {other:?}"),
        }
    }

    const URL: &str = "https://pintu.example.go.id/sms/twilio";

    #[test]
    fn photo_only_mms_keeps_its_media() {
        let form = "MessageSid=MM1&From=%2B6281234567009&To=%2B621708&Body=&NumMedia=1\
                    &MediaUrl0=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC1%2FMessages%2FMM1%2FMedia%2FME1\
                    &MediaContentType0=image%2Fjpeg";
        let m = one(run(&adapter(None), form, URL, URL).unwrap());
        assert_eq!(m.text, "");
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].content_type, "image/jpeg");
        assert!(m.attachments[0].reference.as_deref().unwrap().ends_with("/Media/ME1"));
        // Without media an empty message is still nothing to file.
        let empty = "MessageSid=SM2&From=%2B6281234567009&To=%2B621708&Body=&NumMedia=0";
        assert!(matches!(
            run(&adapter(None), empty, URL, URL).unwrap(),
            Parsed::Ignored(_)
        ));
        // A media URL that is not https is not kept as a reference.
        let odd = "MessageSid=MM3&From=%2B6281234567009&To=%2B621708&Body=&NumMedia=1&MediaUrl0=javascript%3Aalert(1)";
        assert!(matches!(
            run(&adapter(None), odd, URL, URL).unwrap(),
            Parsed::Ignored(_)
        ));
    }

    #[test]
    fn whatsapp_senders_are_numbers_answered_on_whatsapp() {
        let form =
            "MessageSid=SM9&From=whatsapp%3A%2B6281234567009&To=whatsapp%3A%2B14155238886&Body=Jalan+rusak&NumMedia=0";
        let m = one(run(&adapter(None), form, URL, URL).unwrap());
        assert_eq!(m.sender.kind, SenderKind::Msisdn);
        assert_eq!(m.sender.address, "+6281234567009");
        assert_eq!(m.channel, Channel::Whatsapp);
        assert_eq!(m.provider, "twilio");
        assert_eq!(m.recipient.as_deref(), Some("+14155238886"));
        assert_eq!(
            m.reply_context.get("reply_from").map(String::as_str),
            Some("whatsapp:+14155238886")
        );
        assert_eq!(
            m.reply_context.get("address_prefix").map(String::as_str),
            Some("whatsapp:")
        );
        // Plain SMS keeps its channel and no prefix.
        let sms = "MessageSid=SM10&From=%2B6281234567009&To=%2B621708&Body=Jalan+rusak";
        let m = one(run(&adapter(None), sms, URL, URL).unwrap());
        assert_eq!((m.channel, m.reply_context.get("address_prefix")), (Channel::Sms, None));
    }

    #[test]
    fn signature_is_checked_against_the_configured_public_url() {
        let form = "MessageSid=SM11&From=%2B6281234567009&To=%2B621708&Body=Air+mati";
        // Behind a proxy the server sees a local URL; Twilio signed the public one.
        let local = "http://127.0.0.1:8080/sms/twilio";
        assert!(run(&adapter(None), form, local, URL).is_err());
        let proxied = adapter(Some("https://pintu.example.go.id/"));
        assert!(run(&proxied, form, local, URL).is_ok());
        assert!(run(&proxied, form, local, "https://evil.example/sms/twilio").is_err());
    }
}
