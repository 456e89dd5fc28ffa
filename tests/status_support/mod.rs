//! Support for the status-loop tests, on `crate::support` (the test binary
//! declares `mod support;`): the `[status]` settings of a test gateway, a
//! Kannel-like sendsms that records every MT (and can be switched to fail),
//! and the agency's side (updates over AMQP and HTTP). The router worker
//! runs in-process (`support::spawn_router`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use lapin::options::BasicPublishOptions;
use lapin::BasicProperties;
use parking_lot::Mutex;
use pintu::broker::connect_url as connect;
use pintu::config::Config;
use pintu::status::config::AgencyAuth;

use crate::support::{serve_http, AMQP};

pub const WAIT: Duration = Duration::from_secs(30);
pub const DPUPR: &str = "3273.dpupr";
pub const DPUPR_TOKEN: &str = "tok-dpupr-0123456789abcdef";
pub const DISHUB: &str = "3273.dishub";
pub const DISHUB_TOKEN: &str = "tok-dishub-0123456789abcdef";
pub const TRIAGE_TOKEN: &str = "tok-triage-0123456789abcdef";
pub const DPUPR_HMAC: &str = "hmac-dpupr-0123456789abcdef";

/// MTs the fake SMS gateway received: (to, text).
#[derive(Clone, Default)]
pub struct Sms {
    pub sent: Arc<Mutex<Vec<(String, String)>>>,
    pub down: Arc<AtomicBool>,
}

impl Sms {
    pub fn texts_to(&self, to: &str) -> Vec<String> {
        self.sent
            .lock()
            .iter()
            .filter(|(t, _)| t == to)
            .map(|(_, x)| x.clone())
            .collect()
    }
    pub fn count_containing(&self, to: &str, needle: &str) -> usize {
        self.texts_to(to).iter().filter(|t| t.contains(needle)).count()
    }
}

async fn sendsms(State(sms): State<Sms>, Query(q): Query<HashMap<String, String>>) -> (StatusCode, &'static str) {
    if sms.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "3: Queue full");
    }
    let to = q.get("to").cloned().unwrap_or_default();
    let text = q.get("text").cloned().unwrap_or_default();
    sms.sent.lock().push((to, text));
    (StatusCode::ACCEPTED, "0: Accepted for delivery")
}

/// Start the fake sendsms; returns its URL.
pub async fn fake_sms(sms: Sms) -> String {
    let app = axum::Router::new()
        .route("/cgi-bin/sendsms", get(sendsms))
        .with_state(sms);
    format!("http://{}/cgi-bin/sendsms", serve_http(app).await)
}

/// The status settings of a test config: status on, agencies with tokens,
/// replies to `sms_url` (`spawn_app(|cfg| with_status(cfg, &url))`).
pub fn with_status(cfg: &mut Config, sms_url: &str) {
    cfg.channels.kannel.sendsms_url = Some(sms_url.to_string());
    cfg.replies.max_backoff_secs = 1;
    cfg.amqp.agency_queues = vec!["3273.#".into()];
    cfg.status.enabled = true;
    cfg.status.queries_per_hour = 5;
    let auth = |t: &str, h: Option<&str>| AgencyAuth {
        token: Some(t.into()),
        hmac_key: h.map(Into::into),
        webhook_url: None,
        webhook_key: None,
    };
    cfg.status
        .agencies
        .insert(DPUPR.into(), auth(DPUPR_TOKEN, Some(DPUPR_HMAC)));
    cfg.status.agencies.insert(DISHUB.into(), auth(DISHUB_TOKEN, None));
    cfg.status.agencies.insert("triage".into(), auth(TRIAGE_TOKEN, None));
}

/// Send an SMS MO to the gateway's Kannel webhook; the body it answers.
pub async fn mo(addr: std::net::SocketAddr, id: &str, from: &str, text: &str) -> String {
    let url = format!("http://{addr}/sms/kannel");
    reqwest::Client::new()
        .get(url)
        .query(&[
            ("token", "change-me-kannel"),
            ("to", "1708"),
            ("id", id),
            ("from", from),
            ("text", text),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The tracking code in an MO answer (`OK LPR-…`).
pub fn code_of(answer: &str) -> String {
    pintu::tracking::find_in(answer).unwrap_or_else(|| panic!("no code in {answer:?}"))
}

/// Publish an update on `<prefix>.status` under `key`.
pub async fn publish_update(cfg: &Config, key: &str, body: &serde_json::Value) {
    let conn = connect(AMQP, "test-agency").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    ch.basic_publish(
        pintu::status::topology::exchange(&cfg.amqp.prefix).into(),
        key.into(),
        BasicPublishOptions::default(),
        &serde_json::to_vec(body).unwrap(),
        BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(body["update_id"].as_str().unwrap_or_default().into()),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let _ = conn.close(200, "bye".into()).await;
}

pub fn update(agency: &str, tracking: &str, status: &str, message: Option<&str>) -> serde_json::Value {
    let mut u = serde_json::json!({"update_id": ulid::Ulid::new().to_string(), "tracking": tracking,
        "agency": agency, "status": status, "at": chrono::Utc::now()});
    if let Some(m) = message {
        u["message"] = m.into();
    }
    u
}

/// POST an update with a bearer token: (status, body).
pub async fn post_update(
    addr: std::net::SocketAddr,
    token: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/agency/v1/updates"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}

pub async fn get_json(addr: std::net::SocketAddr, token: &str, path: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}
