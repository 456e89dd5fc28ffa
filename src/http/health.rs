//! `/healthz` (the gateway can accept complaints: up, and its store takes
//! writes), `/readyz` (that, plus broker connected and outbox backlog under
//! the threshold) and `/metrics` (Prometheus).
//!
//! A full disk or a failed store fails `/healthz` as well as `/readyz`: the
//! webhooks answer 503 then, so a load balancer must stop sending traffic
//! here. A broker outage fails only `/readyz`: intake goes on into the outbox.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::AppState;

pub async fn healthz(State(st): State<AppState>) -> Response {
    let store = st.intake.store().health.state();
    match store.detail() {
        None => "ok\n".into_response(),
        Some(detail) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store {}: {detail}\n", store.name()),
        )
            .into_response(),
    }
}

pub async fn readyz(State(st): State<AppState>) -> Response {
    let connected = st.relay.connected.load(Ordering::Relaxed);
    let backlog = st.intake.store().outbox_depth();
    let max = st.cfg.outbox.ready_max_backlog;
    let store = st.intake.store().health.state();
    let writable = store.detail().is_none();
    let ready = connected && backlog <= max && writable;
    let body = json!({
        "ready": ready,
        "broker_connected": connected,
        "outbox_backlog": backlog,
        "outbox_backlog_max": max,
        "store": store.name(),
        "store_detail": store.detail(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

pub async fn metrics(State(st): State<AppState>) -> Response {
    metrics::gauge!("pintu_outbox_depth").set(st.intake.store().outbox_depth() as f64);
    metrics::gauge!("pintu_broker_connected").set(if st.relay.connected.load(Ordering::Relaxed) {
        1.0
    } else {
        0.0
    });
    ([("content-type", "text/plain; version=0.0.4")], st.metrics.render()).into_response()
}
