//! Messages held by flood control, for operators: `GET /ops/api/flood`,
//! `POST /ops/api/flood/replay`, the `flood` part of the summary, and
//! `pintu flood list|replay`, which call the running gateway (the store
//! belongs to its process: sled locks its directory). (Quarantined e-mail,
//! refused for what it is rather than for how much of it came, is
//! [`super::quarantine`].)

use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::summary::rfc3339_ms;
use super::OpsError;
use crate::config::Config;
use crate::http::{gateway_base, with_ops_token, AppState};
use crate::intake::{ReleaseReport, ReleaseRequest};
use crate::store::held::{self, Held};
use crate::store::Store;

/// One held message as operators see it (no address, no full text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldItem {
    /// Complaint id (what `replay` takes).
    pub id: String,
    pub held_at: String,
    pub channel: String,
    pub provider: String,
    /// Masked sender address.
    pub sender: String,
    /// Same value for every message of one sender.
    pub sender_tag: String,
    pub reason: String,
    pub tracking: String,
    pub preview: String,
}

impl HeldItem {
    fn of(id: String, h: Held) -> HeldItem {
        HeldItem {
            id,
            held_at: rfc3339_ms(h.at_ms),
            channel: h.channel,
            provider: h.provider,
            sender: h.sender,
            sender_tag: h.sender_tag,
            reason: h.reason,
            tracking: h.tracking,
            preview: h.preview,
        }
    }
}

/// `GET /ops/api/flood`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldList {
    /// Messages held now.
    pub held: u64,
    /// The oldest of them, at most `limit`.
    pub items: Vec<HeldItem>,
}

/// The `flood` part of `/ops/api/summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FloodSummary {
    /// Held now, waiting for `pintu flood replay`.
    pub held: u64,
    /// Held during the window (all channels).
    pub last_hour: u64,
    pub per_minute: Vec<u64>,
    /// The oldest held messages, at most ten.
    pub oldest: Vec<HeldItem>,
}

/// The oldest `limit` held messages and how many there are.
pub fn held(store: &Store, limit: usize) -> Result<HeldList, OpsError> {
    let items = held::list(&store.flood_held, limit)
        .map_err(OpsError::Store)?
        .into_iter()
        .map(|(id, h)| HeldItem::of(id, h))
        .collect();
    Ok(HeldList {
        held: store.held.load(std::sync::atomic::Ordering::Relaxed),
        items,
    })
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
}

fn error(status: StatusCode, e: impl std::fmt::Display) -> Response {
    (status, format!("{e}\n")).into_response()
}

pub async fn list_handler(State(st): State<AppState>, Query(q): Query<ListQuery>) -> Response {
    match held(st.intake.store(), q.limit.unwrap_or(100).min(10_000)) {
        Ok(list) => ([(header::CACHE_CONTROL, "no-store")], Json(list)).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.chain()),
    }
}

pub async fn replay_handler(State(st): State<AppState>, Json(req): Json<ReleaseRequest>) -> Response {
    if !req.all && req.ids.is_empty() {
        return error(StatusCode::BAD_REQUEST, "give ids, or all: true");
    }
    match st.intake.release(&req).await {
        Ok(report) => Json(report).into_response(),
        // Not durable: nothing was moved that is not in the outbox.
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn call<T: serde::de::DeserializeOwned>(req: reqwest::RequestBuilder, cfg: &Config) -> Result<T, OpsError> {
    let token = cfg.http.ops_token.as_ref().map(pintu_channels::Secret::expose);
    let resp = with_ops_token(req, token)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(OpsError::Request)?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(OpsError::Request)?;
    if !status.is_success() {
        let text: String = String::from_utf8_lossy(&body).trim().chars().take(200).collect();
        return Err(OpsError::Gateway(format!("HTTP {status}: {text}")));
    }
    serde_json::from_slice(&body).map_err(|source| OpsError::GatewayAnswer {
        what: "unexpected answer",
        source,
    })
}

/// `pintu flood list [--limit N] [--json] [--url]`.
pub async fn list_cli(cfg: &Config, limit: usize, json: bool, url: Option<&str>) -> Result<String, OpsError> {
    let http = reqwest::Client::new();
    let list: HeldList = call(
        http.get(format!(
            "{}/ops/api/flood?limit={limit}",
            gateway_base(cfg.http.addr, url)
        )),
        cfg,
    )
    .await?;
    if json {
        return serde_json::to_string_pretty(&list)
            .map(|t| format!("{t}\n"))
            .map_err(OpsError::Json);
    }
    let mut out = format!("held by flood control: {}\n", list.held);
    for i in &list.items {
        let _ = writeln!(
            out,
            "{}  {}  {}/{}  {} [{}]  {}\n    {}",
            i.id, i.held_at, i.channel, i.provider, i.sender, i.sender_tag, i.tracking, i.preview
        );
    }
    if (list.items.len() as u64) < list.held {
        let _ = writeln!(out, "… {} more (--limit)", list.held - list.items.len() as u64);
    }
    Ok(out)
}

/// `pintu flood replay <id>…|--all [--ack] [--url]`.
pub async fn replay_cli(
    cfg: &Config,
    ids: Vec<String>,
    all: bool,
    ack: bool,
    url: Option<&str>,
) -> Result<String, OpsError> {
    if !all && ids.is_empty() {
        return Err(OpsError::Config("give message ids, or --all".into()));
    }
    let req = ReleaseRequest {
        ids,
        all,
        ack,
        limit: None,
    };
    let http = reqwest::Client::new();
    let report: ReleaseReport = call(
        http.post(format!("{}/ops/api/flood/replay", gateway_base(cfg.http.addr, url)))
            .json(&req),
        cfg,
    )
    .await?;
    let mut out = format!("released {}\n", report.released.len());
    for id in &report.released {
        let _ = writeln!(out, "  {id}");
    }
    if !report.not_held.is_empty() {
        let _ = writeln!(
            out,
            "not held (unknown or released already): {}",
            report.not_held.join(" ")
        );
    }
    Ok(out)
}
