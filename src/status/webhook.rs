//! Signed webhook push to an agency's own complaint application: every
//! complaint assigned to an agency with `webhook_url` (routed, forwarded,
//! re-routed to it) and every reopening is POSTed there as JSON.
//!
//! Durable: the push is written in the same transaction as the change
//! (tree `status.webhook`), retried with exponential backoff
//! (`webhook_backoff_secs` doubling up to `webhook_max_backoff_secs`) while
//! the endpoint is down, removed after a 2xx, and after
//! `webhook_max_attempts` moved to `status.webhook_dead` with the last
//! reason. Each request carries `X-Pintu-Delivery` (the same on every retry,
//! so the agency can drop a repeat after a lost answer), `X-Pintu-Event`,
//! `X-Pintu-Timestamp` and `X-Pintu-Signature: sha256=<hex HMAC-SHA256(key,
//! "<timestamp>.<body>")>` with the agency's `webhook_key`.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::service::StatusService;
use super::StatusError;

/// One push waiting (or dead).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Push {
    pub agency: String,
    pub event: String,
    pub tracking: String,
    pub body: Vec<u8>,
    pub attempts: u32,
    /// Unix ms before which it is not tried again.
    pub next_at_ms: u64,
    #[serde(default)]
    pub last_error: Option<String>,
}

impl Push {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn now_ms() -> u64 {
    crate::stats::now_ms()
}

/// HMAC-SHA256 over `"<timestamp>.<body>"`, as `sha256=<hex>`.
pub fn sign(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

pub async fn run(svc: Arc<StatusService>, shutdown: CancellationToken) {
    let client = match crate::replies::http_client(Duration::from_secs(10)) {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "webhook push cannot start");
            return;
        }
    };
    loop {
        if let Err(e) = round(&svc, &client).await {
            warn!(error = %e, "webhook push round failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = svc.store.webhook_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Try every push that is due, once.
async fn round(svc: &StatusService, client: &reqwest::Client) -> Result<(), StatusError> {
    let cfg = &svc.cfg.status;
    for kv in svc.store.webhooks.iter() {
        let (key, value) = kv?;
        let Ok(mut push) = serde_json::from_slice::<Push>(&value) else {
            warn!("unreadable webhook push removed");
            svc.store.webhooks.remove(&key)?;
            continue;
        };
        if push.next_at_ms > now_ms() {
            continue;
        }
        let Some(auth) = cfg.agencies.get(&push.agency) else {
            dead(svc, &key, push, "agency no longer configured".into())?;
            continue;
        };
        let (Some(url), Some(wkey)) = (&auth.webhook_url, &auth.webhook_key) else {
            dead(svc, &key, push, "agency has no webhook_url/webhook_key any more".into())?;
            continue;
        };
        let delivery = ulid::Ulid::from_bytes(key.as_ref().try_into().unwrap_or([0; 16])).to_string();
        let ts = chrono::Utc::now().timestamp();
        let result = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-pintu-delivery", &delivery)
            .header("x-pintu-event", &push.event)
            .header("x-pintu-timestamp", ts.to_string())
            .header("x-pintu-signature", sign(wkey.expose().as_bytes(), ts, &push.body))
            .body(push.body.clone())
            .send()
            .await;
        let error = match result {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
            Err(e) => Some(e.without_url().to_string()),
        };
        match error {
            None => {
                svc.store.webhooks.remove(&key)?;
                metrics::counter!("pintu_status_webhooks_total", "outcome" => "delivered").increment(1);
                info!(tracking = %push.tracking, agency = %push.agency, attempts = push.attempts + 1, "webhook delivered");
            }
            Some(reason) => {
                push.attempts += 1;
                metrics::counter!("pintu_status_webhooks_total", "outcome" => "failed").increment(1);
                if push.attempts >= cfg.webhook_max_attempts {
                    dead(svc, &key, push, reason)?;
                } else {
                    let wait = cfg
                        .webhook_backoff_secs
                        .saturating_mul(1u64 << push.attempts.min(20))
                        .min(cfg.webhook_max_backoff_secs);
                    push.next_at_ms = now_ms() + wait * 1000;
                    push.last_error = Some(reason);
                    svc.store.webhooks.insert(&key, push.encode())?;
                }
            }
        }
    }
    Ok(())
}

fn dead(svc: &StatusService, key: &[u8], mut push: Push, reason: String) -> Result<(), StatusError> {
    warn!(tracking = %push.tracking, agency = %push.agency, %reason, "webhook push dead-lettered");
    metrics::counter!("pintu_status_webhooks_total", "outcome" => "dead").increment(1);
    push.last_error = Some(reason);
    svc.store.webhook_dead.insert(key, push.encode())?;
    svc.store.webhooks.remove(key)?;
    Ok(())
}
