//! Deadlines on `/ops` in headless Chromium and the policy report through
//! `pintu report`: a gateway with the SLA clock on, stage events on the real
//! RabbitMQ, overdue counts on the page, and the CLI's CSV equal to
//! `/ops/api/report` (small cells suppressed). Skipped (with a message) only
//! when `/usr/bin/chromium` is missing; CI installs it.

mod ops_support;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ops_support::*;
use pintu::broker::Outgoing;
use pintu::broker::{connect, ConfirmedPublisher, Names, Topology};
use pintu::sla::{StageEvent, StageKind};
use support::browser::*;
use support::*;

fn ev(id: &str, agency: &str, kind: StageKind, at: DateTime<Utc>, category: &str) -> StageEvent {
    StageEvent {
        complaint: id.into(),
        agency: agency.into(),
        kind,
        at,
        report_type: Some("pengaduan".into()),
        category: Some(category.into()),
        region: Some(agency[..4].to_string()),
        channel: Some("sms".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_page_shows_overdue_counts_and_report_cli_matches_the_api() {
    let gw = spawn_app(|cfg| {
        ops_config(cfg);
        cfg.sla.enabled = true;
        cfg.sla.tick_secs = 1;
    })
    .await;
    let cfg = gw.cfg().clone();
    let names = Names::new(&cfg.amqp.prefix);
    let addr = gw.addr;
    let conn = connect(&cfg.amqp, "sla-ops-test").await.unwrap();
    Topology::new(&cfg.amqp)
        .declare(&conn.create_channel().await.unwrap())
        .await
        .unwrap();
    let publisher = ConfirmedPublisher::new(conn.create_channel().await.unwrap())
        .await
        .unwrap();
    let now = Utc::now();
    let old: DateTime<Utc> = "2025-11-10T02:00:00Z".parse().unwrap();
    let mut events = Vec::new();
    // Four kesehatan complaints followed up 3 h after their disposition today
    // (deadlines ahead), two from November 2025 never followed up (overdue),
    // and two pungli complaints of another agency (overdue, below k = 5).
    for i in 0..4 {
        let id = format!("K{i}");
        events.push(ev(&id, "3171.dinkes", StageKind::Dispositioned, now, "kesehatan"));
        events.push(ev(
            &id,
            "3171.dinkes",
            StageKind::FollowedUp,
            now + chrono::Duration::hours(3),
            "kesehatan",
        ));
    }
    for i in 4..6 {
        events.push(ev(
            &format!("K{i}"),
            "3171.dinkes",
            StageKind::Dispositioned,
            old,
            "kesehatan",
        ));
    }
    for i in 0..2 {
        events.push(ev(
            &format!("P{i}"),
            "3273.polres",
            StageKind::Dispositioned,
            old,
            "pungli",
        ));
    }
    for e in &events {
        let body = serde_json::to_vec(e).unwrap();
        publisher
            .publish(&Outgoing {
                exchange: &names.sla_exchange(),
                routing_key: &e.routing_key(),
                message_id: &e.message_id(),
                body: &body,
                headers: vec![],
            })
            .await
            .unwrap();
    }
    let http = reqwest::Client::new();
    let start = Instant::now();
    let sla = loop {
        let v: serde_json::Value = http
            .get(format!("http://{addr}/ops/api/sla"))
            .bearer_auth(OPS_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["summary"]["open"] == 8 && v["summary"]["overdue"] == 4 {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "clock never showed 8 open / 4 overdue: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let dinkes = sla["summary"]["agencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agency"] == "3171.dinkes")
        .unwrap()
        .clone();
    assert_eq!(
        (dinkes["open"].as_u64(), dinkes["overdue"].as_u64()),
        (Some(6), Some(2))
    );
    // Prometheus gauges with the bounded label set (provinces, not agency codes).
    let metrics = http
        .get(format!("http://{addr}/metrics"))
        .bearer_auth(OPS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "pintu_sla_open{agency=\"prov-31\"} 6",
        "pintu_sla_overdue{agency=\"prov-31\"} 2",
        "pintu_sla_overdue{agency=\"prov-32\"} 2",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} not in /metrics:\n{metrics}");
    }

    if Path::new(CHROMIUM).exists() {
        let profile = tempfile::tempdir().unwrap();
        let url = format!("http://{addr}/ops?token={OPS_TOKEN}");
        let dom = chromium(profile.path(), &["--dump-dom".into()], &url).await;
        assert!(
            dom.contains("data-sla-loaded=\"1\""),
            "the deadline table never rendered:\n{dom}"
        );
        assert_eq!(text_of(&dom, "v-sla-open"), "8");
        assert_eq!(text_of(&dom, "v-sla-overdue"), "4");
        assert!(dom.contains("data-agency=\"3171.dinkes\""), "per-agency row");
        assert!(dom.contains("data-agency=\"3273.polres\""), "per-agency row");
    } else {
        eprintln!("SKIPPED the Chromium part: {CHROMIUM} is not installed (apt-get install chromium)");
    }

    let from = "2025-01-01";
    let to = (now + chrono::Duration::days(2)).date_naive().to_string();
    let api = http
        .get(format!("http://{addr}/ops/api/report"))
        .query(&[("from", from), ("to", to.as_str()), ("format", "csv")])
        .bearer_auth(OPS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        api,
        "region,category,agency,channel,received,dispositioned,followed_up,overdue,share_overdue,median_follow_up_hours\n\
         3171,kesehatan,3171.dinkes,sms,6,6,4,2,0.333,4\n",
        "pungli row (2 complaints) suppressed"
    );
    let cli = tokio::process::Command::new(env!("CARGO_BIN_EXE_pintu"))
        .args(["--config", "config/pintu.toml", "report", "--from", from, "--to", &to])
        .arg("--url")
        .arg(format!("http://{addr}"))
        .current_dir(repo())
        .env("PINTU_HTTP__OPS_TOKEN", OPS_TOKEN)
        .output()
        .await
        .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    assert_eq!(
        String::from_utf8_lossy(&cli.stdout),
        api,
        "pintu report CSV = /ops/api/report"
    );
    if Path::new(CHROMIUM).exists() {
        let profile = tempfile::tempdir().unwrap();
        let url = format!("http://{addr}/ops/report?token={OPS_TOKEN}&from={from}&to={to}");
        let dom = chromium(profile.path(), &["--dump-dom".into()], &url).await;
        assert!(
            dom.contains("data-loaded=\"1\""),
            "the report page never rendered:\n{dom}"
        );
        assert!(dom.contains("data-agency=\"3171.dinkes\""), "agency row");
        assert!(!dom.contains("data-agency=\"3273.polres\""), "2 complaints: suppressed");
        assert!(
            dom.contains("data-bar=\"31\"") && !dom.contains("data-bar=\"32\""),
            "province bars"
        );
        assert!(dom.contains("data-bar=\"kesehatan\""), "category bars");
        assert!(dom.contains("rows suppressed: 1"), "suppression noted");
    }
    let bad = http
        .get(format!("http://{addr}/ops/api/report?from=2025-13-01&to=2025-12-31"))
        .bearer_auth(OPS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let _ = conn.close(200, "bye".into()).await;
    gw.stop().await;
}
