//! SLA deadline index at 1,000,000 open complaints: insert rate (stage
//! events applied durably), RSS and disk, the time to find and fire
//! everything due in the worst tick (the end of an office day, when a whole
//! day's cohort of deadlines falls due at once), the cost of a tick with
//! nothing due, and insert/remove per second. Figures are printed.
//!
//! `cargo bench --bench sla` (`SLA_BENCH_N=100000` for a quicker run).

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use pintu::sla::calendar::Calendar;
use pintu::sla::deadlines::Planner;
use pintu::sla::index::SlaIndex;
use pintu::sla::workdays::{OfficeHours, WorkingTime};
use pintu::sla::{Clock, Engine, ManualClock, SlaConfig, StageEvent, StageKind};

const NATIONAL: &str = include_str!("../config/calendar/national.toml");
const AGENCIES: [&str; 8] = [
    "3171.dinkes",
    "3273.disdik",
    "5171.dinkes",
    "7371.pu",
    "9471.dinkes",
    "kemenkes",
    "pln",
    "triage",
];

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn planner() -> Planner {
    let wt = WorkingTime::new(Calendar::from_strs(NATIONAL, None).unwrap(), OfficeHours::default());
    Planner::new(SlaConfig::default(), wt)
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn event(i: u64, at: DateTime<Utc>, kind: StageKind) -> StageEvent {
    StageEvent {
        complaint: format!("C{i:012}"),
        agency: AGENCIES[(i % AGENCIES.len() as u64) as usize].to_string(),
        kind,
        at,
        report_type: Some("pengaduan".into()),
        category: Some("kesehatan".into()),
        region: None,
        channel: Some("sms".into()),
    }
}

fn bench(c: &mut Criterion) {
    let n: u64 = std::env::var("SLA_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let start = t("2025-07-01T08:00:00+07:00");
    let clock = Arc::new(ManualClock::new(start));
    let rss0 = rss_kib();
    let engine = Engine::new(planner(), SlaIndex::open(dir.path()).unwrap(), clock.clone());
    // Dispositions spread over ~6 months of office hours (one every ~16 s).
    let spread_ms = 183 * 86_400_000 / n as i64;
    let t0 = Instant::now();
    for i in 0..n {
        let at = start + Duration::milliseconds(spread_ms * i as i64);
        engine.on_stage(&event(i, at, StageKind::Dispositioned)).unwrap();
    }
    let load = t0.elapsed();
    engine.index.flush().unwrap();
    println!(
        "sla: {n} clocks, {} timers: applied in {:.1} s = {:.0} dispositions/s; RSS +{} MiB; disk {} MiB",
        engine.index.pending_timers(),
        load.as_secs_f64(),
        n as f64 / load.as_secs_f64(),
        (rss_kib().saturating_sub(rss0)) / 1024,
        dir_size(dir.path()) / (1024 * 1024)
    );

    // The worst tick: the first cohort's deadline (5 working days after
    // 1 July 2025 = 8 July, 16:00 WIB) with the reminders due up to then.
    clock.set(t("2025-07-08T16:00:00+07:00"));
    let t1 = Instant::now();
    let fired = engine.fire_all_due().unwrap();
    let tick = t1.elapsed();
    println!(
        "sla: end-of-day tick fired {fired} events in {:.3} s ({:.0} timers/s), clock at {}",
        tick.as_secs_f64(),
        fired as f64 / tick.as_secs_f64().max(1e-9),
        clock.now()
    );

    let mut group = c.benchmark_group("sla");
    group.sample_size(20);
    // A tick with nothing due: one empty range scan at the head of the index.
    group.bench_function("tick_nothing_due", |b| b.iter(|| engine.due_now().unwrap().len()));
    // Insert then remove one clock (disposition + close), durably.
    let mut i = n;
    group.bench_function("insert_remove", |b| {
        b.iter(|| {
            i += 1;
            let at = clock.now();
            engine.on_stage(&event(i, at, StageKind::Dispositioned)).unwrap();
            engine.on_stage(&event(i, at, StageKind::Closed)).unwrap();
        })
    });
    group.finish();
    let t2 = Instant::now();
    let m = 100_000.min(n);
    for j in 0..m {
        engine.on_stage(&event(j, clock.now(), StageKind::Closed)).unwrap();
    }
    let rm = t2.elapsed();
    println!(
        "sla: removed {m} clocks in {:.1} s = {:.0} removes/s",
        rm.as_secs_f64(),
        m as f64 / rm.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
