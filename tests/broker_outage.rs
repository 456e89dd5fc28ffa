//! Broker outage during load: the gateway's broker goes away (every
//! connection reset, new ones refused, as when the node stops). Intake keeps
//! accepting into the outbox, `/readyz` reports the backlog, and once the
//! broker is back every accepted complaint arrives.
//!
//! The outage is the gateway's alone: it reaches RabbitMQ through a TCP
//! proxy of this test's own that can go down, so other tests using the same
//! broker at the same time are not disturbed (stopping RabbitMQ itself did,
//! and its restart under load could outlast the test's patience).

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::proxy::BrokerProxy;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outage_keeps_intake_and_drains_after() {
    let outage = BrokerProxy::start().await;
    let gw = spawn_app(|cfg| {
        cfg.replies.enabled = false;
        cfg.outbox.ready_max_backlog = 50;
        cfg.amqp.url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", outage.port).into();
    })
    .await;
    let prefix = gw.prefix().to_string();
    let addr = gw.addr;
    let c = reqwest::Client::new();
    assert!(
        wait_until(Duration::from_secs(10), || gw.relay.connected.load(Ordering::Relaxed)).await,
        "relay connected"
    );

    let acked: Arc<parking_lot::Mutex<HashSet<String>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for _ in 0..8 {
        let (c, acked, next, stop) = (c.clone(), acked.clone(), next.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let body = serde_json::json!({"id": format!("out-{i}"), "from": format!("0813{:08}", i), "to": "1708", "text": format!("Sampah menumpuk {i}")});
                let r = c.post(format!("http://{addr}/sms/generic")).bearer_auth("change-me-generic").json(&body).send().await;
                if let Ok(r) = r {
                    if r.status().is_success() {
                        let v: serde_json::Value = r.json().await.unwrap();
                        acked.lock().insert(v["accepted"][0]["id"].as_str().unwrap().to_string());
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    while acked.lock().len() < 300 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    outage.set_down(true);
    let during_start = acked.lock().len();
    // Intake continues while the broker is away, and readiness says so.
    let mut saw_backlog = None;
    for _ in 0..100 {
        let r = c.get(format!("http://{addr}/readyz")).send().await.unwrap();
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap();
        if status == 503 && v["broker_connected"] == false && v["outbox_backlog"].as_u64().unwrap() > 50 {
            saw_backlog = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let saw_backlog = saw_backlog.expect("/readyz reported the backlog during the outage");
    assert!(
        wait_until(Duration::from_secs(20), || acked.lock().len() > during_start + 200).await,
        "intake kept accepting during the outage"
    );
    assert!(!gw.relay.connected.load(Ordering::Relaxed), "still in the outage");
    outage.set_down(false);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    let acked = acked.lock().clone();
    let got = take(&format!("{prefix}.intake"), acked.len(), Duration::from_secs(120)).await;
    let ids: HashSet<String> = got.iter().map(|g| g.message_id.clone()).collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} accepted complaints missing after the outage (backlog seen: {saw_backlog})",
        missing.len()
    );
    assert!(
        wait_until(Duration::from_secs(10), || gw.intake.store().outbox_depth() == 0).await,
        "outbox drained"
    );
    let ready = c.get(format!("http://{addr}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    gw.stop().await;
}
