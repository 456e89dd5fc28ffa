//! The loop back to the citizen end to end through RabbitMQ (docs/status.md):
//! an SMS complaint is routed, the agency posts updates (AMQP and HTTP), the
//! citizen's MT at the fake SMS gateway carries the agency's name and
//! message; redeliveries, other agencies, strangers and restarts do nothing
//! twice and reveal nothing.

mod status_support;
mod support;

use std::time::Duration;

use pintu::status::Stage;
use status_support::*;
use support::*;

const CITIZEN: &str = "+6281234560001";
const STRANGER: &str = "+6281234569999";
const POTHOLE: &str = "Jalan berlubang besar di Kota Bandung mohon segera diperbaiki";

/// Wait for `tracking`'s record to reach `stage`.
async fn wait_stage(gw: &pintu::serve::Gateway, tracking: &str, stage: Stage) -> pintu::status::Record {
    let store = &gw.status.as_ref().unwrap().store;
    let ok = wait_until(WAIT, || {
        store.get(tracking).ok().flatten().is_some_and(|r| r.stage == stage)
    })
    .await;
    let rec = store.get(tracking).unwrap();
    assert!(ok, "{tracking} never reached {stage:?}: {rec:?}");
    rec.unwrap()
}

async fn wait_sms(sms: &Sms, to: &str, needle: &str, n: usize) {
    let ok = wait_until(WAIT, || sms.count_containing(to, needle) >= n).await;
    assert!(ok, "no {n} MT to {to} with {needle:?}: {:?}", sms.texts_to(to));
}

/// Let the outbound path settle (status outbox and reply queue drained).
async fn settle(gw: &pintu::serve::Gateway) {
    let store = &gw.status.as_ref().unwrap().store;
    wait_until(WAIT, || store.outbox_len() == 0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_update_reaches_the_citizen_once_and_a_wrong_key_is_refused() {
    let sms = Sms::default();
    let url = fake_sms(sms.clone()).await;
    let gw = spawn_app(|cfg| with_status(cfg, &url)).await;
    let cfg = gw.cfg().clone();
    let (router, _) = spawn_router(&cfg);

    let code = code_of(&mo(gw.addr, "a1", CITIZEN, POTHOLE).await);
    wait_sms(&sms, CITIZEN, &format!("Balas CEK {code} untuk status"), 1).await;
    let rec = wait_stage(&gw, &code, Stage::Terdisposisi).await;
    assert_eq!(rec.agency, DPUPR);

    // Another agency's update under the right agency's key: dead-lettered, nothing recorded.
    let mut forged = update(DISHUB, &code, "selesai", Some("palsu"));
    publish_update(&cfg, &format!("status.{DPUPR}"), &forged).await;
    forged["agency"] = DPUPR.into();
    forged["update_id"] = "forged-2".into();
    publish_update(&cfg, &format!("status.{DISHUB}"), &forged).await;
    // The real one, delivered twice (an agency's retry: same update_id).
    let u = update(DPUPR, &code, "diproses", Some("Tim kami ke lokasi besok"));
    publish_update(&cfg, &format!("status.{DPUPR}"), &u).await;
    publish_update(&cfg, &format!("status.{DPUPR}"), &u).await;

    let rec = wait_stage(&gw, &code, Stage::Diproses).await;
    wait_sms(&sms, CITIZEN, "Tim kami ke lokasi besok", 1).await;
    let dead = take(&format!("{}.dead", cfg.amqp.prefix), 2, WAIT).await;
    assert_eq!(dead.len(), 2, "both forged updates dead-lettered");
    settle(&gw).await;
    let texts = sms.texts_to(CITIZEN);
    let notice: Vec<&String> = texts.iter().filter(|t| t.contains("Tim kami")).collect();
    assert_eq!(notice.len(), 1, "once, though delivered twice: {texts:?}");
    assert!(
        notice[0].contains("Dinas PUPR Kota Bandung") && notice[0].contains(&code),
        "{}",
        notice[0]
    );
    assert!(!texts.iter().any(|t| t.contains("palsu")));
    assert_eq!(rec.history.len(), 2, "routed + one update: {:?}", rec.history);
    let svc = gw.status.as_ref().unwrap();
    let counts = svc.counters.per_agency();
    assert_eq!(counts[DPUPR].updates, 1);
    assert_eq!(counts[DPUPR].duplicates, 1);
    assert!(counts.values().map(|c| c.forbidden).sum::<u64>() >= 1);
    // The same on /ops (loopback: no ops token needed) and in `pintu status`.
    let ops: serde_json::Value = reqwest::get(format!("http://{}/ops/api/status-loop", gw.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ops["stages"]["diproses"], 1, "{ops}");
    assert_eq!(ops["per_agency"][DPUPR]["updates"], 1, "{ops}");
    let text = pintu::status::ops::fetch_text(&format!("http://{}", gw.addr), None)
        .await
        .unwrap();
    assert!(text.contains("diproses 1") && text.contains(DPUPR), "{text}");
    // `pintu status --json` carries the same figures under `status_loop`.
    let url = format!("http://{}", gw.addr);
    let (ok, out) = tokio::task::spawn_blocking(move || {
        run(pintu_command()
            .args(["status", "--json", "--url", &url])
            .env("PINTU_STATUS__ENABLED", "true"))
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(status["status_loop"]["stages"]["diproses"], 1, "{status}");
    assert_eq!(status["status_loop"]["per_agency"][DPUPR]["duplicates"], 1, "{status}");
    assert!(status["sla"].is_null(), "the clock is off here: {status}");

    let _ = router.send(());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_updates_own_complaints_only_and_lists_them() {
    let sms = Sms::default();
    let url = fake_sms(sms.clone()).await;
    let gw = spawn_app(|cfg| with_status(cfg, &url)).await;
    let cfg = gw.cfg().clone();
    let (router, _) = spawn_router(&cfg);

    let code = code_of(&mo(gw.addr, "h1", CITIZEN, POTHOLE).await);
    wait_stage(&gw, &code, Stage::Terdisposisi).await;

    // Dishub may not touch Dinas PUPR's complaint, nor speak for it.
    let (s, _) = post_update(gw.addr, DISHUB_TOKEN, &update(DISHUB, &code, "selesai", Some("x"))).await;
    assert_eq!(s, 403);
    let (s, _) = post_update(gw.addr, DISHUB_TOKEN, &update(DPUPR, &code, "selesai", Some("x"))).await;
    assert_eq!(s, 403);
    let (s, _) = post_update(
        gw.addr,
        "wrong-token-0123456789",
        &update(DPUPR, &code, "selesai", None),
    )
    .await;
    assert_eq!(s, 401);
    let (s, body) = post_update(gw.addr, DPUPR_TOKEN, &serde_json::json!({"update_id": "x"})).await;
    assert_eq!(s, 422, "{body}");
    let (s, _) = get_json(gw.addr, DISHUB_TOKEN, &format!("/agency/v1/complaints/{code}")).await;
    assert_eq!(s, 403);
    let (s, list) = get_json(gw.addr, DISHUB_TOKEN, "/agency/v1/complaints?since=0").await;
    assert_eq!((s, list["complaints"].as_array().unwrap().len()), (200, 0), "{list}");

    let u = update(DPUPR, &code, "selesai", Some("Lubang sudah ditambal"));
    let (s, body) = post_update(gw.addr, DPUPR_TOKEN, &u).await;
    assert_eq!((s, body["duplicate"].as_bool()), (200, Some(false)), "{body}");
    let (s, body) = post_update(gw.addr, DPUPR_TOKEN, &u).await;
    assert_eq!((s, body["duplicate"].as_bool()), (200, Some(true)), "{body}");
    wait_sms(&sms, CITIZEN, "Lubang sudah ditambal", 1).await;

    let (s, one) = get_json(gw.addr, DPUPR_TOKEN, &format!("/agency/v1/complaints/{code}")).await;
    assert_eq!(s, 200);
    assert_eq!(one["stage"], "selesai");
    assert_eq!(one["history"].as_array().unwrap().len(), 2);
    assert_eq!(one["open311"]["service_request_id"], code.as_str());
    let (s, list) = get_json(gw.addr, DPUPR_TOKEN, "/agency/v1/complaints?since=0").await;
    assert_eq!(s, 200);
    let items = list["complaints"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["tracking"], code.as_str());
    let next = list["next"].as_u64().unwrap();
    let (_, after) = get_json(gw.addr, DPUPR_TOKEN, &format!("/agency/v1/complaints?since={next}")).await;
    assert_eq!(after["complaints"].as_array().unwrap().len(), 0, "the cursor moves on");

    // An HMAC-signed request works too; a bad signature does not.
    let body = serde_json::to_vec(&update(DPUPR, &code, "selesai", None)).unwrap();
    let ts = chrono::Utc::now().timestamp().to_string();
    let sign = |key: &str| {
        use hmac::Mac;
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        m.update(format!("{ts}.").as_bytes());
        m.update(&body);
        format!("sha256={}", hex::encode(m.finalize().into_bytes()))
    };
    for (key, want) in [(DPUPR_HMAC, 200), ("not-the-key-0123456789", 401)] {
        let r = reqwest::Client::new()
            .post(format!("http://{}/agency/v1/updates", gw.addr))
            .header("x-pintu-agency", DPUPR)
            .header("x-pintu-timestamp", &ts)
            .header("x-pintu-signature", sign(key))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want);
    }
    settle(&gw).await;
    assert_eq!(sms.count_containing(CITIZEN, "Lubang sudah ditambal"), 1);
    assert!(
        !sms.texts_to(CITIZEN).iter().any(|t| t.ends_with(" x")),
        "the refused update sent nothing"
    );

    let _ = router.send(());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bukan_wewenang_reroutes_and_selesai_reopens_only_from_the_sender() {
    let sms = Sms::default();
    let url = fake_sms(sms.clone()).await;
    let gw = spawn_app(|cfg| with_status(cfg, &url)).await;
    let cfg = gw.cfg().clone();
    let (router, _) = spawn_router(&cfg);

    let code = code_of(&mo(gw.addr, "b1", CITIZEN, POTHOLE).await);
    wait_stage(&gw, &code, Stage::Terdisposisi).await;
    let triage_q = format!("{}.agency.triage", cfg.amqp.prefix);

    let (s, _) = post_update(gw.addr, DPUPR_TOKEN, &update(DPUPR, &code, "bukan_wewenang", None)).await;
    assert_eq!(s, 200);
    let rec = wait_stage(&gw, &code, Stage::BelumTerverifikasi).await;
    assert_eq!(rec.agency, "triage");
    assert_eq!(rec.excluded, [DPUPR.to_string()]);
    // Not dropped: on the triage queue, and the citizen is told.
    let got = take(&triage_q, 1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json["tracking"], code.as_str());
    assert_eq!(got[0].json["routing"]["agency"], "triage");
    wait_sms(&sms, CITIZEN, "diteruskan ke Tim Verifikasi LAPOR!", 1).await;
    // Dinas PUPR can no longer touch it.
    let (s, _) = post_update(gw.addr, DPUPR_TOKEN, &update(DPUPR, &code, "selesai", None)).await;
    assert_eq!(s, 403);

    // Triage forwards to Dishub, which closes it.
    let mut fwd = update("triage", &code, "diteruskan", None);
    fwd["to_agency"] = DISHUB.into();
    assert_eq!(post_update(gw.addr, TRIAGE_TOKEN, &fwd).await.0, 200);
    wait_stage(&gw, &code, Stage::Terdisposisi).await;
    let (s, _) = post_update(
        gw.addr,
        DISHUB_TOKEN,
        &update(DISHUB, &code, "selesai", Some("Sudah beres")),
    )
    .await;
    assert_eq!(s, 200);
    wait_sms(&sms, CITIZEN, "Balas PUAS atau BELUM", 1).await;

    // BELUM from a stranger: neutral answer, nothing reopened.
    mo(gw.addr, "b2", STRANGER, &format!("BELUM {code}")).await;
    wait_sms(&sms, STRANGER, "Kode tidak dikenali", 1).await;
    assert_eq!(
        gw.status.as_ref().unwrap().store.get(&code).unwrap().unwrap().stage,
        Stage::Selesai
    );
    // BELUM (without the code) from the citizen reopens it and tells Dishub.
    let answer = mo(gw.addr, "b3", CITIZEN, "BELUM").await;
    assert!(
        pintu::tracking::find_in(&answer).is_none(),
        "no complaint created: {answer}"
    );
    let rec = wait_stage(&gw, &code, Stage::Terdisposisi).await;
    assert_eq!((rec.agency.as_str(), rec.reopened), (DISHUB, 1));
    wait_sms(&sms, CITIZEN, "dibuka kembali", 1).await;
    let dishub_q = format!("{}.agency.3273.all", cfg.amqp.prefix);
    let got = take(&dishub_q, 4, Duration::from_secs(5)).await;
    assert!(got
        .iter()
        .any(|g| g.json["tracking"] == code.as_str() && g.json["routing"]["agency"] == DISHUB));
    let svc = gw.status.as_ref().unwrap();
    assert_eq!(svc.counters.reopened.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(svc.counters.rerouted.load(std::sync::atomic::Ordering::Relaxed), 1);

    let _ = router.send(());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cek_answers_the_owner_only_and_is_rate_limited() {
    let sms = Sms::default();
    let url = fake_sms(sms.clone()).await;
    let gw = spawn_app(|cfg| with_status(cfg, &url)).await;
    let cfg = gw.cfg().clone();
    let (router, _) = spawn_router(&cfg);

    let code = code_of(&mo(gw.addr, "c1", CITIZEN, POTHOLE).await);
    wait_stage(&gw, &code, Stage::Terdisposisi).await;
    let (s, _) = post_update(
        gw.addr,
        DPUPR_TOKEN,
        &update(DPUPR, &code, "diproses", Some("Dijadwalkan Senin")),
    )
    .await;
    assert_eq!(s, 200);

    let answer = mo(gw.addr, "c2", CITIZEN, &format!("CEK {code}")).await;
    assert!(pintu::tracking::find_in(&answer).is_none(), "no complaint: {answer}");
    wait_sms(
        &sms,
        CITIZEN,
        "sedang diproses, Dinas PUPR Kota Bandung. Dijadwalkan Senin",
        1,
    )
    .await;
    // The SMS gateway retries the same query (same provider id): one answer.
    mo(gw.addr, "c2", CITIZEN, &format!("CEK {code}")).await;
    mo(gw.addr, "c3", STRANGER, &format!("CEK {code}")).await;
    wait_sms(&sms, STRANGER, "Kode tidak dikenali", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sms.count_containing(CITIZEN, "sedang diproses, Dinas PUPR Kota Bandung"),
        1,
        "a retried query is answered once: {:?}",
        sms.texts_to(CITIZEN)
    );
    let texts = sms.texts_to(STRANGER);
    assert!(
        !texts.iter().any(|t| t.contains("Dinas") || t.contains("Dijadwalkan")),
        "{texts:?}"
    );
    // The stranger's budget (5 an hour in this config) runs out.
    for i in 0..6 {
        mo(gw.addr, &format!("c4-{i}"), STRANGER, "CEK LPR-ABCDEF").await;
    }
    wait_sms(&sms, STRANGER, "Terlalu banyak", 1).await;
    let texts = sms.texts_to(STRANGER);
    assert!(
        !texts.iter().any(|t| t.contains("LPR-ABCDEF")),
        "neutral answers name no code: {texts:?}"
    );
    assert_eq!(gw.intake.store().outbox.len(), 0, "queries created no complaint");

    let _ = router.send(());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_complaint_hides_the_citizen_from_the_agency_yet_they_hear_back() {
    let sms = Sms::default();
    let url = fake_sms(sms.clone()).await;
    let gw = spawn_app(|cfg| with_status(cfg, &url)).await;
    let cfg = gw.cfg().clone();
    let (router, _) = spawn_router(&cfg);

    let code = code_of(&mo(gw.addr, "n1", CITIZEN, &format!("ANONIM {POTHOLE}")).await);
    wait_stage(&gw, &code, Stage::Terdisposisi).await;
    let digits = "81234560001";
    let got = take(&format!("{}.agency.3273.all", cfg.amqp.prefix), 1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].json["sender"].is_null());
    assert!(!String::from_utf8_lossy(&got[0].body).contains(digits));
    let (s, _) = post_update(
        gw.addr,
        DPUPR_TOKEN,
        &update(DPUPR, &code, "diproses", Some("Kami tangani")),
    )
    .await;
    assert_eq!(s, 200);
    for path in [
        format!("/agency/v1/complaints/{code}"),
        "/agency/v1/complaints?since=0".to_string(),
    ] {
        let (s, v) = get_json(gw.addr, DPUPR_TOKEN, &path).await;
        assert_eq!(s, 200);
        assert!(!v.to_string().contains(digits), "{path}: {v}");
    }
    wait_sms(&sms, CITIZEN, "Kami tangani", 1).await;

    let _ = router.send(());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_between_update_and_delivery_delivers_once() {
    let sms = Sms::default();
    let url = fake_sms(sms.clone()).await;
    let mut gw = spawn_app(|cfg| with_status(cfg, &url)).await;
    let cfg = gw.cfg().clone();
    let (router, _) = spawn_router(&cfg);
    let code = code_of(&mo(gw.addr, "r1", CITIZEN, POTHOLE).await);
    wait_stage(&gw, &code, Stage::Terdisposisi).await;
    wait_sms(&sms, CITIZEN, &code, 1).await;

    // The SMS gateway is down: the notice cannot be delivered yet.
    sms.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let (s, _) = post_update(
        gw.addr,
        DPUPR_TOKEN,
        &update(DPUPR, &code, "tertunda", Some("Menunggu anggaran")),
    )
    .await;
    assert_eq!(s, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    gw.stop_gateway().await;
    sms.down.store(false, std::sync::atomic::Ordering::SeqCst);
    // Once in several loaded runs the restart found the data directory still
    // locked (an error, not a hang): `restart` tries again for a while.
    gw.start_gateway().await;
    wait_sms(&sms, CITIZEN, "Menunggu anggaran", 1).await;
    settle(&gw).await;
    assert_eq!(
        sms.count_containing(CITIZEN, "Menunggu anggaran"),
        1,
        "{:?}",
        sms.texts_to(CITIZEN)
    );
    assert_eq!(
        gw.status.as_ref().unwrap().store.get(&code).unwrap().unwrap().stage,
        Stage::Tertunda
    );

    let _ = router.send(());
    gw.stop().await;
}
