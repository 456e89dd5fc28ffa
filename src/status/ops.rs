//! The status loop on `/ops/api/status-loop` (behind the ops token, like
//! every ops endpoint) and in `pintu status`: updates received per agency,
//! complaints per stage, reopened, re-routed, queries; the stage figures are
//! also Prometheus gauges (`pintu_status_complaints{stage}`).
//!
//! Complaints per stage is a scan of the records, so it is computed at most
//! every [`STAGE_REFRESH`] however often the page is read.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::service::{AgencyCounts, StatusService};
use crate::http::with_ops_token;

pub const STAGE_REFRESH: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoopSummary {
    pub connected: bool,
    pub per_agency: BTreeMap<String, AgencyCounts>,
    pub stages: BTreeMap<String, u64>,
    pub reopened: u64,
    pub rerouted: u64,
    pub closed: u64,
    pub queries: u64,
    pub queries_refused: u64,
    /// Notices and re-routed complaints not yet confirmed by the broker.
    pub outbox: usize,
}

impl StatusService {
    /// The figures (stages from the cache when fresh).
    pub fn summary(&self) -> LoopSummary {
        let stages = {
            let mut cache = self.stage_cache.lock();
            let stale = cache.0.is_none_or(|t: Instant| t.elapsed() >= STAGE_REFRESH);
            if stale {
                match self.store.stage_counts() {
                    Ok(counts) => {
                        let m: BTreeMap<String, u64> =
                            counts.into_iter().map(|(s, n)| (s.as_str().to_string(), n)).collect();
                        for s in super::contract::Stage::ALL {
                            let n = m.get(s.as_str()).copied().unwrap_or(0);
                            metrics::gauge!("pintu_status_complaints", "stage" => s.as_str()).set(n as f64);
                        }
                        *cache = (Some(Instant::now()), m);
                    }
                    Err(e) => tracing::warn!(error = %e, "stage counts unavailable"),
                }
            }
            cache.1.clone()
        };
        let c = &self.counters;
        LoopSummary {
            connected: self.connected(),
            per_agency: c.per_agency(),
            stages,
            reopened: c.reopened.load(Ordering::Relaxed),
            rerouted: c.rerouted.load(Ordering::Relaxed),
            closed: c.closed.load(Ordering::Relaxed),
            queries: c.queries.load(Ordering::Relaxed),
            queries_refused: c.queries_refused.load(Ordering::Relaxed),
            outbox: self.store.outbox_len(),
        }
    }
}

/// `/ops/api/status-loop`, to merge into the ops routes.
pub fn routes<S: Clone + Send + Sync + 'static>(svc: Arc<StatusService>) -> Router<S> {
    Router::new()
        .route(
            "/ops/api/status-loop",
            get(|State(svc): State<Arc<StatusService>>| async move { Json(svc.summary()).into_response() }),
        )
        .with_state(svc)
}

/// The summary as text for `pintu status`.
pub fn render(s: &LoopSummary) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("\nStatus loop");
    let _ = writeln!(
        out,
        " (broker {})",
        if s.connected { "connected" } else { "NOT connected" }
    );
    let stages: Vec<String> = s.stages.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(
        out,
        "  complaints per stage: {}",
        if stages.is_empty() {
            "-".into()
        } else {
            stages.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "  reopened {}  re-routed {}  closed {}  queries {} (refused {})  waiting to publish {}",
        s.reopened, s.rerouted, s.closed, s.queries, s.queries_refused, s.outbox
    );
    if !s.per_agency.is_empty() {
        let _ = writeln!(
            out,
            "  {:<28} {:>8} {:>10} {:>9} {:>8}",
            "agency", "updates", "duplicates", "forbidden", "invalid"
        );
        for (a, c) in &s.per_agency {
            let _ = writeln!(
                out,
                "  {a:<28} {:>8} {:>10} {:>9} {:>8}",
                c.updates, c.duplicates, c.forbidden, c.invalid
            );
        }
    }
    out
}

/// The loop's figures from a gateway; `None` when it has no status loop
/// (404) or does not answer.
pub async fn fetch(base: &str, token: Option<&str>) -> Option<LoopSummary> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    let req = http.get(format!("{}/ops/api/status-loop", base.trim_end_matches('/')));
    let resp = with_ops_token(req, token).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json::<LoopSummary>().await.ok()
}

/// [`fetch`], rendered for `pintu status`.
pub async fn fetch_text(base: &str, token: Option<&str>) -> Option<String> {
    fetch(base, token).await.map(|s| render(&s))
}
