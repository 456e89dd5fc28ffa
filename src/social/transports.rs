//! Reply transports of the social channels: each sends the acknowledgement
//! (with the tracking code) back on the channel the complaint came from.
//!
//! - X: `POST /2/tweets` `{"text", "reply": {"in_reply_to_tweet_id"}}` with the
//!   user-context token;
//! - WhatsApp: `POST /{version}/{phone-number-id}/messages` (text, quoting the
//!   citizen's message);
//! - Messenger and Instagram: `POST /{version}/me/messages` with
//!   `recipient.id`, `message.text`, `messaging_type: RESPONSE`;
//! - Telegram: `POST /bot<token>/sendMessage` `{chat_id, text, reply_to_message_id}`.
//!
//! Network errors, 429, 5xx and Graph's rate-limit/transient error codes are
//! temporary (the reply sender retries); other 4xx are permanent. Error texts
//! never include the request URL (Telegram's carries the bot token).

use futures_util::future::BoxFuture;
use pintu_channels::social::{meta, telegram, x};
use pintu_channels::Secret;
use serde_json::{json, Value};

use crate::replies::{classify_status, read_answer, transient_http, OutboundReply, ReplyTransport, SendError};

/// X allows 280 characters per post (weighted; our templates are ASCII-ish).
const X_MAX_CHARS: usize = 280;
/// POST a JSON body (with a bearer token where the API takes one) and read the
/// answer; a transport error is temporary.
async fn post_json(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    body: &serde_json::Value,
) -> Result<(u16, String), SendError> {
    let mut req = http.post(url).json(body);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.map_err(transient_http)?;
    Ok(read_answer(resp).await)
}

fn context<'a>(reply: &'a OutboundReply, key: &str) -> Result<&'a str, SendError> {
    reply
        .context
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SendError::permanent(format!("reply context lacks `{key}`")))
}

fn cut(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// `POST /2/tweets` as a reply to the citizen's tweet.
pub struct XReply {
    http: reqwest::Client,
    url: String,
    token: Secret,
}

impl XReply {
    pub fn new(http: reqwest::Client, api_base: &str, user_access_token: Secret) -> XReply {
        XReply {
            http,
            url: format!("{}/2/tweets", api_base.trim_end_matches('/')),
            token: user_access_token,
        }
    }
}

impl ReplyTransport for XReply {
    fn provider(&self) -> &str {
        x::PROVIDER
    }

    fn send<'a>(&'a self, reply: &'a OutboundReply) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let tweet_id = context(reply, "tweet_id")?;
            let body = json!({
                "text": cut(&reply.text, X_MAX_CHARS),
                "reply": { "in_reply_to_tweet_id": tweet_id },
            });
            let (status, text) = post_json(&self.http, &self.url, Some(self.token.expose()), &body).await?;
            classify_status(status, &text)
        })
    }
}

/// Graph API error codes that mean "later" rather than "never" (throttling,
/// temporary unavailability), whatever the HTTP status.
fn graph_transient(body: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    let err = &v["error"];
    if err["is_transient"].as_bool() == Some(true) {
        return true;
    }
    matches!(
        err["code"].as_i64(),
        Some(1 | 2 | 4 | 17 | 32 | 341 | 613 | 80007 | 130429 | 131000 | 131016 | 131056)
    )
}

fn graph_result(status: u16, body: &str) -> Result<(), SendError> {
    match classify_status(status, body) {
        Err(SendError::Permanent { reason, source }) if graph_transient(body) => {
            Err(SendError::Transient { reason, source })
        }
        other => other,
    }
}

/// Which Graph send endpoint a product uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphProduct {
    Whatsapp,
    Messenger,
    Instagram,
}

/// Graph API send for one product.
pub struct GraphReply {
    http: reqwest::Client,
    /// `{base}/{version}`.
    base: String,
    token: Secret,
    product: GraphProduct,
}

impl GraphReply {
    pub fn new(http: reqwest::Client, graph_base: &str, version: &str, token: Secret, product: GraphProduct) -> Self {
        GraphReply {
            http,
            base: format!("{}/{}", graph_base.trim_end_matches('/'), version),
            token,
            product,
        }
    }

    fn request(&self, reply: &OutboundReply) -> Result<(String, Value), SendError> {
        match self.product {
            GraphProduct::Whatsapp => {
                let phone_number_id = context(reply, "phone_number_id")?;
                if !phone_number_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(SendError::permanent("reply context `phone_number_id` is not an id"));
                }
                let mut body = json!({
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    "to": reply.to,
                    "type": "text",
                    "text": { "preview_url": false, "body": reply.text },
                });
                // Quoting the citizen's message shows which one the code answers.
                if let Some(mid) = reply.context.get("message_id") {
                    body["context"] = json!({ "message_id": mid });
                }
                Ok((format!("{}/{}/messages", self.base, phone_number_id), body))
            }
            GraphProduct::Messenger | GraphProduct::Instagram => Ok((
                format!("{}/me/messages", self.base),
                json!({
                    "recipient": { "id": reply.to },
                    "messaging_type": "RESPONSE",
                    "message": { "text": reply.text },
                }),
            )),
        }
    }
}

impl ReplyTransport for GraphReply {
    fn provider(&self) -> &str {
        match self.product {
            GraphProduct::Whatsapp => meta::WHATSAPP,
            GraphProduct::Messenger => meta::MESSENGER,
            GraphProduct::Instagram => meta::INSTAGRAM,
        }
    }

    fn send<'a>(&'a self, reply: &'a OutboundReply) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let (url, body) = self.request(reply)?;
            let (status, text) = post_json(&self.http, &url, Some(self.token.expose()), &body).await?;
            graph_result(status, &text)
        })
    }
}

/// Telegram `sendMessage`, as a reply to the citizen's message.
pub struct TelegramReply {
    http: reqwest::Client,
    /// Contains the bot token: never logged, never in an error.
    url: Secret,
}

impl TelegramReply {
    pub fn new(http: reqwest::Client, api_base: &str, bot_token: &Secret) -> TelegramReply {
        TelegramReply {
            http,
            url: Secret::new(format!(
                "{}/bot{}/sendMessage",
                api_base.trim_end_matches('/'),
                bot_token.expose()
            )),
        }
    }
}

impl ReplyTransport for TelegramReply {
    fn provider(&self) -> &str {
        telegram::PROVIDER
    }

    fn send<'a>(&'a self, reply: &'a OutboundReply) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let chat_id: i64 = context(reply, "chat_id")?
                .parse()
                .map_err(|e| SendError::permanent_from("reply context `chat_id` is not a number", e))?;
            let mut body = json!({ "chat_id": chat_id, "text": reply.text });
            if let Some(mid) = reply.context.get("message_id").and_then(|m| m.parse::<i64>().ok()) {
                body["reply_to_message_id"] = json!(mid);
                // The citizen may have deleted the message; the code still matters.
                body["allow_sending_without_reply"] = json!(true);
            }
            let (status, text) = post_json(&self.http, self.url.expose(), None, &body).await?;
            classify_status(status, &text)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_codes() {
        let throttled = r#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429}}"#;
        assert!(matches!(graph_result(400, throttled), Err(SendError::Transient { .. })));
        let window = r#"{"error":{"message":"Re-engagement message","code":131047}}"#;
        assert!(matches!(graph_result(400, window), Err(SendError::Permanent { .. })));
        assert!(matches!(graph_result(500, "x"), Err(SendError::Transient { .. })));
        assert!(graph_result(200, "{}").is_ok());
    }

    #[test]
    fn cuts_long_text() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
