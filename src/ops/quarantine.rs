//! Quarantined e-mail for operators: the `/ops` panel's data, the API behind
//! `pintu quarantine list|replay`, and those commands.
//!
//! - `GET /ops/api/quarantine?limit=N` → `{"entries": [...]}`, newest first;
//! - `POST /ops/api/quarantine/{id}/replay` → `{"id", "tracking", "duplicate"}`
//!   (404 unknown id, 422 cannot be a complaint or its raw copy is gone);
//!
//! both behind the ops token like every `/ops/api` path. The commands ask the
//! running gateway: the records live in its sled database, which only one
//! process can open.

use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::summary::rfc3339_ms;
use super::OpsError;
use crate::config::Config;
use crate::email::quarantine::{Quarantine, QuarantineRecord};
use crate::email::replay::{replay, ReplayError, ReplayOutcome};
use crate::http::{gateway_base, with_ops_token, AppState};
use crate::stats::Ranked;

/// Most entries one listing returns.
const MAX_LIST: usize = 1000;
/// Records looked at for the 24-hour counts of the summary.
const MAX_COUNTED: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayedEntry {
    pub at: String,
    pub tracking: String,
}

/// One quarantined message as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub at: String,
    pub mailbox: String,
    pub folder: String,
    pub uid: u32,
    pub reason: String,
    pub detail: String,
    pub size: u64,
    pub message_id: Option<String>,
    /// Masked.
    pub sender: Option<String>,
    pub subject: Option<String>,
    /// The raw copy is still stored (replay needs it).
    pub raw_available: bool,
    pub replayed: Option<ReplayedEntry>,
}

/// The `email_quarantine` part of `/ops/api/summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineSummary {
    /// Messages quarantined in the last 24 hours.
    pub last_24h: u64,
    pub by_reason: Vec<Ranked>,
    /// The ten most recent, newest first.
    pub recent: Vec<Entry>,
}

fn entry(cfg: &Config, r: QuarantineRecord) -> Entry {
    let raw_available = r.raw_sha256.as_deref().is_some_and(|sha| {
        sha.len() == 64
            && sha.bytes().all(|b| b.is_ascii_hexdigit())
            && cfg.gateway_data_dir().join("raw").join(format!("{sha}.eml")).exists()
    });
    Entry {
        id: r.id,
        at: rfc3339_ms(r.at.saturating_mul(1000)),
        mailbox: r.mailbox,
        folder: r.folder,
        uid: r.uid,
        reason: r.reason,
        detail: r.detail,
        size: r.size,
        message_id: r.message_id,
        sender: r.sender,
        subject: r.subject,
        raw_available,
        replayed: r.replayed.map(|p| ReplayedEntry {
            at: rfc3339_ms(p.at.saturating_mul(1000)),
            tracking: p.tracking,
        }),
    }
}

/// Newest first, at most `limit`.
pub fn list(cfg: &Config, db: &sled::Db, limit: usize) -> Result<Vec<Entry>, sled::Error> {
    let q = Quarantine::open(db)?;
    Ok(q.recent(limit.min(MAX_LIST))
        .into_iter()
        .map(|r| entry(cfg, r))
        .collect())
}

/// What the summary shows.
pub fn summary(cfg: &Config, db: &sled::Db, now_secs: u64) -> QuarantineSummary {
    let Ok(q) = Quarantine::open(db) else {
        return QuarantineSummary::default();
    };
    let day = q.since(now_secs.saturating_sub(86_400), MAX_COUNTED);
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    for r in &day {
        *counts.entry(r.reason.clone()).or_default() += 1;
    }
    let mut by_reason: Vec<Ranked> = counts.into_iter().map(|(name, count)| Ranked { name, count }).collect();
    by_reason.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    QuarantineSummary {
        last_24h: day.len() as u64,
        by_reason,
        recent: q.recent(10).into_iter().map(|r| entry(cfg, r)).collect(),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

fn error(status: StatusCode, msg: String) -> Response {
    (status, Json(serde_json::json!({ "error": msg }))).into_response()
}

async fn list_handler(State(st): State<AppState>, Query(q): Query<ListQuery>) -> Response {
    match list(&st.cfg, st.intake.db(), q.limit.unwrap_or(100)) {
        Ok(entries) => (
            [(header::CACHE_CONTROL, "no-store")],
            Json(serde_json::json!({ "entries": entries })),
        )
            .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn replay_handler(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match replay(&st.cfg, &st.intake, &id).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e @ ReplayError::NotFound(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ (ReplayError::NoRawCopy { .. } | ReplayError::Rejected(_) | ReplayError::ParseTimeout(_))) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// The API routes (mounted where the ops token guards them).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ops/api/quarantine", get(list_handler))
        .route("/ops/api/quarantine/{id}/replay", post(replay_handler))
}

fn client() -> Result<reqwest::Client, OpsError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(OpsError::Request)
}

fn with_token(req: reqwest::RequestBuilder, cfg: &Config) -> reqwest::RequestBuilder {
    with_ops_token(req, cfg.http.ops_token.as_ref().map(pintu_channels::Secret::expose))
}

async fn body(resp: reqwest::Response) -> Result<serde_json::Value, OpsError> {
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(OpsError::Request)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(
        |_| serde_json::json!({ "error": String::from_utf8_lossy(&bytes).chars().take(200).collect::<String>() }),
    );
    if !status.is_success() {
        let msg = v["error"].as_str().unwrap_or("").to_string();
        return Err(OpsError::Gateway(format!("HTTP {status}: {msg}")));
    }
    Ok(v)
}

/// `pintu quarantine list [--limit] [--json] [--url]`.
pub async fn list_cli(cfg: &Config, limit: usize, json: bool, url: Option<&str>) -> Result<String, OpsError> {
    let req = client()?.get(format!(
        "{}/ops/api/quarantine?limit={limit}",
        gateway_base(cfg.http.addr, url)
    ));
    let resp = with_token(req, cfg).send().await.map_err(OpsError::NoAnswer)?;
    let v = body(resp).await?;
    if json {
        return serde_json::to_string_pretty(&v)
            .map(|s| s + "\n")
            .map_err(OpsError::Json);
    }
    let entries: Vec<Entry> =
        serde_json::from_value(v["entries"].clone()).map_err(|source| OpsError::GatewayAnswer {
            what: "unexpected answer",
            source,
        })?;
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str("no quarantined e-mail\n");
        return Ok(out);
    }
    let _ = writeln!(
        out,
        "{:<26}  {:<20}  {:<16}  {:<24}  subject / detail",
        "id", "at", "reason", "sender"
    );
    for e in &entries {
        let status = match &e.replayed {
            Some(r) => format!(" [replayed as {}]", r.tracking),
            None if !e.raw_available => " [no raw copy]".to_string(),
            None => String::new(),
        };
        let what: String = e
            .subject
            .clone()
            .unwrap_or_else(|| e.detail.clone())
            .chars()
            .take(60)
            .collect();
        let _ = writeln!(
            out,
            "{:<26}  {:<20}  {:<16}  {:<24}  {what}{status}",
            e.id,
            e.at,
            e.reason,
            e.sender.as_deref().unwrap_or("-")
        );
    }
    Ok(out)
}

/// `pintu quarantine replay <id>...`: one line per id; an error if any failed.
pub async fn replay_cli(cfg: &Config, ids: &[String], url: Option<&str>) -> Result<String, OpsError> {
    let http = client()?;
    let mut out = String::new();
    let mut failed = Vec::new();
    for id in ids {
        let req = http.post(format!(
            "{}/ops/api/quarantine/{id}/replay",
            gateway_base(cfg.http.addr, url)
        ));
        let result = match with_token(req, cfg).send().await {
            Ok(resp) => body(resp).await,
            Err(e) => Err(OpsError::NoAnswer(e)),
        };
        match result.and_then(|v| serde_json::from_value::<ReplayOutcome>(v).map_err(OpsError::Json)) {
            Ok(o) if o.duplicate => {
                let _ = writeln!(out, "{id}: already ingested as {}", o.tracking);
            }
            Ok(o) => {
                let _ = writeln!(out, "{id}: ingested as {}", o.tracking);
            }
            Err(e) => {
                let _ = writeln!(out, "{id}: {}", e.chain());
                failed.push(id.clone());
            }
        }
    }
    if failed.is_empty() {
        Ok(out)
    } else {
        Err(OpsError::Gateway(format!(
            "{out}{} of {} not replayed",
            failed.len(),
            ids.len()
        )))
    }
}
