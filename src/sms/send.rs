//! SMS reply transports: the send APIs of the SMS gateways.

use std::time::Duration;

use futures_util::future::BoxFuture;
use pintu_channels::Secret;

use super::config::{JasminConfig, KannelConfig};
use crate::replies::{
    classify_status, http_client, read_answer, transient_http, OutboundReply, ReplyTransport, SendError,
};

fn client() -> reqwest::Client {
    http_client(Duration::from_secs(15)).unwrap_or_else(|_| reqwest::Client::new())
}

/// An SMS gateway's send API and the account Pintu uses on it.
struct GatewayAccount {
    url: String,
    username: String,
    password: Secret,
    /// Default sender (the short code).
    from: String,
    http: reqwest::Client,
}

impl GatewayAccount {
    /// `None` when no send URL is configured (the gateway then gets no replies).
    fn new(url: &Option<String>, username: &Option<String>, password: &Option<Secret>, from: &str) -> Option<Self> {
        Some(GatewayAccount {
            url: url.clone()?,
            username: username.clone().unwrap_or_default(),
            password: password.clone().unwrap_or_default(),
            from: from.to_string(),
            http: client(),
        })
    }
}

/// Kannel smsbox `sendsms` (GET), from the short code, through the SMSC the
/// complaint came in on.
pub struct KannelSend(GatewayAccount);

impl KannelSend {
    pub fn new(cfg: &KannelConfig) -> Option<KannelSend> {
        GatewayAccount::new(&cfg.sendsms_url, &cfg.username, &cfg.password, &cfg.from).map(KannelSend)
    }
}

impl ReplyTransport for KannelSend {
    fn provider(&self) -> &str {
        "kannel"
    }

    fn send<'a>(&'a self, reply: &'a OutboundReply) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let acct = &self.0;
            let from = reply.context.get("reply_from").unwrap_or(&acct.from);
            let mut q: Vec<(&str, &str)> = vec![
                ("username", &acct.username),
                ("password", acct.password.expose()),
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
            let resp = acct
                .http
                .get(&acct.url)
                .query(&q)
                .send()
                .await
                .map_err(transient_http)?;
            let (status, body) = read_answer(resp).await;
            classify_status(status, &body)
        })
    }
}

/// Jasmin HTTP API `/send`.
pub struct JasminSend(GatewayAccount);

impl JasminSend {
    pub fn new(cfg: &JasminConfig) -> Option<JasminSend> {
        GatewayAccount::new(&cfg.send_url, &cfg.username, &cfg.password, &cfg.from).map(JasminSend)
    }
}

impl ReplyTransport for JasminSend {
    fn provider(&self) -> &str {
        "jasmin"
    }

    fn send<'a>(&'a self, reply: &'a OutboundReply) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            // Jasmin takes UCS-2 as hex in `hex-content` with coding 8.
            let acct = &self.0;
            let to = reply.to.trim_start_matches('+');
            let mut form: Vec<(&str, String)> = vec![
                ("username", acct.username.clone()),
                ("password", acct.password.expose().to_string()),
                ("from", acct.from.clone()),
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
            let resp = acct
                .http
                .post(&acct.url)
                .form(&form)
                .send()
                .await
                .map_err(transient_http)?;
            let (status, body) = read_answer(resp).await;
            classify_status(status, &body)?;
            if body.starts_with("Success") {
                Ok(())
            } else {
                Err(SendError::permanent(format!(
                    "Jasmin answered: {}",
                    crate::obs::sanitize(&body)
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
    auth_token: Secret,
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
                .ok_or_else(|| SendError::permanent("no `To` number recorded to reply from"))?;
            // WhatsApp over Twilio: both addresses carry the `whatsapp:` prefix
            // (recorded at intake), or Twilio would send an SMS instead.
            let prefix = reply.context.get("address_prefix").map(String::as_str).unwrap_or("");
            let to = format!("{prefix}{}", reply.to);
            let form = [
                ("To", to.as_str()),
                ("From", from.as_str()),
                ("Body", reply.text.as_str()),
            ];
            let resp = self
                .http
                .post(&self.url)
                .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
                .form(&form)
                .send()
                .await
                .map_err(transient_http)?;
            let (status, body) = read_answer(resp).await;
            classify_status(status, &body)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Arc, Mutex};

    use axum::extract::State;
    use axum::routing::post;
    use axum::{Form, Router};
    use pintu_channels::sms::twilio::TwilioConfig;
    use pintu_channels::Channel;

    use super::*;

    type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

    async fn messages(State(seen): State<Seen>, Form(f): Form<HashMap<String, String>>) -> &'static str {
        seen.lock().unwrap().push(f);
        "{}"
    }

    #[tokio::test]
    async fn whatsapp_replies_keep_the_whatsapp_prefix() {
        let seen: Seen = Arc::default();
        let app = Router::new()
            .route("/2010-04-01/Accounts/AC1/Messages.json", post(messages))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let send = TwilioSend::new(&TwilioConfig {
            enabled: true,
            auth_token: Some("twilio-secret-0123456789".into()),
            api_base: Some(format!("http://{addr}")),
            account_sid: Some("AC1".into()),
            ..Default::default()
        })
        .unwrap();
        let reply = |context: &[(&str, &str)]| OutboundReply {
            id: "r".into(),
            complaint_id: "c".into(),
            tracking: "LPR-222222".into(),
            channel: Channel::Whatsapp,
            provider: "twilio".into(),
            to: "+6281234567009".into(),
            subject: None,
            text: "Terima kasih".into(),
            context: context
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        };
        send.send(&reply(&[
            ("reply_from", "whatsapp:+14155238886"),
            ("address_prefix", "whatsapp:"),
        ]))
        .await
        .unwrap();
        send.send(&reply(&[("reply_from", "+621708")])).await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0]["To"], "whatsapp:+6281234567009");
        assert_eq!(seen[0]["From"], "whatsapp:+14155238886");
        assert_eq!(
            (seen[1]["To"].as_str(), seen[1]["From"].as_str()),
            ("+6281234567009", "+621708")
        );
    }
}
