//! `/ops/api/sla` (open and overdue complaints per agency) and
//! `/ops/api/report` (the policy report as JSON or CSV), behind the ops
//! token like every other `/ops/api/*` route.

use std::collections::HashMap;

use axum::extract::Query as QueryParams;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;

use super::report::{self, Dim, Query};
use super::worker::SlaHandle;
use crate::http::AppState;

const REPORT_HTML: &str = include_str!("assets/report.html");
const REPORT_JS: &str = include_str!("assets/report.js");

/// Only our own script and style, our own API, no framing (as `/ops`).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `/ops/report` and its script: public like `/ops`, they hold no data (the
/// script asks `/ops/api/report` with the token).
pub fn page_routes() -> Router {
    Router::new()
        .route(
            "/ops/report",
            get(|| async { asset("text/html; charset=utf-8", REPORT_HTML) }),
        )
        .route(
            "/ops/report.js",
            get(|| async { asset("text/javascript; charset=utf-8", REPORT_JS) }),
        )
}

/// The routes; without a running clock the answers say `enabled: false`.
pub fn routes(handle: Option<SlaHandle>) -> Router<AppState> {
    let h2 = handle.clone();
    Router::new()
        .route(
            "/ops/api/sla",
            get(move || {
                let handle = handle.clone();
                async move {
                    let body = match &handle {
                        Some(h) => serde_json::json!({"enabled": true, "summary": h.summary.get()}),
                        None => serde_json::json!({"enabled": false}),
                    };
                    ([(header::CACHE_CONTROL, "no-store")], Json(body))
                }
            }),
        )
        .route(
            "/ops/api/report",
            get(move |QueryParams(p): QueryParams<HashMap<String, String>>| {
                let handle = h2.clone();
                async move { report_answer(handle, p).await }
            }),
        )
}

fn bad(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, msg).into_response()
}

async fn report_answer(handle: Option<SlaHandle>, p: HashMap<String, String>) -> Response {
    let Some(h) = handle else {
        return (StatusCode::NOT_FOUND, "the deadline clock is off (sla.enabled = false)").into_response();
    };
    let date = |key: &str| -> Result<NaiveDate, String> {
        let v = p.get(key).ok_or_else(|| format!("`{key}` is required (YYYY-MM-DD)"))?;
        NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|e| format!("`{key}`: `{v}` is not a date: {e}"))
    };
    let (from, to) = match (date("from"), date("to")) {
        (Ok(f), Ok(t)) if f <= t => (f, t),
        (Ok(_), Ok(_)) => return bad("`from` is after `to`".into()),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    let by = match Dim::parse_list(p.get("by").map_or("region,category,agency,channel", String::as_str)) {
        Ok(by) => by,
        Err(e) => return bad(e),
    };
    let q = Query {
        from,
        to,
        by,
        k: h.engine.planner.cfg.report_min_cell,
    };
    let index = h.engine.index.clone();
    let done = tokio::task::spawn_blocking(move || report::run(&index, &q)).await;
    let r = match done {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    match p.get("format").map(String::as_str) {
        Some("csv") => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            report::to_csv(&r),
        )
            .into_response(),
        None | Some("json") => ([(header::CACHE_CONTROL, "no-store")], Json(r)).into_response(),
        Some(other) => bad(format!("format `{other}`: csv or json")),
    }
}
