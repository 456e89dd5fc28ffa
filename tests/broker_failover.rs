//! A list of broker endpoints (`amqp.url`, `amqp.urls`): the gateway skips a
//! dead first endpoint, publishes through the next that answers, and when
//! the one in use goes away it moves on to the next one and publishes there.
//!
//! The endpoints are this test's own: a port nothing listens on and two TCP
//! proxies to the local RabbitMQ that count the connections they carry and
//! can be cut, so other tests on the same broker are not disturbed.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use support::proxy::BrokerProxy;
use support::*;

async fn post(c: &reqwest::Client, addr: std::net::SocketAddr, id: &str) -> String {
    let body = serde_json::json!({"id": id, "from": "081299990001", "to": "1708", "text": format!("Jalan rusak {id}")});
    let r = c
        .post(format!("http://{addr}/sms/generic"))
        .bearer_auth("change-me-generic")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let v: serde_json::Value = r.json().await.unwrap();
    v["accepted"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn skips_a_dead_endpoint_and_fails_over_when_the_one_in_use_goes() {
    let (second, third) = (BrokerProxy::start().await, BrokerProxy::start().await);
    // A loopback port nothing listens on: connections are refused.
    let dead = free_port();
    let gw = spawn_app(|cfg| {
        cfg.replies.enabled = false;
        cfg.amqp.url = format!("amqp://guest:guest@127.0.0.1:{dead}/%2f").into();
        cfg.amqp.urls = vec![second.url().into(), third.url().into()];
        cfg.validate().unwrap();
    })
    .await;
    let prefix = gw.prefix().to_string();
    let c = reqwest::Client::new();
    assert!(
        wait_until(Duration::from_secs(20), || gw.relay.connected.load(Ordering::Relaxed)).await,
        "relay connected past the dead first endpoint"
    );
    assert!(second.carried() > 0, "connected through the second endpoint");
    assert_eq!(third.carried(), 0, "the third is not needed while the second answers");

    let first = post(&c, gw.addr, "fo-1").await;
    let got = take(&format!("{prefix}.intake"), 1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, first);

    // The endpoint in use goes away: the relay's next pass starts after it.
    second.cut();
    assert!(
        wait_until(Duration::from_secs(30), || third.carried() > 0
            && gw.relay.connected.load(Ordering::Relaxed))
        .await,
        "relay failed over to the third endpoint"
    );
    let after = post(&c, gw.addr, "fo-2").await;
    let got = take(&format!("{prefix}.intake"), 1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "published through the third endpoint");
    assert_eq!(got[0].message_id, after);
    assert!(
        wait_until(Duration::from_secs(10), || gw.intake.store().outbox_depth() == 0).await,
        "outbox drained"
    );
    gw.stop().await;
}
