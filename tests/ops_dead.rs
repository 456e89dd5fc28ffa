//! `pintu dead list|replay` against the real RabbitMQ: messages parked by
//! Pintu (`x-pintu-source`), dead-lettered by the broker itself (`x-death`),
//! and one whose origin cannot be told.

mod ops_support;
mod support;

use std::time::Duration;

use lapin::options::{BasicGetOptions, BasicNackOptions};
use ops_support::*;
use pintu::broker::Outgoing;
use pintu::broker::{connect, ConfirmedPublisher, Names, Topology};
use pintu::ops::dead::{self, Kind, Selection};
use support::broker::depth;
use support::*;

const COMPLAINT: &str = r#"{"schema":1,"id":"01JDEADCOMPLAINT0000000000","tracking":"LPR-7K3Q9X","received_at":"2026-01-02T03:04:05Z","channel":"sms","provider":"generic","external_id":"e1","sender":null,"recipient":"1708","subject":null,"text":"lampu jalan mati","attachments":[],"flags":{"confidential":false,"anonymous":false},"in_reply_to":null,"parts":1,"fingerprint":"ab"}"#;
const REPLY: &str = r#"{"id":"01JDEADREPLY00000000000000","complaint_id":"01JDEADCOMPLAINT0000000000","tracking":"LPR-7K3Q9X","channel":"sms","provider":"kannel","to":"+6281234567890","subject":null,"text":"Terima kasih","context":{}}"#;

/// Ready messages settle asynchronously after a channel returns what it held.
async fn wait_depth(ch: &lapin::Channel, q: &str, want: u32) {
    let mut last = 0;
    for _ in 0..50 {
        last = depth(ch, q).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{q}: {last} messages, expected {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_replay_dead_letters() {
    let env = test_env(ops_config);
    let cfg = env.cfg.clone();
    let names = Names::new(&cfg.amqp.prefix);

    // No dead queue yet: a clear error, not an empty list.
    let err = dead::list(&cfg.amqp, 10).await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");

    let conn = connect(&cfg.amqp, "ops-dead-test").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    Topology::new(&cfg.amqp).declare(&ch).await.unwrap();
    let publisher = ConfirmedPublisher::new(conn.create_channel().await.unwrap())
        .await
        .unwrap();
    let dlx = names.dlx();

    // 1. Parked by a Pintu consumer (the router's way), with reason and source.
    publisher
        .publish(&Outgoing {
            exchange: &dlx,
            routing_key: "intake",
            message_id: "01JDEADCOMPLAINT0000000000",
            body: COMPLAINT.as_bytes(),
            headers: vec![
                ("x-pintu-reason", "router: region table missing".into()),
                ("x-pintu-source", names.intake_queue()),
            ],
        })
        .await
        .unwrap();
    // 2. Dead-lettered by RabbitMQ: a reply rejected without requeue on the
    //    outbound queue gets the broker's x-death headers.
    let outbound = names.outbound_exchange();
    publisher
        .publish(&Outgoing {
            exchange: &outbound,
            routing_key: "outbound.sms.kannel",
            message_id: "01JDEADREPLY00000000000000",
            body: REPLY.as_bytes(),
            headers: vec![],
        })
        .await
        .unwrap();
    let m = ch
        .basic_get(names.outbound_queue().into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
        .unwrap();
    m.delivery
        .acker
        .nack(BasicNackOptions {
            requeue: false,
            ..Default::default()
        })
        .await
        .unwrap();
    // 3. Origin unknown: no headers at all.
    publisher
        .publish(&Outgoing {
            exchange: &dlx,
            routing_key: "",
            message_id: "junk-1",
            body: b"not json",
            headers: vec![],
        })
        .await
        .unwrap();

    let mut items = Vec::new();
    for _ in 0..50 {
        items = dead::list(&cfg.amqp, 100).await.unwrap();
        if items.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(items.len(), 3, "{items:?}");
    let by_id = |id: &str| items.iter().find(|d| d.id == id).unwrap().clone();
    let c = by_id("01JDEADCOMPLAINT0000000000");
    assert_eq!(c.kind, Kind::Complaint);
    assert_eq!(c.tracking.as_deref(), Some("LPR-7K3Q9X"));
    assert_eq!(c.reason.as_deref(), Some("router: region table missing"));
    assert_eq!(c.source_queue.as_deref(), Some(names.intake_queue().as_str()));
    assert_eq!(c.target.as_ref().unwrap().routing_key, "intake.sms");
    let r = by_id("01JDEADREPLY00000000000000");
    assert_eq!(r.kind, Kind::Reply);
    assert_eq!(r.source_queue.as_deref(), Some(names.outbound_queue().as_str()));
    assert_eq!(r.reason.as_deref(), Some("rejected"));
    assert!(r.dead_at.is_some(), "x-death time");
    assert_eq!(r.target.as_ref().unwrap().exchange, names.outbound_exchange());
    let j = by_id("junk-1");
    assert!(j.target.is_none() && j.not_replayable.is_some());
    // Listing removed nothing.
    wait_depth(&ch, &names.dead_queue(), 3).await;
    let table = dead::list_cli(&cfg.amqp, 100, false).await.unwrap();
    assert!(
        table.contains("LPR-7K3Q9X") && table.contains("NOT REPLAYABLE"),
        "{table}"
    );

    // Replay one by id: it goes back to the intake queue with the same message_id.
    let report = dead::replay(
        &cfg.amqp,
        &Selection::Ids(vec!["01JDEADCOMPLAINT0000000000".into()]),
        100,
    )
    .await
    .unwrap();
    assert_eq!(report.replayed.len(), 1);
    assert!(report.not_found.is_empty());
    wait_depth(&ch, &names.dead_queue(), 2).await;
    let back = ch
        .basic_get(names.intake_queue().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("replayed complaint in the intake queue");
    assert_eq!(
        back.delivery.properties.message_id().as_ref().map(|s| s.as_str()),
        Some("01JDEADCOMPLAINT0000000000")
    );
    assert_eq!(back.delivery.data, COMPLAINT.as_bytes());
    assert_eq!(back.delivery.routing_key.as_str(), "intake.sms");

    // The same id again: gone from the dead queue, nothing published twice.
    let again = dead::replay(
        &cfg.amqp,
        &Selection::Ids(vec!["01JDEADCOMPLAINT0000000000".into()]),
        100,
    )
    .await
    .unwrap();
    assert!(again.replayed.is_empty());
    assert_eq!(again.not_found, vec!["01JDEADCOMPLAINT0000000000".to_string()]);
    wait_depth(&ch, &names.intake_queue(), 0).await;

    // --all: the reply goes back to outbound; the unknown one stays, with why.
    let all = dead::replay(&cfg.amqp, &Selection::All, 100).await.unwrap();
    assert_eq!(all.replayed.len(), 1);
    assert_eq!(all.replayed[0].0, "01JDEADREPLY00000000000000");
    assert_eq!(all.skipped.len(), 1);
    assert_eq!(all.skipped[0].0, "junk-1");
    wait_depth(&ch, &names.outbound_queue(), 1).await;
    wait_depth(&ch, &names.dead_queue(), 1).await;

    assert!(matches!(
        dead::replay(&cfg.amqp, &Selection::Ids(vec![]), 10).await,
        Err(dead::DeadError::NothingSelected)
    ));

    let _ = conn.close(200, "bye".into()).await;
}

/// Why the ops monitor does not peek at the intake queue's head to date the
/// oldest unrouted complaint: on a quorum queue every `basic.get` +
/// `basic.nack(requeue)` counts as a delivery, so polling would push the head
/// complaint over `x-delivery-limit` into the dead-letter queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peeking_at_a_quorum_queue_head_dead_letters_it() {
    let env = test_env(|cfg| {
        ops_config(cfg);
        cfg.amqp.delivery_limit = 2;
    });
    let cfg = env.cfg.clone();
    let names = Names::new(&cfg.amqp.prefix);
    let conn = connect(&cfg.amqp, "ops-peek-test").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    Topology::new(&cfg.amqp).declare(&ch).await.unwrap();
    let publisher = ConfirmedPublisher::new(conn.create_channel().await.unwrap())
        .await
        .unwrap();
    let exchange = names.intake_exchange();
    publisher
        .publish(&Outgoing {
            exchange: &exchange,
            routing_key: "intake.sms",
            message_id: "peek-1",
            body: COMPLAINT.as_bytes(),
            headers: vec![],
        })
        .await
        .unwrap();
    let mut peeks = 0;
    for _ in 0..10 {
        match ch
            .basic_get(names.intake_queue().into(), BasicGetOptions { no_ack: false })
            .await
            .unwrap()
        {
            Some(m) => {
                peeks += 1;
                m.delivery
                    .acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    wait_depth(&ch, &names.dead_queue(), 1).await;
    wait_depth(&ch, &names.intake_queue(), 0).await;
    assert!(peeks <= 3, "{peeks} peeks before it was dead-lettered");
    let _ = conn.close(200, "bye".into()).await;
}
