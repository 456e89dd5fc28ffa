//! `/ops/api/sla`: open and overdue complaints per agency (JSON), behind the
//! ops token like every other `/ops/api/*` route.

use axum::http::header;
use axum::routing::get;
use axum::{Json, Router};

use super::worker::SlaHandle;
use crate::http::AppState;

/// The routes; without a running clock the answer says `enabled: false`.
pub fn routes(handle: Option<SlaHandle>) -> Router<AppState> {
    Router::new().route(
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
}
