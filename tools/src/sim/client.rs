//! The platforms' side of a webhook: payloads in the documented shapes, signed
//! (or authenticated) exactly as Meta, Telegram and X do it.

use std::time::{SystemTime, UNIX_EPOCH};

use pintu_channels::auth::hmac_sha256;
use serde_json::{json, Value};

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `X-Hub-Signature-256` value: `sha256=<hex HMAC-SHA256(app secret, body)>`.
pub fn meta_signature(app_secret: &str, body: &[u8]) -> String {
    let mac = hmac_sha256(app_secret.as_bytes(), body);
    format!("sha256={}", hex::encode(mac))
}

/// `x-twitter-webhooks-signature` value.
pub fn x_signature(consumer_secret: &str, body: &[u8]) -> String {
    pintu_channels::social::x::signature(consumer_secret, body)
}

/// A WhatsApp Cloud API text message notification.
pub fn whatsapp_text(phone_number_id: &str, from: &str, name: &str, wamid: &str, text: &str) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "1708", "phone_number_id": phone_number_id},
                    "contacts": [{"profile": {"name": name}, "wa_id": from}],
                    "messages": [{
                        "from": from, "id": wamid, "timestamp": now_secs().to_string(),
                        "type": "text", "text": {"body": text}
                    }]
                },
                "field": "messages"
            }]
        }]
    })
}

/// A Messenger (`object: page`) or Instagram (`object: instagram`) message event.
pub fn messaging_text(object: &str, recipient_id: &str, sender_id: &str, mid: &str, text: &str) -> Value {
    json!({
        "object": object,
        "entry": [{
            "id": recipient_id,
            "time": now_millis(),
            "messaging": [{
                "sender": {"id": sender_id},
                "recipient": {"id": recipient_id},
                "timestamp": now_millis(),
                "message": {"mid": mid, "text": text}
            }]
        }]
    })
}

/// A Telegram `Update` with a private text message.
pub fn telegram_text(
    update_id: i64,
    user_id: i64,
    first_name: &str,
    username: &str,
    message_id: i64,
    text: &str,
) -> Value {
    let mut from = json!({"id": user_id, "is_bot": false, "first_name": first_name, "language_code": "id"});
    let mut chat = json!({"id": user_id, "type": "private", "first_name": first_name});
    if !username.is_empty() {
        from["username"] = json!(username);
        chat["username"] = json!(username);
    }
    json!({
        "update_id": update_id,
        "message": {"message_id": message_id, "from": from, "chat": chat, "date": now_secs(), "text": text}
    })
}

/// An Account Activity `tweet_create_events` delivery of one mention.
pub fn x_mention_event(
    for_user_id: &str,
    our_username: &str,
    tweet_id: &str,
    author_id: &str,
    screen_name: &str,
    text: &str,
) -> Value {
    json!({
        "for_user_id": for_user_id,
        "tweet_create_events": [{
            "created_at": chrono::Utc::now().format("%a %b %d %H:%M:%S +0000 %Y").to_string(),
            "id_str": tweet_id,
            "text": format!("@{our_username} {text}"),
            "truncated": false,
            "user": {"id_str": author_id, "screen_name": screen_name, "name": screen_name},
            "entities": {"user_mentions": [{"id_str": for_user_id, "screen_name": our_username}]}
        }]
    })
}

/// What the webhook answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

async fn post(url: &str, header: (&str, String), body: &Value) -> Result<Answer, reqwest::Error> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header(header.0, header.1)
        .body(bytes)
        .send()
        .await?;
    Ok(Answer {
        status: resp.status().as_u16(),
        body: resp.text().await.unwrap_or_default(),
    })
}

/// POST a Meta notification with its `X-Hub-Signature-256`.
pub async fn send_meta(url: &str, app_secret: &str, body: &Value) -> Result<Answer, reqwest::Error> {
    let sig = meta_signature(app_secret, &serde_json::to_vec(body).unwrap_or_default());
    post(url, ("x-hub-signature-256", sig), body).await
}

/// POST a Telegram update with its secret-token header.
pub async fn send_telegram(url: &str, secret_token: &str, body: &Value) -> Result<Answer, reqwest::Error> {
    post(url, ("x-telegram-bot-api-secret-token", secret_token.to_string()), body).await
}

/// POST an Account Activity event with `x-twitter-webhooks-signature`.
pub async fn send_x(url: &str, consumer_secret: &str, body: &Value) -> Result<Answer, reqwest::Error> {
    let sig = x_signature(consumer_secret, &serde_json::to_vec(body).unwrap_or_default());
    post(url, ("x-twitter-webhooks-signature", sig), body).await
}

async fn get(url: &str, query: &[(&str, &str)]) -> Result<Answer, reqwest::Error> {
    let resp = reqwest::Client::new().get(url).query(query).send().await?;
    Ok(Answer {
        status: resp.status().as_u16(),
        body: resp.text().await.unwrap_or_default(),
    })
}

/// Meta's subscription check.
pub async fn meta_verify(url: &str, verify_token: &str, challenge: &str) -> Result<Answer, reqwest::Error> {
    get(
        url,
        &[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", verify_token),
            ("hub.challenge", challenge),
        ],
    )
    .await
}

/// X's CRC check.
pub async fn x_crc(url: &str, crc_token: &str) -> Result<Answer, reqwest::Error> {
    get(url, &[("crc_token", crc_token)]).await
}

/// The `response_token` X expects for a CRC token.
pub fn x_crc_expected(consumer_secret: &str, crc_token: &str) -> String {
    x_signature(consumer_secret, crc_token.as_bytes())
}
