//! Replies to citizens: the acknowledgement carrying the tracking code.
//!
//! Intake renders the reply and writes it to the outbox in the same transaction
//! as the complaint, so a complaint is never durable without its reply. The
//! relay publishes it to `pintu.outbound`; [`sender`] consumes that queue and
//! hands each reply to the [`ReplyTransport`] of its provider.

pub(crate) mod config;
pub(crate) mod sender;
pub(crate) mod templates;

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

/// Why a reply was not sent. `reason` is the whole text that goes into the
/// log line and the dead letter's `x-pintu-reason`, so it carries the cause's
/// words too; `source` keeps the cause itself (when there is one) for whoever
/// walks [`std::error::Error::source`].
#[derive(Debug, Error)]
pub enum SendError {
    /// Worth retrying (network, 5xx, rate limit).
    #[error("temporary failure: {reason}")]
    Transient {
        reason: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Retrying cannot help (4xx, bad address): dead-letter at once.
    #[error("permanent failure: {reason}")]
    Permanent {
        reason: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl SendError {
    /// A temporary failure known only by its text (an HTTP status and answer).
    pub fn transient(reason: impl Into<String>) -> SendError {
        SendError::Transient {
            reason: reason.into(),
            source: None,
        }
    }

    /// A permanent failure known only by its text (a missing reply context).
    pub fn permanent(reason: impl Into<String>) -> SendError {
        SendError::Permanent {
            reason: reason.into(),
            source: None,
        }
    }

    /// A temporary failure caused by `source`; `reason` should quote it.
    pub fn transient_from(
        reason: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> SendError {
        SendError::Transient {
            reason: reason.into(),
            source: Some(source.into()),
        }
    }

    /// A permanent failure caused by `source`; `reason` should quote it.
    pub fn permanent_from(
        reason: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> SendError {
        SendError::Permanent {
            reason: reason.into(),
            source: Some(source.into()),
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent { .. })
    }
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
    let e = e.without_url();
    SendError::transient_from(e.to_string(), e)
}

/// Classify an HTTP status from a provider's send API. The answer's body goes
/// into the error — and from there into logs and the dead letter's reason —
/// only sanitized: send APIs quote the citizen's number back.
pub fn classify_status(status: u16, body: &str) -> Result<(), SendError> {
    match status {
        200..=299 => Ok(()),
        408 | 425 | 429 | 500..=599 => Err(SendError::transient(format!("HTTP {status}: {}", sanitize(body)))),
        _ => Err(SendError::permanent(format!("HTTP {status}: {}", sanitize(body)))),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    /// The reqwest error stays the source, without the URL that would show
    /// the bot token; the reason recorded on the dead letter is its text.
    #[tokio::test]
    async fn a_failed_call_keeps_the_http_error() {
        let http = http_client(std::time::Duration::from_secs(2)).unwrap();
        let e = http
            .post("http://127.0.0.1:9/botSECRET-TOKEN/sendMessage")
            .send()
            .await
            .unwrap_err();
        let err = transient_http(e);
        let SendError::Transient { reason, .. } = &err else {
            panic!("{err:?}");
        };
        let cause = err.source().and_then(|s| s.downcast_ref::<reqwest::Error>());
        assert!(cause.is_some_and(|c| c.url().is_none() && c.is_connect()), "{err:?}");
        assert_eq!(Some(reason.clone()), cause.map(ToString::to_string));
        assert!(!format!("{err:?}").contains("SECRET-TOKEN"), "{err:?}");
        assert!(classify_status(503, "busy").unwrap_err().source().is_none());
    }

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
