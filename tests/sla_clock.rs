//! The SLA clock against a real RabbitMQ with a moved clock: reminders,
//! overdue events and escalation copies at the right instants (never on a
//! weekend or holiday), an update in time prevents the overdue, `tertunda`
//! pauses, a restart loses no deadline and fires none twice; and a complaint
//! the real router routes gets its clock. Each test has its own prefix.

mod router_support;
mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions};
use lapin::types::FieldTable;
use pintu::broker::Names;
use pintu::broker::Outgoing;
use pintu::config::Config;
use pintu::sla::deadlines::TimerKind;
use pintu::sla::index::SlaIndex;
use pintu::sla::worker::{self, SlaHandle};
use pintu::sla::{Engine, ManualClock, SlaEvent, SlaKind, StageEvent, StageKind};
use router_support::*;
use support::*;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn sla_config(dir: &std::path::Path) -> Config {
    let mut cfg = config(dir, &unique_prefix(), &["3171.dinkes"]);
    cfg.sla.enabled = true;
    cfg.sla.calendar = repo().join("config/calendar/national.toml");
    cfg.sla.overrides = repo().join("config/calendar/overrides.toml");
    // Only pokes should fire in these tests; the tick is a slow safety net.
    cfg.sla.tick_secs = 3600;
    cfg
}

/// A clock worker on `dir`'s index with the given clock.
fn start_clock(cfg: &Config, clock: Arc<ManualClock>) -> (SlaHandle, CancellationToken, tokio::task::JoinHandle<()>) {
    let planner = Engine::load_planner(&cfg.sla, &cfg.base_dir).unwrap();
    let index = SlaIndex::open(&cfg.data_dir.join("sla")).unwrap();
    let handle = SlaHandle::new(Engine::new(planner, index, clock));
    let stop = CancellationToken::new();
    let task = tokio::spawn(worker::run(cfg.clone(), handle.clone(), stop.clone()));
    (handle, stop, task)
}

/// Every event on `<prefix>.sla.events`, in order, acked.
async fn events(cfg: &Config) -> mpsc::UnboundedReceiver<SlaEvent> {
    let conn = pintu::broker::connect(&cfg.amqp, "sla-test-events").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut consumer = ch
        .basic_consume(
            Names::new(&cfg.amqp.prefix).sla_events_queue().into(),
            "sla-test".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _conn = conn;
        while let Some(Ok(d)) = consumer.next().await {
            d.acker.ack(BasicAckOptions::default()).await.unwrap();
            let ev: SlaEvent = serde_json::from_slice(&d.data).unwrap();
            assert_eq!(
                d.properties.message_id().as_ref().map(|m| m.as_str()),
                Some(ev.event_id.as_str())
            );
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    rx
}

async fn next(rx: &mut mpsc::UnboundedReceiver<SlaEvent>) -> SlaEvent {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("an sla event in time")
        .expect("consumer alive")
}

async fn stage(b: &Broker, id: &str, kind: StageKind, at: &str) {
    let ev = StageEvent {
        complaint: id.into(),
        agency: "3171.dinkes".into(),
        kind,
        at: t(at),
        report_type: Some("pengaduan".into()),
        category: Some("kesehatan".into()),
        region: Some("3171".into()),
        channel: Some("sms".into()),
    };
    let body = serde_json::to_vec(&ev).unwrap();
    let msg = Outgoing {
        exchange: &b.names.sla_exchange(),
        routing_key: &ev.routing_key(),
        message_id: &ev.message_id(),
        body: &body,
        headers: vec![],
    };
    b.publisher.publish(&msg).await.unwrap();
}

/// Poke the clock and wait until it has looked for due timers.
async fn tick(h: &SlaHandle) {
    let before = h.ticks.load(std::sync::atomic::Ordering::SeqCst);
    h.tick_now();
    let start = std::time::Instant::now();
    while h.ticks.load(std::sync::atomic::Ordering::SeqCst) == before {
        assert!(start.elapsed() < WAIT, "no tick in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn pending(h: &SlaHandle, id: &str, kind: TimerKind) -> bool {
    h.engine
        .index
        .get(id)
        .unwrap()
        .is_some_and(|r| r.timers.iter().any(|t| t.kind == kind))
}

/// Wait until the clock of `id` satisfies `f`.
async fn applied(h: &SlaHandle, id: &str, f: impl Fn(Option<&pintu::sla::deadlines::ClockRecord>) -> bool) {
    let start = std::time::Instant::now();
    loop {
        if f(h.engine.index.get(id).unwrap().as_ref()) {
            return;
        }
        assert!(start.elapsed() < WAIT, "stage event of {id} not applied in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminder_overdue_escalation_at_working_instants_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sla_config(dir.path());
    let b = Broker::new(cfg.clone()).await;
    let mut rx = events(&cfg).await;
    let clock = Arc::new(ManualClock::new(t("2025-03-27T10:00:00+07:00")));
    let (h, stop, task) = start_clock(&cfg, clock.clone());

    // A: no update. B: followed up in time. C: tertunda for two weeks.
    // All routed on Thursday 27 March 2025, the day before the Lebaran break.
    for id in ["A", "B", "C"] {
        stage(&b, id, StageKind::Dispositioned, "2025-03-27T10:00:00+07:00").await;
    }
    for id in ["A", "B", "C"] {
        applied(&h, id, |r| r.is_some()).await;
    }
    clock.set(t("2025-04-08T10:00:00+07:00"));
    stage(&b, "C", StageKind::Paused, "2025-04-08T10:00:00+07:00").await;
    applied(&h, "C", |r| r.is_some_and(|r| r.paused.is_some())).await;
    clock.set(t("2025-04-09T10:00:00+07:00"));
    stage(&b, "B", StageKind::FollowedUp, "2025-04-09T10:00:00+07:00").await;
    applied(&h, "B", |r| {
        r.is_some_and(|r| r.stage == pintu::sla::Stage::CitizenReply)
    })
    .await;

    // One second before A's reminder nothing fires; at 08:00 on Friday it does.
    clock.set(t("2025-04-11T07:59:59+07:00"));
    tick(&h).await;
    assert!(pending(&h, "A", TimerKind::Remind), "not one second early");
    clock.set(t("2025-04-11T08:00:00+07:00"));
    tick(&h).await;
    let e = next(&mut rx).await;
    assert_eq!((e.complaint.as_str(), e.kind), ("A", SlaKind::Reminder), "{e:?}");
    assert_eq!(e.at, t("2025-04-11T08:00:00+07:00"));
    assert_eq!(e.due_at, t("2025-04-14T16:00:00+07:00"), "5 working days after Lebaran");

    // Restart between the reminder and the deadline.
    stop.cancel();
    task.await.unwrap();
    drop(h);
    let (h, stop, task) = start_clock(&cfg, clock.clone());
    clock.set(t("2025-04-14T15:59:59+07:00"));
    tick(&h).await;
    assert!(pending(&h, "A", TimerKind::Due), "not one second early");
    clock.set(t("2025-04-14T16:00:00+07:00"));
    tick(&h).await;
    let mut got = vec![next(&mut rx).await, next(&mut rx).await];
    got.sort_by_key(|e| e.kind.as_str());
    assert_eq!((got[0].complaint.as_str(), got[0].kind), ("A", SlaKind::Escalation));
    assert_eq!(got[0].target.as_deref(), Some("inspektorat.3171"));
    assert_eq!(got[0].agency, "3171.dinkes", "the clock never moves the complaint");
    assert_eq!((got[1].complaint.as_str(), got[1].kind), ("A", SlaKind::Overdue));
    assert_eq!(got[1].at, t("2025-04-14T16:00:00+07:00"));
    applied(&h, "A", |r| r.is_some_and(|r| r.is_overdue())).await;

    // C resumes on Monday 21 April with 4 working days left.
    clock.set(t("2025-04-21T09:00:00+07:00"));
    stage(&b, "C", StageKind::Resumed, "2025-04-21T09:00:00+07:00").await;
    applied(&h, "C", |r| r.is_some_and(|r| r.paused.is_none())).await;
    // Level 2 for A: 5 working days after its deadline, over Good Friday
    // (18 April): Tuesday 22 April, not Monday.
    clock.set(t("2025-04-21T16:00:00+07:00"));
    tick(&h).await;
    assert!(pending(&h, "A", TimerKind::Escalate), "not on the Monday");
    clock.set(t("2025-04-22T16:00:00+07:00"));
    tick(&h).await;
    let e = next(&mut rx).await;
    assert_eq!(
        (e.complaint.as_str(), e.kind, e.level),
        ("A", SlaKind::Escalation, Some(2))
    );
    assert_eq!(e.target.as_deref(), Some("ombudsman.31"));
    // Then, in time order: C's reminder, B's close-due, C's overdue + escalation.
    clock.set(t("2025-04-25T16:30:00+07:00"));
    tick(&h).await;
    let mut rest = Vec::new();
    for _ in 0..4 {
        rest.push(next(&mut rx).await);
    }
    let seen: Vec<(&str, SlaKind, DateTime<Utc>)> = rest.iter().map(|e| (e.complaint.as_str(), e.kind, e.at)).collect();
    assert_eq!(seen[0], ("C", SlaKind::Reminder, t("2025-04-24T08:00:00+07:00")));
    assert_eq!(seen[1], ("B", SlaKind::CloseDue, t("2025-04-24T16:00:00+07:00")));
    let mut last: Vec<_> = seen[2..].to_vec();
    last.sort_by_key(|x| x.1.as_str());
    assert_eq!(last[0], ("C", SlaKind::Escalation, t("2025-04-25T16:30:00+07:00")));
    assert_eq!(last[1], ("C", SlaKind::Overdue, t("2025-04-25T16:30:00+07:00")));
    assert!(
        rest.iter()
            .chain(&got)
            .all(|e| e.complaint != "B" || e.kind == SlaKind::CloseDue),
        "B was followed up in time: no reminder, no overdue"
    );
    // Nothing else, nothing twice.
    let mut ids = HashSet::new();
    for e in rest.iter().chain(&got) {
        assert!(ids.insert(e.event_id.clone()), "fired twice: {}", e.event_id);
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(2), rx.recv()).await.is_err(),
        "no further events"
    );
    tick(&h).await;
    let s = h.summary.get();
    let row = s.agencies.iter().find(|r| r.agency == "3171.dinkes").unwrap();
    assert_eq!((row.open, row.overdue), (3, 2), "{s:?}");
    // The oldest overdue is A's, missed on 14 April at 16:00.
    assert_eq!(
        row.oldest_overdue_secs,
        Some((t("2025-04-25T16:30:00+07:00") - t("2025-04-14T16:00:00+07:00")).num_seconds())
    );
    stop.cancel();
    task.await.unwrap();
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_complaint_gets_its_clock_and_bad_stage_events_are_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sla_config(dir.path());
    let b = Broker::new(cfg.clone()).await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let (h, stop, task) = start_clock(&cfg, clock);
    let (router_stop, router) = spawn_router(&cfg);
    let c = complaint("puskesmas di jaksel tutup jam 10 pagi, pasien terlantar");
    b.intake(std::slice::from_ref(&c)).await;
    applied(&h, &c.id, |r| r.is_some()).await;
    let r = h.engine.index.get(&c.id).unwrap().unwrap();
    assert_eq!(r.agency, "3171.dinkes");
    assert_eq!(r.stage, pintu::sla::Stage::FollowUp);
    assert_eq!(r.category.as_deref(), Some("kesehatan"));
    assert!(r.due_ms > r.started_ms);

    let msg = Outgoing {
        exchange: &b.names.sla_exchange(),
        routing_key: "stage.dispositioned",
        message_id: "bad-1",
        body: br#"{"complaint":"a b","agency":"3171.dinkes","kind":"dispositioned","at":"2025-01-01T00:00:00Z"}"#,
        headers: vec![],
    };
    b.publisher.publish(&msg).await.unwrap();
    let dead = b.take(&b.names.dead_queue(), 1, WAIT).await;
    assert!(
        dead.iter()
            .any(|(p, _)| p.message_id().as_ref().map(|m| m.as_str()) == Some("bad-1")),
        "the bad stage event is dead-lettered"
    );
    let _ = router_stop.send(());
    router.await.unwrap().unwrap();
    stop.cancel();
    task.await.unwrap();
    b.cleanup().await;
}
