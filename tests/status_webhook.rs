//! Webhook push to an agency's own application (docs/status.md): a routed
//! complaint is POSTed, signed, to the agency's URL; while the endpoint is
//! down the push waits and is retried, and once it is back it arrives once.
//! A push that keeps failing is dead-lettered with the reason.

mod status_support;
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use parking_lot::Mutex;
use status_support::*;
use support::*;

const KEY: &str = "webhook-key-0123456789abcdef";

#[derive(Clone, Default)]
struct Endpoint {
    down: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
    /// (delivery id, event, body) of accepted pushes with a valid signature.
    got: Arc<Mutex<Vec<(String, String, serde_json::Value)>>>,
}

async fn receive(State(e): State<Endpoint>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if e.down.load(Ordering::SeqCst) {
        e.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let ts: i64 = h("x-pintu-timestamp").parse().unwrap_or(0);
    if h("x-pintu-signature") != pintu::status::webhook::sign(KEY.as_bytes(), ts, &body) {
        return StatusCode::UNAUTHORIZED;
    }
    e.got.lock().push((
        h("x-pintu-delivery"),
        h("x-pintu-event"),
        serde_json::from_slice(&body).unwrap(),
    ));
    StatusCode::NO_CONTENT
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_survives_the_endpoint_being_down_and_arrives_once() {
    let endpoint = Endpoint::default();
    endpoint.down.store(true, Ordering::SeqCst);
    let app = axum::Router::new()
        .route("/lapor", post(receive))
        .with_state(endpoint.clone());
    let hook = format!("http://{}/lapor", serve_http(app).await);

    let sms = Sms::default();
    let url = fake_sms(sms.clone()).await;
    let gw = spawn_app(|cfg| {
        with_status(cfg, &url);
        cfg.status.webhook_backoff_secs = 1;
        cfg.status.webhook_max_backoff_secs = 1;
        let a = cfg.status.agencies.get_mut(DPUPR).unwrap();
        a.webhook_url = Some(hook.clone());
        a.webhook_key = Some(KEY.into());
        // Dishub's endpoint never answers: its pushes end dead-lettered.
        let d = cfg.status.agencies.get_mut(DISHUB).unwrap();
        d.webhook_url = Some("http://127.0.0.1:9/nowhere".into());
        d.webhook_key = Some(KEY.into());
        cfg.status.webhook_max_attempts = 3;
    })
    .await;
    let (router, _) = spawn_router(gw.cfg());

    let code = code_of(
        &mo(
            gw.addr,
            "w1",
            "+6281234560001",
            "Jalan berlubang besar di Kota Bandung mohon diperbaiki",
        )
        .await,
    );
    assert!(
        wait_until(WAIT, || endpoint.refused.load(Ordering::SeqCst) >= 2).await,
        "retried while down"
    );
    assert!(endpoint.got.lock().is_empty());
    endpoint.down.store(false, Ordering::SeqCst);
    assert!(
        wait_until(WAIT, || !endpoint.got.lock().is_empty()).await,
        "delivered once back"
    );
    let store = &gw.status.as_ref().unwrap().store;
    assert!(wait_until(WAIT, || store.webhook_counts().0 == 0).await);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    {
        let got = endpoint.got.lock();
        assert_eq!(got.len(), 1, "once: {got:?}");
        let (delivery, event, body) = &got[0];
        assert!(!delivery.is_empty());
        assert_eq!(event, "assigned");
        assert_eq!(body["tracking"], code.as_str());
        assert_eq!(body["stage"], "terdisposisi");
        assert_eq!(body["complaint"]["routing"]["agency"], DPUPR);
    }

    // Forwarded to Dishub, whose endpoint is unreachable: dead-lettered after 3 attempts.
    let mut fwd = update(DPUPR, &code, "diteruskan", None);
    fwd["to_agency"] = DISHUB.into();
    assert_eq!(post_update(gw.addr, DPUPR_TOKEN, &fwd).await.0, 200);
    assert!(
        wait_until(WAIT, || store.webhook_counts() == (0, 1)).await,
        "{:?}",
        store.webhook_counts()
    );

    let _ = router.send(());
    gw.stop().await;
}
