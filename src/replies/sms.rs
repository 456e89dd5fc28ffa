//! SMS reply transports: the send APIs of the SMS gateways.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{classify_status, transient_http, OutboundReply, ReplyTransport, SendError};
use crate::config::{JasminConfig, KannelConfig};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Kannel smsbox `sendsms` (GET), from the short code, through the SMSC the
/// complaint came in on.
pub struct KannelSend {
    url: String,
    username: String,
    password: String,
    from: String,
    http: reqwest::Client,
}

impl KannelSend {
    pub fn new(cfg: &KannelConfig) -> Option<KannelSend> {
        Some(KannelSend {
            url: cfg.sendsms_url.clone()?,
            username: cfg.username.clone().unwrap_or_default(),
            password: cfg.password.clone().unwrap_or_default(),
            from: cfg.from.clone(),
            http: client(),
        })
    }
}

impl ReplyTransport for KannelSend {
    fn provider(&self) -> &str {
        "kannel"
    }

    fn send<'a>(&'a self, reply: &'a OutboundReply) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let from = reply.context.get("reply_from").unwrap_or(&self.from);
            let mut q: Vec<(&str, &str)> = vec![
                ("username", &self.username),
                ("password", &self.password),
                ("from", from),
                ("to", &reply.to),
                ("text", &reply.text),
                ("charset", "UTF-8"),
            ];
            if !reply.text.is_ascii() {
                q.push(("coding", "2"));
            }
            if let Some(smsc) = reply.context.get("smsc") {
                q.push(("smsc", smsc));
            }
            let resp = self
                .http
                .get(&self.url)
                .query(&q)
                .send()
                .await
                .map_err(transient_http)?;
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            classify_status(status, &body)
        })
    }
}

/// Jasmin HTTP API `/send`.
pub struct JasminSend {
    url: String,
    username: String,
    password: String,
    from: String,
    http: reqwest::Client,
}

impl JasminSend {
    pub fn new(cfg: &JasminConfig) -> Option<JasminSend> {
        Some(JasminSend {
            url: cfg.send_url.clone()?,
            username: cfg.username.clone().unwrap_or_default(),
            password: cfg.password.clone().unwrap_or_default(),
            from: cfg.from.clone(),
            http: client(),
        })
    }
}

impl ReplyTransport for JasminSend {
    fn provider(&self) -> &str {
        "jasmin"
    }

    fn send<'a>(&'a self, reply: &'a OutboundReply) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            // Jasmin takes UCS-2 as hex in `hex-content` with coding 8.
            let to = reply.to.trim_start_matches('+');
            let mut form: Vec<(&str, String)> = vec![
                ("username", self.username.clone()),
                ("password", self.password.clone()),
                ("from", self.from.clone()),
                ("to", to.to_string()),
            ];
            if reply.text.is_ascii() {
                form.push(("content", reply.text.clone()));
            } else {
                let hex: String = reply
                    .text
                    .encode_utf16()
                    .flat_map(|u| u.to_be_bytes())
                    .map(|b| format!("{b:02x}"))
                    .collect();
                form.push(("hex-content", hex));
                form.push(("coding", "8".into()));
            }
            let resp = self
                .http
                .post(&self.url)
                .form(&form)
                .send()
                .await
                .map_err(transient_http)?;
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            classify_status(status, &body)?;
            if body.starts_with("Success") {
                Ok(())
            } else {
                Err(SendError::Permanent(format!(
                    "Jasmin answered: {}",
                    body.chars().take(200).collect::<String>()
                )))
            }
        })
    }
}

/// Twilio-style REST `Messages.json` (form POST, basic auth with the account
/// SID and auth token), from the number the citizen wrote to.
pub struct TwilioSend {
    url: String,
    account_sid: String,
    auth_token: String,
    http: reqwest::Client,
}

impl TwilioSend {
    pub fn new(cfg: &pintu_channels::sms::twilio::TwilioConfig) -> Option<TwilioSend> {
        let base = cfg.api_base.clone()?;
        let sid = cfg.account_sid.clone()?;
        Some(TwilioSend {
            url: format!("{}/2010-04-01/Accounts/{sid}/Messages.json", base.trim_end_matches('/')),
            account_sid: sid,
            auth_token: cfg.auth_token.clone().unwrap_or_default(),
            http: client(),
        })
    }
}

impl ReplyTransport for TwilioSend {
    fn provider(&self) -> &str {
        "twilio"
    }

    fn send<'a>(&'a self, reply: &'a OutboundReply) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let from = reply
                .context
                .get("reply_from")
                .ok_or_else(|| SendError::Permanent("no `To` number recorded to reply from".into()))?;
            let form = [
                ("To", reply.to.as_str()),
                ("From", from.as_str()),
                ("Body", reply.text.as_str()),
            ];
            let resp = self
                .http
                .post(&self.url)
                .basic_auth(&self.account_sid, Some(&self.auth_token))
                .form(&form)
                .send()
                .await
                .map_err(transient_http)?;
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            classify_status(status, &body)
        })
    }
}
