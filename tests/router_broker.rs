//! The route worker against a real RabbitMQ at 127.0.0.1:5672: each test has
//! its own random prefix, so they run in parallel, and deletes its objects.

mod router_support;
mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lapin::types::AMQPValue;
use pintu::complaint::Complaint;
use pintu::routing::worker::REASON_HEADER;
use router_support::*;
use support::*;

const WAIT: Duration = Duration::from_secs(20);

fn routed(body: &[u8]) -> Complaint {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_to_agency_queue_with_anonymity() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &unique_prefix(), &["3171.dinkes"]);
    let b = Broker::new(cfg.clone()).await;
    let (stop, worker) = spawn_router(&cfg);

    let plain = complaint("puskesmas di jaksel tutup jam 10 pagi, pasien terlantar");
    let mut anon = complaint("ANONIM dokter puskesmas di jaksel sering tdk datang. hub sy 0812-3456-7890");
    anon.id = ulid::Ulid::new().to_string();
    b.intake(&[plain.clone(), anon.clone()]).await;

    let got = b.take(&b.names.agency_queue("3171.dinkes"), 2, WAIT).await;
    assert_eq!(got.len(), 2, "both complaints reach 3171.dinkes");
    let by_id: HashMap<String, (lapin::BasicProperties, Complaint)> = got
        .into_iter()
        .map(|(p, body)| {
            let c = routed(&body);
            (c.id.clone(), (p, c))
        })
        .collect();

    let (props, c) = &by_id[&plain.id];
    assert_eq!(props.message_id().as_ref().map(|m| m.as_str()), Some(plain.id.as_str()));
    assert_eq!(*props.delivery_mode(), Some(2), "persistent");
    let r = c.routing.as_ref().unwrap();
    assert_eq!(r.agency, "3171.dinkes");
    assert_eq!(r.category.as_deref(), Some("kesehatan"));
    assert_eq!(r.region.as_deref(), Some("3171"));
    assert!(!r.reasons.is_empty());
    assert!(c.sender.is_some(), "a named complaint keeps its sender");

    let (_, a) = &by_id[&anon.id];
    assert!(a.flags.anonymous);
    assert!(
        a.sender.is_none(),
        "anonymous complaint reaches the agency without sender"
    );
    assert!(!a.text.contains("ANONIM"), "marker removed: {}", a.text);
    assert!(!a.text.contains("3456"), "phone number masked: {}", a.text);

    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    assert_eq!(b.depth(&b.names.intake_queue()).await, 0, "everything acked");
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_unbound_and_poison() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &unique_prefix(), &[]);
    let b = Broker::new(cfg.clone()).await;
    let (stop, worker) = spawn_router(&cfg);

    let hello = complaint("selamat pagi min");
    let power = complaint("listrik padam tiap malam di kab gowa sdh seminggu");
    b.intake(&[hello.clone(), power.clone()]).await;
    b.intake_raw(b"{ this is not a complaint", "poison-1").await;

    let triage = b.take(&b.names.agency_queue("triage"), 1, WAIT).await;
    assert_eq!(triage.len(), 1);
    let t = routed(&triage[0].1);
    assert_eq!(t.id, hello.id);
    assert_eq!(t.routing.as_ref().unwrap().agency, "triage");

    // `pln` has no queue: the alternate exchange keeps it in `unbound`.
    let unbound = b.take(&b.names.unbound_queue(), 1, WAIT).await;
    assert_eq!(unbound.len(), 1);
    let u = routed(&unbound[0].1);
    assert_eq!(u.id, power.id);
    assert_eq!(u.routing.as_ref().unwrap().agency, "pln");

    let dead = b.take(&b.names.dead_queue(), 1, WAIT).await;
    assert_eq!(dead.len(), 1, "poison message dead-lettered");
    let (props, body) = &dead[0];
    assert_eq!(body.as_slice(), b"{ this is not a complaint");
    let reason = props
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(REASON_HEADER).cloned());
    match reason {
        Some(AMQPValue::LongString(s)) => assert!(s.to_string().contains("not a complaint"), "{s}"),
        other => panic!("no {REASON_HEADER} header: {other:?}"),
    }

    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    assert_eq!(b.depth(&b.names.intake_queue()).await, 0);
    b.cleanup().await;
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_binary(config: &std::path::Path) -> Killed {
    Killed(
        Command::new(env!("CARGO_BIN_EXE_pintu"))
            .arg("--config")
            .arg(config)
            .arg("route")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// kill -9 in mid-stream, restart: every complaint routed, and every copy of
/// a complaint (at-least-once) carries the same id and the same decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_restart_routes_everything_once_per_decision() {
    const N: usize = 2000;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix();
    // A small prefetch keeps the worker busy long enough to be killed mid-stream.
    let path = write_config(dir.path(), &prefix, &[], 32);
    let cfg = pintu::config::Config::load(&path).unwrap();
    let b = Broker::new(cfg).await;

    let texts = [
        "jalan rusak di kab bogor",
        "listrik padam di kota padang",
        "ktp blm jadi di disdukcapil kab tangerang",
        "sampah numpuk di jaksel",
        "halo min",
    ];
    let complaints: Vec<Complaint> = (0..N).map(|i| complaint(texts[i % texts.len()])).collect();
    b.intake(&complaints).await;

    let unbound = b.names.unbound_queue();
    let triage = b.names.agency_queue("triage");
    let mut first = spawn_binary(&path);
    // Let it route part of the stream, then kill -9.
    let start = Instant::now();
    while b.depth(&unbound).await < (N / 10) as u32 && start.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let routed_before = b.depth(&unbound).await + b.depth(&triage).await;
    assert!(
        (routed_before as usize) < N,
        "killed mid-stream ({routed_before} of {N} routed)"
    );

    let _second = spawn_binary(&path);
    let start = Instant::now();
    while b.depth(&b.names.intake_queue()).await > 0 && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The last acks may still be in flight when the queue reads 0.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(_second);

    let mut seen: HashMap<String, (String, Option<String>, Option<String>, String)> = HashMap::new();
    let mut copies = 0;
    for (props, body) in b.drain(&unbound).await.into_iter().chain(b.drain(&triage).await) {
        let c = routed(&body);
        let r = c.routing.unwrap();
        assert_eq!(props.message_id().as_ref().map(|m| m.to_string()), Some(c.id.clone()));
        let decision = (r.agency, r.category, r.region, r.router_version);
        if let Some(prev) = seen.insert(c.id.clone(), decision.clone()) {
            assert_eq!(prev, decision, "a redelivery changed the decision of {}", c.id);
        }
        copies += 1;
    }
    for c in &complaints {
        assert!(seen.contains_key(&c.id), "complaint {} lost", c.id);
    }
    assert_eq!(seen.len(), N);
    assert!(copies >= N);
    assert_eq!(b.depth(&b.names.dead_queue()).await, 0);
    b.cleanup().await;
}

/// A complaint that can never be published (here: the agency's alternate
/// exchange lost its queue, so the broker returns it) is rejected with
/// requeue until the intake queue's delivery limit dead-letters it: no
/// endless loop, nothing dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpublishable_complaint_is_dead_lettered_by_delivery_limit() {
    use lapin::options::QueueDeleteOptions;

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &unique_prefix(), &[]);
    let b = Broker::new(cfg.clone()).await;
    let (stop, worker) = spawn_router(&cfg);
    // Give the worker time to declare the topology, then break it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.ch.queue_delete(b.names.unbound_queue().into(), QueueDeleteOptions::default())
        .await
        .unwrap();

    let c = complaint("listrik padam di kab gowa");
    b.intake(std::slice::from_ref(&c)).await;
    let dead = b.take(&b.names.dead_queue(), 1, WAIT).await;
    assert_eq!(dead.len(), 1, "dead-lettered after the delivery limit");
    assert_eq!(routed(&dead[0].1).id, c.id);
    assert_eq!(b.depth(&b.names.intake_queue()).await, 0);

    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    b.cleanup().await;
}
