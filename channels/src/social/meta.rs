//! Meta webhooks: WhatsApp Cloud API, Messenger and Instagram messaging.
//!
//! One callback URL serves all three (`object` tells them apart):
//! `GET` with `hub.mode=subscribe`, `hub.verify_token` and `hub.challenge` is the
//! subscription check (the challenge is echoed as plain text); every `POST`
//! carries `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`.
//!
//! Meta redelivers an unacknowledged batch for days, so the provider message id
//! (`wamid.…`, `mid`) is the external id and a redelivery is a duplicate.
//! Statuses, echoes of our own sends, reactions and read receipts are valid
//! events without a complaint: ignored, with the reason.

mod messaging;
mod whatsapp;

use std::path::PathBuf;

use http::Method;
use serde::Deserialize;
use serde_json::Value;

use super::{json_body, query_param, Collected};
use crate::adapter::{AdapterError, AuthError, Parsed, WebRequest, WebResponse, WebhookAdapter};
use crate::auth::{check_token, verify_hex_sha256};
use crate::inbound::Channel;
use crate::secret::Secret;

/// Provider names; each has its own reply transport.
pub const WHATSAPP: &str = "meta-whatsapp";
pub const MESSENGER: &str = "meta-messenger";
pub const INSTAGRAM: &str = "meta-instagram";

/// `[channels.meta.webhook]`: the app's webhook credentials.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaWebhookConfig {
    /// The string entered as "Verify token" in the app dashboard.
    #[serde(default)]
    pub verify_token: Option<Secret>,
    #[serde(default)]
    pub verify_token_file: Option<PathBuf>,
    /// The app secret: the key of `X-Hub-Signature-256`.
    #[serde(default)]
    pub app_secret: Option<Secret>,
    #[serde(default)]
    pub app_secret_file: Option<PathBuf>,
}

/// Which products this deployment serves; events for the others are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetaProducts {
    pub whatsapp: bool,
    pub facebook: bool,
    pub instagram: bool,
}

pub struct MetaWebhook {
    verify_token: Secret,
    app_secret: Secret,
    products: MetaProducts,
}

impl MetaWebhook {
    pub fn new(verify_token: Secret, app_secret: Secret, products: MetaProducts) -> MetaWebhook {
        MetaWebhook {
            verify_token,
            app_secret,
            products,
        }
    }
}

/// Ids are opaque but never contain spaces or control characters.
fn id_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| b.is_ascii_graphic())
}

fn url_ok(s: &str) -> bool {
    s.len() <= 4096 && s.starts_with("https://") && s.bytes().all(|b| b.is_ascii_graphic())
}

#[derive(Deserialize)]
struct Envelope {
    object: String,
    #[serde(default)]
    entry: Vec<Value>,
}

impl WebhookAdapter for MetaWebhook {
    fn provider(&self) -> &'static str {
        // One callback serves three products; each message names its own
        // provider (`meta-whatsapp`, `meta-messenger`, `meta-instagram`).
        "meta"
    }

    fn channel(&self) -> Channel {
        Channel::Whatsapp
    }

    fn authenticate(&self, req: &WebRequest<'_>) -> Result<(), AuthError> {
        if *req.method == Method::GET {
            let presented = query_param(req, "hub.verify_token");
            return check_token(presented.as_deref(), &self.verify_token, "hub.verify_token");
        }
        if *req.method != Method::POST {
            return Ok(());
        }
        verify_hex_sha256(
            req.header("x-hub-signature-256"),
            self.app_secret.expose().as_bytes(),
            req.body,
        )
    }

    fn parse(&self, req: &WebRequest<'_>) -> Result<Parsed, AdapterError> {
        if *req.method == Method::GET {
            let mode = query_param(req, "hub.mode").ok_or(AdapterError::MissingField("hub.mode"))?;
            if mode != "subscribe" {
                return Err(AdapterError::invalid("hub.mode", "must be `subscribe`"));
            }
            let challenge = query_param(req, "hub.challenge").ok_or(AdapterError::MissingField("hub.challenge"))?;
            // Echoed back verbatim: keep it to the short token Meta sends.
            if challenge.is_empty() || challenge.len() > 256 || !challenge.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(AdapterError::invalid("hub.challenge", "not a challenge token"));
            }
            return Ok(Parsed::Respond(WebResponse::text(200, challenge)));
        }
        if *req.method != Method::POST {
            return Err(AdapterError::Method(req.method.to_string()));
        }
        let env: Envelope = json_body(req.body)?;
        let mut out = Collected::default();
        match env.object.as_str() {
            "whatsapp_business_account" if self.products.whatsapp => whatsapp::collect(env.entry, &mut out),
            "page" if self.products.facebook => messaging::collect(Channel::Facebook, env.entry, &mut out),
            "instagram" if self.products.instagram => messaging::collect(Channel::Instagram, env.entry, &mut out),
            "whatsapp_business_account" | "page" | "instagram" => {
                out.ignore(format!("`{}` is not enabled here", env.object))
            }
            other => out.ignore(format!(
                "object `{}` not handled",
                other.chars().take(40).collect::<String>()
            )),
        }
        Ok(out.finish())
    }
}
