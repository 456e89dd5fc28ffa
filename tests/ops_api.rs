//! `/ops/api/summary` against the real RabbitMQ: the numbers it reports match
//! what was sent through the gateway and what a (simulated) router did.
//!
//! Each gateway has its own ops recorder (`tests/ops_stats.rs`); this file
//! holds one gateway test.

mod ops_support;
mod support;

use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicGetOptions};
use ops_support::*;
use pintu::broker::Outgoing;
use pintu::broker::{connect, ConfirmedPublisher, Names};
use pintu::ops::Role;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_matches_what_went_through_rabbitmq() {
    let gw = spawn_app(ops_config).await;
    let cfg = gw.cfg().clone();
    let names = Names::new(&cfg.amqp.prefix);
    let addr = gw.addr;
    let http = reqwest::Client::new();
    let token = generic_token(&cfg);

    // The data needs the ops token; the page itself carries none and is public.
    let r = http.get(format!("http://{addr}/ops/api/summary")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("http://{addr}/ops/api/summary"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let page = http.get(format!("http://{addr}/ops")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("/ops/ops.js") && html.contains("v-received"));
    let js = http.get(format!("http://{addr}/ops/ops.js")).send().await.unwrap();
    assert!(js.text().await.unwrap().contains("api/summary"));

    // 5 complaints, 2 provider retries (duplicates), 1 refused request.
    for i in 0..5 {
        let status = send_sms(
            &http,
            addr,
            &token,
            &format!("ext-{i}"),
            &format!("jalan rusak nomor {i}"),
        )
        .await;
        assert_eq!(status, 200);
    }
    for i in 0..2 {
        assert_eq!(
            send_sms(
                &http,
                addr,
                &token,
                &format!("ext-{i}"),
                &format!("jalan rusak nomor {i}")
            )
            .await,
            200
        );
    }
    assert_eq!(send_sms(&http, addr, "bad-token", "ext-x", "x").await, 403);

    let intake_q = names.intake_queue();
    let s = wait_for(&http, addr, 30, "5 messages in the intake queue", |s| {
        queue_messages(s, &intake_q) == Some(5)
    })
    .await;
    assert_eq!(s.version, 1);
    assert_eq!(s.intake.last_hour.received, 5);
    assert_eq!(s.intake.last_hour.duplicates, 2);
    assert_eq!(s.intake.last_hour.rejected, 1);
    let sms = s.intake.channels.iter().find(|c| c.channel == "sms").unwrap();
    assert_eq!(sms.received.len(), 60);
    assert_eq!(sms.received.iter().sum::<u64>(), 5);
    // Everything happened in the last minute or two.
    assert_eq!(sms.received[..58].iter().sum::<u64>(), 0);
    assert_eq!(s.outbox.backlog, 0);
    assert!(s.broker.relay_connected);
    assert_eq!(s.broker.source, "amqp");
    assert!(s.broker.tap_connected, "{:?}", s.broker);
    let intake = s.queues.iter().find(|q| q.name == intake_q).unwrap();
    assert_eq!(intake.role, Role::Intake);
    assert_eq!(intake.consumers, Some(0));
    assert_eq!(queue_messages(&s, &names.dead_queue()), Some(0));
    assert_eq!(queue_messages(&s, &names.outbound_queue()), Some(0));
    // Every queue of the topology is listed and readable.
    let expected = Names::new(&cfg.amqp.prefix).all_queues(&cfg.amqp.agency_queues);
    assert_eq!(s.queues.iter().map(|q| q.name.clone()).collect::<Vec<_>>(), expected);
    assert!(s.queues.iter().all(|q| q.error.is_none()), "{:?}", s.queues);
    assert_eq!(s.unrouted.tracked, 5);
    assert_eq!(s.unrouted.untracked, 0);
    let oldest = s.unrouted.oldest_age_seconds.unwrap();
    assert!((0.0..60.0).contains(&oldest), "{oldest}");

    // Act as the router for two complaints: one to an agency with a queue, one
    // to an agency without (must still reach the unbound queue: the tap must
    // not swallow the alternate exchange's traffic).
    let conn = connect(&cfg.amqp, "ops-test-router").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let publisher = ConfirmedPublisher::new(conn.create_channel().await.unwrap())
        .await
        .unwrap();
    let mut routed_ids = Vec::new();
    for (agency, category, region) in [("3171.pupr", "infrastruktur", "3171"), ("nowhere", "kesehatan", "9999")] {
        let m = ch
            .basic_get(intake_q.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .unwrap()
            .expect("a complaint in the intake queue");
        let mut complaint: serde_json::Value = serde_json::from_slice(&m.delivery.data).unwrap();
        let id = complaint["id"].as_str().unwrap().to_string();
        complaint["routing"] = serde_json::json!({
            "category": category, "region": region, "agency": agency, "report_type": "aduan",
            "reasons": ["test"], "router_version": "test", "routed_at": "2026-01-01T00:00:00Z"
        });
        let body = serde_json::to_vec(&complaint).unwrap();
        let key = Names::agency_key(agency);
        let exchange = names.agency_exchange();
        publisher
            .publish(&Outgoing {
                exchange: &exchange,
                routing_key: &key,
                message_id: &id,
                body: &body,
                headers: vec![],
            })
            .await
            .unwrap();
        m.delivery.acker.ack(BasicAckOptions::default()).await.unwrap();
        routed_ids.push(id);
    }

    let agency_q = names.agency_queue("3171.#");
    let unbound_q = names.unbound_queue();
    let s = wait_for(&http, addr, 30, "2 routed complaints", |s| {
        s.routed.last_hour == 2 && queue_messages(s, &intake_q) == Some(3) && queue_messages(s, &unbound_q) == Some(1)
    })
    .await;
    assert_eq!(queue_messages(&s, &agency_q), Some(1));
    let cats: Vec<(&str, u64)> = s
        .routed
        .top_categories
        .iter()
        .map(|r| (r.name.as_str(), r.count))
        .collect();
    assert!(
        cats.contains(&("infrastruktur", 1)) && cats.contains(&("kesehatan", 1)),
        "{cats:?}"
    );
    assert!(s.routed.top_regions.iter().any(|r| r.name == "3171" && r.count == 1));
    assert!(s.routed.top_agencies.iter().any(|r| r.name == "nowhere"));
    assert_eq!(s.unrouted.tracked, 3);

    // The gauges behind the Prometheus alerts. A basic.get on a quorum queue
    // shows as a consumer for a moment, so wait for the monitor's next reading.
    let messages_line = format!("pintu_queue_messages{{queue=\"{intake_q}\"}} 3");
    let consumers_line = format!("pintu_queue_consumers{{queue=\"{intake_q}\"}} 0");
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = http
            .get(format!("http://{addr}/metrics"))
            .bearer_auth(OPS_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains(&messages_line) && metrics.contains(&consumers_line) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(metrics.contains(&messages_line), "{metrics}");
    assert!(metrics.contains(&consumers_line), "{metrics}");
    assert!(metrics.contains("pintu_oldest_unrouted_seconds"));

    // `pintu status` reads the same document and renders it.
    let fetched = pintu::ops::status::fetch(&format!("http://{addr}"), Some(OPS_TOKEN))
        .await
        .unwrap();
    assert_eq!(fetched.intake.last_hour.received, 5);
    let text = pintu::ops::status::render(&pintu::ops::status::Status::Gateway(Box::new(fetched)));
    assert!(text.contains(&intake_q) && text.contains("infrastruktur"), "{text}");
    let err = pintu::ops::status::fetch(&format!("http://{addr}"), Some("wrong"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    // Gateway down: the broker part is still shown.
    let mut down = cfg.clone();
    down.http.addr = "127.0.0.1:9".parse().unwrap();
    match pintu::ops::status::collect(&down, None).await.unwrap() {
        pintu::ops::status::Status::BrokerOnly { queues, source, .. } => {
            assert_eq!(source, "amqp");
            assert_eq!(queues.iter().find(|q| q.name == intake_q).unwrap().messages, Some(3));
        }
        pintu::ops::status::Status::Gateway(_) => panic!("port 9 answered"),
    }

    let _ = conn.close(200, "bye".into()).await;
    gw.stop().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
}
