//! The HTTP API for agencies without AMQP (docs/status.md):
//!
//! - `POST /agency/v1/updates`: one status update (schema status-v1), same
//!   semantics as on `<prefix>.status`;
//! - `GET /agency/v1/complaints/<tracking>`: current stage and history;
//! - `GET /agency/v1/complaints?since=<cursor>&limit=<n>`: the complaints
//!   routed to the caller, as the agency queue carries them (rule 7: an
//!   anonymous complaint without any identifier of the citizen).
//!
//! Every request names its agency by its credential: `Authorization: Bearer
//! <token>` or an HMAC signature (`X-Pintu-Agency`, `X-Pintu-Timestamp`,
//! `X-Pintu-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`).
//! An agency may read and update only complaints routed to it: anything
//! else is 403 (the same answer for a complaint that does not exist), counted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;

use super::contract::StatusUpdate;
use super::record::{HistoryEntry, Record};
use super::service::{StatusService, Submitted};
use crate::complaint::Complaint;

/// Largest update body accepted.
const MAX_BODY: usize = 64 * 1024;

pub fn routes(svc: Arc<StatusService>) -> Router {
    Router::new()
        .route("/agency/v1/updates", post(post_update))
        .route("/agency/v1/complaints", get(list))
        .route("/agency/v1/complaints/{tracking}", get(one))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(svc)
}

fn error(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

fn forbidden() -> Response {
    error(StatusCode::FORBIDDEN, "not a complaint routed to this agency")
}

/// The agency the request authenticates as, if any.
fn authenticate(svc: &StatusService, headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let agencies = &svc.cfg.status.agencies;
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(token) = header("authorization").and_then(|v| v.strip_prefix("Bearer ")) {
        return agencies
            .iter()
            .find(|(_, a)| {
                a.token.as_ref().is_some_and(|t| {
                    !t.is_empty() && pintu_channels::auth::secret_eq(token.trim().as_bytes(), t.expose().as_bytes())
                })
            })
            .map(|(code, _)| code.clone());
    }
    let agency = header("x-pintu-agency")?;
    let key = agencies.get(agency)?.hmac_key.as_ref().filter(|k| !k.is_empty())?;
    let ts: i64 = header("x-pintu-timestamp")?.parse().ok()?;
    let now = chrono::Utc::now().timestamp();
    if now.abs_diff(ts) > svc.cfg.status.signature_skew_secs {
        return None;
    }
    let sig = hex::decode(header("x-pintu-signature")?.strip_prefix("sha256=")?).ok()?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose().as_bytes()).ok()?;
    mac.update(ts.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig).ok()?;
    Some(agency.to_string())
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "agency credentials required")
}

async fn post_update(State(svc): State<Arc<StatusService>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(agency) = authenticate(&svc, &headers, &body) else {
        return unauthorized();
    };
    let u = match StatusUpdate::parse(&body) {
        Ok(u) => u,
        Err(e) => {
            svc.counters.invalid(&agency);
            return error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string());
        }
    };
    if u.agency != agency {
        svc.counters.forbidden(&agency);
        return error(StatusCode::FORBIDDEN, "`agency` is not the authenticated agency");
    }
    match svc.submit(&u).await {
        Ok(Submitted::Applied { tracking, stage }) => (
            StatusCode::OK,
            Json(json!({"tracking": tracking, "stage": stage, "duplicate": false})),
        )
            .into_response(),
        Ok(Submitted::Duplicate { tracking }) => {
            let stage = svc.store.get(&tracking).ok().flatten().map(|r| r.stage);
            (
                StatusCode::OK,
                Json(json!({"tracking": tracking, "stage": stage, "duplicate": true})),
            )
                .into_response()
        }
        Ok(Submitted::Forbidden) => forbidden(),
        Ok(Submitted::Unknown) => {
            svc.counters.forbidden(&agency);
            forbidden()
        }
        Err(e) => {
            tracing::warn!(error = %e, "status update not recorded");
            error(StatusCode::SERVICE_UNAVAILABLE, "not recorded; retry")
        }
    }
}

/// A complaint as its agency sees it.
#[derive(Serialize)]
struct View<'a> {
    tracking: &'a str,
    id: &'a str,
    agency: &'a str,
    stage: super::contract::Stage,
    routed_at: chrono::DateTime<chrono::Utc>,
    cursor: u64,
    history: Vec<&'a HistoryEntry>,
    complaint: &'a Complaint,
    /// Open311 GeoReport v2 names of the same facts (docs/status.md).
    open311: serde_json::Value,
}

fn view<'a>(r: &'a Record, agency: &str) -> View<'a> {
    let last = r.history.last();
    View {
        tracking: &r.tracking,
        id: &r.complaint_id,
        agency: &r.agency,
        stage: r.stage,
        routed_at: r.routed_at,
        cursor: r.seq,
        // Entries of other agencies (before a re-route) keep their notes to themselves.
        history: r.history.iter().filter(|h| h.agency == agency).collect(),
        complaint: &r.complaint,
        open311: json!({
            "service_request_id": r.tracking,
            "status": if matches!(r.stage, super::contract::Stage::Selesai | super::contract::Stage::Ditutup) { "closed" } else { "open" },
            "status_notes": r.last_message,
            "service_code": r.category,
            "agency_responsible": r.agency,
            "requested_datetime": r.complaint.received_at,
            "updated_datetime": last.map(|h| h.recorded_at),
            "description": r.complaint.text,
        }),
    }
}

async fn one(State(svc): State<Arc<StatusService>>, headers: HeaderMap, Path(tracking): Path<String>) -> Response {
    let Some(agency) = authenticate(&svc, &headers, b"") else {
        return unauthorized();
    };
    match svc.store.get(&tracking) {
        Ok(Some(r)) if r.agency == agency => Json(view(&r, &agency)).into_response(),
        Ok(_) => {
            svc.counters.forbidden(&agency);
            forbidden()
        }
        Err(e) => {
            tracing::warn!(error = %e, "status read failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "retry")
        }
    }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    since: u64,
    limit: Option<usize>,
}

async fn list(State(svc): State<Arc<StatusService>>, headers: HeaderMap, Query(p): Query<Page>) -> Response {
    let Some(agency) = authenticate(&svc, &headers, b"") else {
        return unauthorized();
    };
    let limit = p
        .limit
        .unwrap_or(svc.cfg.status.page_limit)
        .clamp(1, svc.cfg.status.page_limit);
    match svc.store.list(&agency, p.since, limit) {
        Ok((records, next)) => {
            let items: Vec<View<'_>> = records.iter().map(|r| view(r, &agency)).collect();
            Json(json!({"agency": agency, "complaints": items, "next": next})).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "status list failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "retry")
        }
    }
}
