//! A list of broker endpoints (`amqp.url`, `amqp.urls`): the gateway skips a
//! dead first endpoint, publishes through the next that answers, and when
//! the one in use goes away it moves on to the next one and publishes there.
//!
//! The endpoints are this test's own: a port nothing listens on and two TCP
//! proxies to the local RabbitMQ that count the connections they carry and
//! can be cut, so other tests on the same broker are not disturbed.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP proxy to 127.0.0.1:5672; `cut` resets its connections and refuses
/// new ones, as when a broker node stops.
struct Proxy {
    port: u16,
    carried: Arc<AtomicUsize>,
    down: watch::Sender<bool>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (down, watch) = watch::channel(false);
        let carried = Arc::new(AtomicUsize::new(0));
        let count = carried.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if *watch.borrow() {
                    drop(client);
                    continue;
                }
                count.fetch_add(1, Ordering::SeqCst);
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect("127.0.0.1:5672").await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        _ = watch.wait_for(|d| *d) => {}
                    }
                });
            }
        });
        Proxy { port, carried, down }
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn carried(&self) -> usize {
        self.carried.load(Ordering::SeqCst)
    }

    fn cut(&self) {
        self.down.send_replace(true);
    }
}

/// A loopback port nothing listens on: connections are refused.
async fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

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
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix();
    let mut cfg = test_config(&prefix, dir.path());
    cfg.replies.enabled = false;
    let (second, third) = (Proxy::start().await, Proxy::start().await);
    cfg.amqp.url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", dead_port().await).into();
    cfg.amqp.urls = vec![second.url().into(), third.url().into()];
    cfg.validate().unwrap();
    let _guard = CleanupGuard(cfg.clone());
    let gw = pintu::serve::start(cfg.clone()).await.unwrap();
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
