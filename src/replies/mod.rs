//! Replies to citizens: the acknowledgement carrying the tracking code.
//!
//! Intake renders the reply and writes it to the outbox in the same transaction
//! as the complaint, so a complaint is never durable without its reply. The
//! relay publishes it to `pintu.outbound`; [`sender`] consumes that queue and
//! hands each reply to the [`ReplyTransport`] of its provider.

pub mod config;
pub mod sender;
pub mod templates;

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use pintu_channels::Channel;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use templates::Templates;

use crate::obs::sanitize;

/// A reply waiting to be sent; the body of messages on `pintu.outbound`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundReply {
    /// ULID of the reply (AMQP `message_id`).
    pub id: String,
    pub complaint_id: String,
    pub tracking: String,
    pub channel: Channel,
    /// Provider that must send it (the one the complaint came through).
    pub provider: String,
    /// Address of the citizen (E.164, e-mail, platform user id).
    pub to: String,
    pub subject: Option<String>,
    pub text: String,
    /// Provider-specific facts from the inbound message (chat id, Message-ID, …).
    pub context: BTreeMap<String, String>,
}

#[derive(Debug, Error)]
pub enum SendError {
    /// Worth retrying (network, 5xx, rate limit).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Retrying cannot help (4xx, bad address): dead-letter at once.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Sends replies for one provider.
pub trait ReplyTransport: Send + Sync {
    fn provider(&self) -> &str;
    fn send<'a>(&'a self, reply: &'a OutboundReply) -> BoxFuture<'a, Result<(), SendError>>;
}

/// Largest provider answer read (into an error message at most); a broken or
/// hostile endpoint cannot make the sender buffer without bound.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The HTTP client every reply transport uses.
pub fn http_client(timeout: std::time::Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
        .user_agent(concat!("pintu/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Status and (bounded) body of a provider's answer.
pub async fn read_answer(mut resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_ANSWER_BYTES {
            break;
        }
    }
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A failed HTTP call to a provider's send API: worth retrying. The URL is left
/// out of the message because it can carry credentials (Kannel's password,
/// Telegram's bot token) and the citizen's number.
pub fn transient_http(e: reqwest::Error) -> SendError {
    SendError::Transient(e.without_url().to_string())
}

/// Classify an HTTP status from a provider's send API. The answer's body goes
/// into the error — and from there into logs and the dead letter's reason —
/// only sanitized: send APIs quote the citizen's number back.
pub fn classify_status(status: u16, body: &str) -> Result<(), SendError> {
    match status {
        200..=299 => Ok(()),
        408 | 425 | 429 | 500..=599 => Err(SendError::Transient(format!("HTTP {status}: {}", sanitize(body)))),
        _ => Err(SendError::Permanent(format!("HTTP {status}: {}", sanitize(body)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_answers_are_sanitized_in_errors() {
        let body = r#"{"code":21211,"message":"The 'To' number +6281234567890 is not a valid phone number."}"#;
        for status in [400, 503] {
            let err = classify_status(status, body).unwrap_err().to_string();
            assert!(!err.contains("6281234567890") && !err.contains("34567"), "{err}");
            assert!(
                err.contains("21211") && err.contains(&format!("HTTP {status}")),
                "{err}"
            );
        }
    }
}
