//! Operations: the `/ops` page, its JSON API, `pintu status`, dead-letter
//! tools (`pintu dead list|replay`) and quarantined e-mail (`pintu
//! quarantine list|replay`).
//!
//! The page itself is static (HTML/CSS/JS compiled into the binary, no CDN) and
//! carries no data, so it is served without the ops token; everything with data
//! (`/ops/api/*`) sits behind the token middleware of [`crate::http`]. The page's
//! script takes `?token=` once, keeps it in `sessionStorage` and sends it as a
//! bearer token.

pub(crate) mod config;
pub mod dead;
pub mod flood;
mod monitor;
pub mod quarantine;
mod queues;
pub mod status;
mod summary;

use std::sync::Arc;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::AppState;
use crate::relay::RelayStatus;
use crate::store::Store;

pub use monitor::Monitor;
pub use queues::Role;
pub use summary::Summary;

#[derive(Debug, Error)]
pub enum OpsError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("broker unreachable: {0}")]
    Unreachable(String),
    #[error("management API: {0}")]
    Management(String),
    /// The management API did not answer (the URL, which carries the
    /// credentials, is left out: `without_url`).
    #[error("management API: {0}")]
    ManagementHttp(#[source] reqwest::Error),
    #[error("management API: unexpected answer (not a JSON array): {0}")]
    ManagementAnswer(#[source] serde_json::Error),
    #[error("configuration: {0}")]
    Config(String),
    /// A setting a library refused; `what` names it.
    #[error("configuration: {what}: {source}")]
    Setting {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("gateway: {0}")]
    Gateway(String),
    /// The gateway's answer is not the document `what` names.
    #[error("gateway: {what}: {source}")]
    GatewayAnswer {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The gateway's ops API did not answer at all.
    #[error("gateway: the gateway does not answer")]
    NoAnswer(#[source] reqwest::Error),
    /// A request to the gateway's ops API failed; the source says how.
    #[error("gateway")]
    Request(#[source] reqwest::Error),
    /// The gateway's own store could not be read.
    #[error("store")]
    Store(#[from] crate::store::StoreError),
    /// A JSON document could not be written.
    #[error("JSON")]
    Json(#[from] serde_json::Error),
}

impl OpsError {
    /// The error and every source, one line (`gateway: error sending
    /// request: connection refused`), for a page or an HTTP answer; the CLI
    /// prints the same through anyhow.
    pub fn chain(&self) -> String {
        status::chain(self)
    }
}

const PAGE_HTML: &str = include_str!("assets/ops.html");
const PAGE_CSS: &str = include_str!("assets/ops.css");
const PAGE_JS: &str = include_str!("assets/ops.js");

/// Only our own script, style and API calls; nothing from elsewhere, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            // The token may arrive in the query string once; never leak it onwards.
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `/ops` and its static files: public, they hold no data.
pub fn page_routes() -> Router {
    Router::new()
        .route("/ops", get(|| async { asset("text/html; charset=utf-8", PAGE_HTML) }))
        .route("/ops/", get(|| async { asset("text/html; charset=utf-8", PAGE_HTML) }))
        .route(
            "/ops/ops.css",
            get(|| async { asset("text/css; charset=utf-8", PAGE_CSS) }),
        )
        .route(
            "/ops/ops.js",
            get(|| async { asset("text/javascript; charset=utf-8", PAGE_JS) }),
        )
}

/// `/ops/api/summary`, the e-mail quarantine and flood-control APIs; mounted as `extra` so the
/// ops-token middleware guards them.
pub fn api_routes(monitor: Arc<Monitor>, relay: Arc<RelayStatus>) -> Router<AppState> {
    quarantine::routes()
        .route("/ops/api/flood", get(flood::list_handler))
        .route("/ops/api/flood/replay", axum::routing::post(flood::replay_handler))
        .route(
            "/ops/api/summary",
            get(move || {
                let monitor = monitor.clone();
                let relay = relay.clone();
                async move {
                    (
                        [(header::CACHE_CONTROL, "no-store")],
                        Json(summary::build(&monitor, &relay)),
                    )
                }
            }),
        )
}

/// Start the broker monitor (queue readings, gauges, routed tap).
pub fn start(
    cfg: Arc<Config>,
    store: Store,
    stats: Arc<crate::stats::Stats>,
    shutdown: CancellationToken,
) -> (Arc<Monitor>, JoinHandle<()>) {
    let monitor = Arc::new(Monitor::new(cfg, store, stats));
    let task = tokio::spawn(monitor.clone().run(shutdown));
    (monitor, task)
}
