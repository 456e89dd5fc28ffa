//! The HTTP server: provider webhooks, health, readiness and metrics.
//!
//! Every webhook goes through the same handler ([`webhook`]): authenticate,
//! parse, make durable, and only then answer as the provider expects.

pub(crate) mod config;
mod health;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use pintu_channels::WebhookAdapter;
use tower_http::timeout::TimeoutLayer;

use crate::config::Config;
use crate::intake::Intake;
use crate::relay::RelayStatus;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub cfg: Arc<Config>,
    pub intake: Arc<Intake>,
    pub relay: Arc<RelayStatus>,
    pub metrics: PrometheusHandle,
    /// Provider ids kept past the dedupe window (`None`: no replay check).
    pub replay: Option<Arc<crate::replay::ReplayGuard>>,
}

/// One mounted webhook.
pub struct Mount {
    pub path: String,
    pub adapter: Arc<dyn WebhookAdapter>,
}

pub fn router(state: AppState, mounts: Vec<Mount>, extra: Router<AppState>) -> Router {
    let mut hooks: Router<AppState> = Router::new();
    for m in mounts {
        let adapter = m.adapter.clone();
        hooks = hooks.route(
            &m.path,
            any(move |st, ci, method, uri, headers, body| {
                webhook::handle(adapter.clone(), st, ci, method, uri, headers, body)
            }),
        );
    }
    let ops = Router::new()
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(extra)
        .route_layer(middleware::from_fn_with_state(state.clone(), require_ops_token));
    let mut app = Router::new()
        .route("/healthz", get(health::healthz))
        .merge(hooks)
        .merge(ops);
    if state.cfg.http.access_log {
        app = app.layer(middleware::from_fn_with_state(state.clone(), access_log));
    }
    app.layer(DefaultBodyLimit::max(state.cfg.http.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(state.cfg.http.request_timeout_ms),
        ))
        .with_state(state)
}

/// Ops endpoints need `Authorization: Bearer <http.ops_token>` when a token is
/// configured (config validation requires one unless bound to loopback with
/// no proxy in front, and refuses an empty one).
async fn require_ops_token(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(token) = st.cfg.http.ops_token.as_ref().map(|t| t.expose()) {
        let presented = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !pintu_channels::auth::secret_eq(presented.as_bytes(), token.as_bytes()) {
            return (StatusCode::UNAUTHORIZED, "ops token required\n").into_response();
        }
    }
    next.run(req).await
}

/// The client side of [`require_ops_token`], for the commands that call a
/// running gateway's `/ops/api/*` (`pintu status`, `report`, `flood`,
/// `quarantine`): the token as a bearer token, and no `Authorization` header
/// for an absent or empty one.
pub fn with_ops_token(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token.filter(|t| !t.is_empty()) {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

/// The address a client calls to reach a gateway bound to `addr`: a
/// wildcard bind address is reached on loopback.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let ip = match addr.ip() {
        IpAddr::V4(v) if v.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v) if v.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// The base URL the commands call (`pintu status`, `report`, `flood`,
/// `quarantine`): `--url` without a trailing `/`, else the gateway's own
/// `http.addr` made [`reachable`].
pub fn gateway_base(addr: SocketAddr, url: Option<&str>) -> String {
    match url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!("http://{}", reachable(addr)),
    }
}

/// `http.access_log`: one line per request. Gateways put their credential in
/// the URL (Kannel's get-url `?token=`, Meta's `hub.verify_token`), so the
/// query is logged with every credential parameter masked; the client is the
/// address the allowlists see.
async fn access_log(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(crate::obs::mask_query).unwrap_or_default();
    let client = webhook::client_addr(&st, peer, req.headers())
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    let resp = next.run(req).await;
    tracing::info!(
        target: "pintu::access",
        %method,
        %path,
        %query,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        %client,
        "request"
    );
    resp
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_called_on_loopback() {
        assert_eq!(reachable("0.0.0.0:8080".parse().unwrap()).to_string(), "127.0.0.1:8080");
        assert_eq!(reachable("[::]:8080".parse().unwrap()).to_string(), "[::1]:8080");
        assert_eq!(reachable("10.0.0.5:80".parse().unwrap()).to_string(), "10.0.0.5:80");
        let addr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(gateway_base(addr, None), "http://127.0.0.1:8080");
        assert_eq!(
            gateway_base(addr, Some("http://10.0.0.5:8080/")),
            "http://10.0.0.5:8080"
        );
    }

    #[test]
    fn the_ops_token_goes_as_a_bearer_token_and_an_empty_one_not_at_all() {
        let http = reqwest::Client::new();
        let auth = |token: Option<&str>| {
            let req = with_ops_token(http.get("http://127.0.0.1:1/ops/api/summary"), token)
                .build()
                .unwrap();
            req.headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string())
        };
        assert_eq!(
            auth(Some("s3cret-ops-token")).as_deref(),
            Some("Bearer s3cret-ops-token")
        );
        assert_eq!(auth(Some("")), None);
        assert_eq!(auth(None), None);
    }
}
