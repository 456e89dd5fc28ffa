//! The one webhook handler all providers share.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use pintu_channels::{Parsed, Receipt, WebRequest, WebResponse, WebhookAdapter};
use tracing::{error, warn};

use super::AppState;
use crate::replay::Seen;

fn reject(st: &AppState, adapter: &dyn WebhookAdapter, reason: &'static str) {
    reject_n(st, adapter, reason, 1);
}

fn reject_n(st: &AppState, adapter: &dyn WebhookAdapter, reason: &'static str, n: usize) {
    metrics::counter!(
        "pintu_rejected_total",
        "channel" => adapter.channel().as_str(),
        "provider" => adapter.provider(),
        "reason" => reason
    )
    .increment(n as u64);
    for _ in 0..n {
        st.intake.stats().rejected(adapter.channel().as_str());
    }
}

fn respond(r: WebResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    (status, [(header::CONTENT_TYPE, r.content_type)], r.body).into_response()
}

/// One line, no internals: providers log it and operators read it.
fn one_line(status: StatusCode, msg: String) -> Response {
    let line: String = msg.replace(['\n', '\r'], " ").chars().take(300).collect();
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{line}\n"),
    )
        .into_response()
}

pub async fn handle(
    adapter: Arc<dyn WebhookAdapter>,
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let public_url = match &st.cfg.http.public_base_url {
        Some(base) => format!(
            "{}{}",
            base.trim_end_matches('/'),
            uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
        ),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!(
                "http://{host}{}",
                uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
            )
        }
    };
    let remote = client_addr(&st, peer, &headers);
    let req = WebRequest {
        method: &method,
        uri: &uri,
        public_url: &public_url,
        headers: &headers,
        body: &body,
        remote,
    };
    if let Err(e) = adapter.authenticate(&req) {
        reject(&st, adapter.as_ref(), "auth");
        warn!(provider = adapter.provider(), error = %e, "webhook authentication failed");
        return one_line(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN),
            e.to_string(),
        );
    }
    let messages = match adapter.parse(&req) {
        Ok(Parsed::Messages(m)) => m,
        Ok(Parsed::Batch {
            messages,
            skipped,
            skipped_total,
        }) => {
            reject_n(&st, adapter.as_ref(), "malformed_item", skipped_total);
            for reason in &skipped {
                // Provider parse errors can quote field values (a number).
                warn!(provider = adapter.provider(), reason = %crate::obs::sanitize(reason), "malformed item skipped");
            }
            if skipped_total > skipped.len() {
                warn!(
                    provider = adapter.provider(),
                    more = skipped_total - skipped.len(),
                    "more malformed items skipped"
                );
            }
            messages
        }
        Ok(Parsed::Respond(r)) => return respond(r),
        Ok(Parsed::Ignored(reason)) => {
            metrics::counter!("pintu_ignored_total", "provider" => adapter.provider()).increment(1);
            return with_reason(respond(adapter.accepted(&[])), &reason);
        }
        Err(e) => {
            reject(&st, adapter.as_ref(), "malformed");
            warn!(provider = adapter.provider(), error = %e, "malformed webhook");
            let status = if matches!(e, pintu_channels::AdapterError::Method(_)) {
                StatusCode::METHOD_NOT_ALLOWED
            } else {
                StatusCode::BAD_REQUEST
            };
            return one_line(status, e.to_string());
        }
    };
    let mut receipts = Vec::with_capacity(messages.len());
    let mut stale = 0;
    let max_age = adapter.signed_time_max_age();
    for m in messages {
        if let Some(max_age) = max_age {
            // The provider signed this time: older than any delivery delay is
            // a captured request sent again.
            let fresh = m.sent_at.is_some_and(|t| {
                Utc::now()
                    .signed_duration_since(t)
                    .to_std()
                    .map_or(true, |age| age <= max_age)
            });
            if !fresh {
                replayed(adapter.as_ref(), "stale");
                stale += 1;
                continue;
            }
        }
        let key = m
            .external_id
            .clone()
            .filter(|_| st.replay.is_some())
            .map(|id| (m.provider.clone(), m.sender.address.clone(), id));
        if let (Some(guard), Some((provider, sender, id))) = (&st.replay, &key) {
            match guard.check(provider, sender, id) {
                // No complaint stands behind a status query, so intake's
                // dedupe cannot see the provider's retry of one: it would be
                // answered (and rate-limited) again.
                Ok(Seen::RecentQuery) => {
                    receipts.push(Receipt {
                        id: None,
                        tracking: None,
                        duplicate: true,
                    });
                    continue;
                }
                Ok(Seen::Replay(tracking)) => {
                    replayed(adapter.as_ref(), "seen");
                    receipts.push(Receipt {
                        id: None,
                        tracking,
                        duplicate: true,
                    });
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    error!(provider = adapter.provider(), error = %e, "replay store failed");
                    return one_line(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable, retry".into());
                }
            }
        }
        let whole = m.segment.is_none_or(|s| s.total <= 1);
        match st.intake.accept(m).await {
            Ok(r) => {
                if let (Some(guard), Some((provider, sender, id))) = (&st.replay, &key) {
                    // A whole message that made no complaint and no duplicate
                    // was a status query (a waiting SMS part makes none either,
                    // and a held one has an id).
                    let query = whole && r.id.is_none() && r.tracking.is_none() && !r.duplicate;
                    // The complaint is durable whatever happens here; a lost
                    // record only weakens replay protection for this one id.
                    let recorded = if query {
                        guard.record_query(provider, sender, id)
                    } else {
                        guard.record(provider, sender, id, r.tracking.as_deref())
                    };
                    if let Err(e) = recorded {
                        warn!(provider = adapter.provider(), error = %e, "could not record the provider id");
                    }
                }
                receipts.push(r)
            }
            Err(e) => {
                // Not durable: make the provider retry rather than acknowledge.
                error!(provider = adapter.provider(), error = %e, "intake failed");
                return one_line(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable, retry".into());
            }
        }
    }
    let resp = respond(adapter.accepted(&receipts));
    if stale > 0 && receipts.is_empty() {
        return with_reason(resp, "signed time too old (replay?)");
    }
    resp
}

/// A replayed message, not ingested: counted by provider and why.
fn replayed(adapter: &dyn WebhookAdapter, why: &'static str) {
    metrics::counter!("pintu_replays_total", "provider" => adapter.provider(), "reason" => why).increment(1);
    warn!(
        provider = adapter.provider(),
        reason = why,
        "replayed webhook message refused"
    );
}

/// The client's address: the TCP peer, or what a trusted proxy says it
/// forwarded (`http.trusted_proxies`); `None` when a trusted proxy says nothing
/// usable, which no allowlist admits.
pub fn client_addr(st: &AppState, peer: SocketAddr, headers: &HeaderMap) -> Option<std::net::IpAddr> {
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    pintu_channels::auth::client_ip(peer.ip(), forwarded, &st.cfg.http.trusted_proxies)
}

/// Ignored events are answered as accepted (the provider must not retry);
/// the reason travels in a header for whoever debugs the integration.
fn with_reason(mut resp: Response, reason: &str) -> Response {
    let ascii: String = reason
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .collect();
    if let Ok(v) = ascii.parse() {
        resp.headers_mut().insert("x-pintu-ignored", v);
    }
    resp
}
