//! The acknowledgement path: one reply per complaint (duplicates get none),
//! temporary send failures retried with backoff, permanent ones dead-lettered
//! with the reason. The SMS gateway's send API is a recording HTTP server.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use lapin::options::BasicGetOptions;
use parking_lot::Mutex;
use support::*;

type Calls = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// Kannel-like sendsms: the first call fails with 503, numbers ending in 99 are
/// refused (400), everything else is accepted (202).
async fn sendsms(State(calls): State<Calls>, Query(q): Query<HashMap<String, String>>) -> (StatusCode, &'static str) {
    let n = {
        let mut c = calls.lock();
        c.push(q.clone());
        c.len()
    };
    if n == 1 {
        return (StatusCode::SERVICE_UNAVAILABLE, "3: Queue full");
    }
    if q.get("to").is_some_and(|t| t.ends_with("99")) {
        return (StatusCode::BAD_REQUEST, "Invalid receiver");
    }
    (StatusCode::ACCEPTED, "0: Accepted for delivery")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_reply_per_complaint_with_retry_and_dead_letter() {
    let calls: Calls = Arc::default();
    let app = axum::Router::new()
        .route("/cgi-bin/sendsms", get(sendsms))
        .with_state(calls.clone());
    let mock = serve_http(app).await;

    let gw = spawn_app(|cfg| {
        cfg.channels.kannel.sendsms_url = Some(format!("http://{mock}/cgi-bin/sendsms"));
        cfg.replies.max_backoff_secs = 1;
    })
    .await;
    let prefix = gw.prefix().to_string();
    let c = reqwest::Client::new();
    let url = |q: &str| format!("http://{}/sms/kannel?token=change-me-kannel&to=1708&{q}", gw.addr);

    let first = c
        .get(url("id=r1&from=%2B6281234560001&text=Bansos+tidak+cair"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tracking = first.trim().strip_prefix("OK ").unwrap().to_string();
    // Provider retry and a resend of the same text: same code, no new reply.
    for q in [
        "id=r1&from=%2B6281234560001&text=Bansos+tidak+cair",
        "id=r2&from=%2B6281234560001&text=bansos+TIDAK+cair",
    ] {
        let again = c.get(url(q)).send().await.unwrap().text().await.unwrap();
        assert_eq!(again.trim(), first.trim());
    }
    // A complaint whose reply the gateway refuses for good.
    let refused = c
        .get(url("id=r3&from=%2B6281234560099&text=Jalan+rusak"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused_tracking = refused.trim().strip_prefix("OK ").unwrap().to_string();

    let ok = wait_until(Duration::from_secs(30), || {
        let calls = calls.lock();
        calls.iter().filter(|q| q["to"] == "+6281234560001").count() >= 2
            && calls.iter().any(|q| q["to"] == "+6281234560099")
    })
    .await;
    assert!(ok, "replies attempted: {:?}", calls.lock());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = calls.lock().clone();
    let to_first: Vec<_> = calls.iter().filter(|q| q["to"] == "+6281234560001").collect();
    assert_eq!(
        to_first.len(),
        2,
        "one failed attempt (503) and one successful retry, no reply for the duplicates: {calls:?}"
    );
    for q in &to_first {
        assert!(q["text"].contains(&tracking), "reply carries {tracking}: {q:?}");
        assert_eq!(q["from"], "1708");
        assert_eq!(q["username"], "pintu");
    }
    assert_eq!(
        calls.iter().filter(|q| q["to"] == "+6281234560099").count(),
        1,
        "a permanent failure is not retried"
    );

    // The refused reply is parked in pintu.dead with the reason.
    let conn = pintu::broker::connect_url(AMQP, "test-dead").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut dead = None;
    for _ in 0..50 {
        if let Some(m) = ch
            .basic_get(format!("{prefix}.dead").into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            dead = Some(m.delivery);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dead = dead.expect("refused reply dead-lettered");
    let body: serde_json::Value = serde_json::from_slice(&dead.data).unwrap();
    assert_eq!(body["tracking"], refused_tracking.as_str());
    let headers = dead.properties.headers().clone().unwrap();
    let reason = match headers.inner().get("x-pintu-reason") {
        Some(lapin::types::AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        other => panic!("no reason header: {other:?}"),
    };
    assert!(reason.contains("400"), "reason recorded: {reason}");
    let _ = conn.close(200, "bye".into()).await;
    gw.stop().await;
}
