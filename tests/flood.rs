//! Flood control (issue 11.12): one sender beyond its rate is kept, not
//! published and not acknowledged; /ops shows what is held, and `pintu
//! flood replay` releases it as the complaint it is.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use parking_lot::Mutex;
use pintu::ops::flood::HeldList;
use pintu::ops::Summary;
use support::*;

type Calls = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// Kannel-like sendsms that records every acknowledgement sent.
async fn sendsms(State(calls): State<Calls>, Query(q): Query<HashMap<String, String>>) -> (StatusCode, &'static str) {
    calls.lock().push(q);
    (StatusCode::ACCEPTED, "0: Accepted for delivery")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_sender_is_held_shown_and_replayable() {
    let calls: Calls = Arc::default();
    let app = axum::Router::new()
        .route("/cgi-bin/sendsms", get(sendsms))
        .with_state(calls.clone());
    let mock = serve_http(app).await;

    let gw = spawn_app(|cfg| {
        cfg.channels.kannel.sendsms_url = Some(format!("http://{mock}/cgi-bin/sendsms"));
        cfg.flood.burst = 3;
        cfg.flood.per_hour = 1;
    })
    .await;
    let prefix = gw.prefix().to_string();
    let base = format!("http://{}", gw.addr);
    let c = reqwest::Client::new();
    let sms = |id: String, from: &str, text: String| {
        let url = format!("{base}/sms/kannel?token=change-me-kannel&to=1708");
        let req = c
            .get(url)
            .query(&[("id", id), ("from", from.to_string()), ("text", text)]);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };

    // A broken phone: 40 different messages in a row from one number.
    let flooder = "+6281299990077";
    let mut answers = Vec::new();
    for i in 0..40 {
        answers.push(sms(format!("f-{i}"), flooder, format!("tes tes pesan ke {i} dari HP rusak")).await);
    }
    assert!(
        answers.iter().all(|(s, _)| *s == 200),
        "all kept, none refused: {answers:?}"
    );
    let with_code = answers.iter().filter(|(_, b)| b.starts_with("OK LPR-")).count();
    assert_eq!(with_code, 3, "only the burst became complaints: {answers:?}");
    // A provider retry of a held message is a duplicate: not held twice.
    assert_eq!(
        sms("f-39".into(), flooder, "tes tes pesan ke 39 dari HP rusak".into()).await,
        (200, "OK".to_string())
    );
    // Another citizen meanwhile is not affected.
    let (status, body) = sms(
        "other-1".into(),
        "+6281299990001",
        "Jalan berlubang di Jl. Sudirman Kota Bandung".into(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.starts_with("OK LPR-"), "{body}");

    // Four complaints reach the broker; the held 37 do not, and get no reply.
    let got = take(&format!("{prefix}.intake"), 5, Duration::from_secs(5)).await;
    assert_eq!(
        got.len(),
        4,
        "{:?}",
        got.iter().map(|g| &g.json["external_id"]).collect::<Vec<_>>()
    );
    assert!(
        wait_until(Duration::from_secs(10), || calls.lock().len() >= 4).await,
        "acknowledgements of the four complaints"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(calls.lock().len(), 4, "no acknowledgement for a held message");

    // Visible on /ops: the summary and the list.
    let summary: Summary = c
        .get(format!("{base}/ops/api/summary"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary.flood.held, 37);
    assert_eq!(summary.flood.last_hour, 37);
    assert_eq!(summary.intake.last_hour.held, 37);
    assert_eq!(summary.flood.oldest.len(), 10);
    let first = &summary.flood.oldest[0];
    assert!(first.reason.starts_with("rate_limited"), "{first:?}");
    assert_eq!(first.sender, pintu::obs::mask(flooder), "masked");
    assert!(!first.sender.contains("99990077"), "never the number: {}", first.sender);
    assert!(first.preview.contains("pesan ke 3"), "{first:?}");
    let list: HeldList = c
        .get(format!("{base}/ops/api/flood?limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.items.len(), 37);
    assert!(list.items.iter().all(|i| i.sender_tag == first.sender_tag));

    // Replay two of them with the CLI, then the rest.
    let chosen: Vec<String> = list.items[..2].iter().map(|i| i.id.clone()).collect();
    let exe = env!("CARGO_BIN_EXE_pintu");
    let cfg_file = repo().join("config/pintu.toml");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(exe)
            .arg("--config")
            .arg(&cfg_file)
            .arg("flood")
            .args(args)
            .arg("--url")
            .arg(&base)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let listed = run(&["list", "--limit", "5"]);
    assert!(listed.contains("held by flood control: 37"), "{listed}");
    let out = run(&["replay", &chosen[0], &chosen[1], "01ARZ3NDEKTSV4RRFFQ69G5FAV"]);
    assert!(out.starts_with("released 2"), "{out}");
    assert!(out.contains("not held"), "{out}");
    let got = take(&format!("{prefix}.intake"), 2, Duration::from_secs(5)).await;
    let ids: Vec<&str> = got.iter().map(|g| g.message_id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(
        chosen.iter().all(|c| ids.contains(&c.as_str())),
        "same message_id as held: {ids:?}"
    );
    for g in &got {
        assert_valid_complaint(&g.json);
    }
    // Replaying again finds nothing.
    assert!(run(&["replay", &chosen[0]]).starts_with("released 0"));
    let out = run(&["replay", "--all"]);
    assert!(out.starts_with("released 35"), "{out}");
    let got = take(&format!("{prefix}.intake"), 35, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 35);
    assert_eq!(gw.intake.store().flood_held.len(), 0);
    let list: HeldList = c
        .get(format!("{base}/ops/api/flood"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.held, 0);
    // Released without --ack: still no acknowledgement per message.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(calls.lock().len(), 4);
    // A resend of a released message is answered with its code now.
    let (_, body) = sms("f-39".into(), flooder, "tes tes pesan ke 39 dari HP rusak".into()).await;
    assert!(body.starts_with("OK LPR-"), "{body}");
    gw.stop().await;
}
