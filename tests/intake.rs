//! The intake spine against the real RabbitMQ: dedupe, concatenated SMS,
//! HTTP answers, and the schema of what is published.

mod support;

use std::time::Duration;

use support::*;

fn kannel_url(addr: std::net::SocketAddr, query: &str) -> String {
    format!("http://{addr}/sms/kannel?token=change-me-kannel&{query}")
}

async fn generic(client: &reqwest::Client, addr: std::net::SocketAddr, body: serde_json::Value) -> serde_json::Value {
    let r = client
        .post(format!("http://{addr}/sms/generic"))
        .bearer_auth("change-me-generic")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn tracking_of(v: &serde_json::Value) -> (String, bool) {
    let a = &v["accepted"][0];
    (
        a["tracking"].as_str().unwrap().to_string(),
        a["duplicate"].as_bool().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedupe_retry_resend_and_two_citizens() {
    let gw = spawn_app(|cfg| cfg.replies.enabled = false).await;
    let prefix = gw.prefix().to_string();
    let c = reqwest::Client::new();
    let text = "Jembatan di Desa Sukamaju Kab. Bogor putus sejak seminggu";

    let first = generic(
        &c,
        gw.addr,
        serde_json::json!({"id": "m-1", "from": "081234567001", "to": "1708", "text": text}),
    )
    .await;
    let (code, dup) = tracking_of(&first);
    assert!(!dup);
    // Provider retry: same provider id, even with different text bytes.
    let retry = generic(
        &c,
        gw.addr,
        serde_json::json!({"id": "m-1", "from": "081234567001", "to": "1708", "text": text}),
    )
    .await;
    assert_eq!(tracking_of(&retry), (code.clone(), true));
    // Same citizen, same text, new provider id, number written differently, case/spacing changed.
    let resend = generic(
        &c,
        gw.addr,
        serde_json::json!({"id": "m-2", "from": "+62 812-3456-7001", "to": "1708", "text": text.to_uppercase().replace(' ', "  ")}),
    )
    .await;
    assert_eq!(tracking_of(&resend), (code.clone(), true));
    // Another citizen reporting the same bridge: a separate complaint.
    let other = generic(
        &c,
        gw.addr,
        serde_json::json!({"id": "m-3", "from": "081234567002", "to": "1708", "text": text}),
    )
    .await;
    let (other_code, other_dup) = tracking_of(&other);
    assert!(!other_dup);
    assert_ne!(other_code, code);

    let got = take(&format!("{prefix}.intake"), 3, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2, "exactly two complaints published: {got:?}");
    let trackings: Vec<&str> = got.iter().map(|g| g.json["tracking"].as_str().unwrap()).collect();
    assert!(trackings.contains(&code.as_str()) && trackings.contains(&other_code.as_str()));
    for g in &got {
        assert_eq!(
            g.message_id,
            g.json["id"].as_str().unwrap(),
            "message_id is the complaint id"
        );
        assert_valid_complaint(&g.json);
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concatenated_sms_out_of_order_across_restart_and_partial() {
    let env = test_env(|cfg| {
        cfg.replies.enabled = false;
        cfg.sms.concat_timeout_secs = 2;
    });
    let prefix = env.prefix().to_string();
    let c = reqwest::Client::new();
    let from = "%2B6281299990001";

    // 16-bit reference, 3 parts, arriving 3, 1, (restart), 2.
    let udh16 = |seq: u8| format!("%06%08%04%12%34%03%{seq:02X}");
    let mut gw = env.start().await;
    let r = c
        .get(kannel_url(
            gw.addr,
            &format!("id=p3&from={from}&text=di+Kota+Padang.&udh={}", udh16(3)),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap().trim(),
        "OK",
        "a lone part has no tracking code yet"
    );
    let r = c
        .get(kannel_url(
            gw.addr,
            &format!("id=p1&from={from}&text=Puskesmas+tutup+&udh={}", udh16(1)),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Parts survive a restart of the gateway.
    gw.restart().await;
    let r = c
        .get(kannel_url(
            gw.addr,
            &format!("id=p2&from={from}&text=setiap+sore+&udh={}", udh16(2)),
        ))
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert!(body.starts_with("OK LPR-"), "last part completes the message: {body}");
    // A retried part after assembly is a duplicate of the assembled complaint.
    let r = c
        .get(kannel_url(
            gw.addr,
            &format!("id=p1&from={from}&text=Puskesmas+tutup+&udh={}", udh16(1)),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), body);

    // 8-bit reference, 2 parts, only the second ever arrives: partial after the timeout.
    let r = c
        .get(kannel_url(
            gw.addr,
            &format!("id=q2&from={from}&text=bagian+kedua+saja&udh=%05%00%03%2A%02%02"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let got = take(&format!("{prefix}.intake"), 2, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let whole = got.iter().find(|g| g.json["parts"] == 3).expect("assembled complaint");
    assert_eq!(whole.json["text"], "Puskesmas tutup setiap sore di Kota Padang.");
    assert_eq!(whole.json["flags"]["partial"], false);
    let partial = got.iter().find(|g| g.json["parts"] == 1).expect("partial complaint");
    assert_eq!(partial.json["flags"]["partial"], true);
    assert!(partial.json["text"].as_str().unwrap().contains("bagian kedua saja"));
    for g in &got {
        assert_valid_complaint(&g.json);
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_answers_for_bad_requests() {
    let gw = spawn_app(|cfg| {
        cfg.replies.enabled = false;
        cfg.http.body_limit = 4096;
    })
    .await;
    let c = reqwest::Client::new();
    let a = gw.addr;

    let wrong = c
        .get(format!("http://{a}/sms/kannel?token=nope&from=0812&text=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let missing = c
        .get(format!("http://{a}/sms/kannel?from=0812&text=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let no_from = c.get(kannel_url(a, "text=halo")).send().await.unwrap();
    assert_eq!(no_from.status(), 400);
    let msg = no_from.text().await.unwrap();
    assert_eq!(msg.lines().count(), 1, "one-line reason: {msg:?}");
    assert!(msg.contains("from"));
    let bad_udh = c
        .get(kannel_url(a, "from=0812&text=x&udh=%05%00%03"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_udh.status(), 400);
    let bad_json = c
        .post(format!("http://{a}/sms/generic"))
        .bearer_auth("change-me-generic")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    let huge = c
        .post(kannel_url(a, "from=0812"))
        .body(vec![b'a'; 10_000])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    let jasmin = c
        .post(format!("http://{a}/sms/jasmin?token=change-me-jasmin"))
        .form(&[
            ("id", "j-1"),
            ("from", "6281234500001"),
            ("to", "1708"),
            ("coding", "0"),
            ("content", "Lampu jalan mati"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(jasmin.status(), 200);
    assert_eq!(jasmin.text().await.unwrap(), "ACK/Jasmin");

    let metrics = c
        .get(format!("http://{a}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"pintu_rejected_total{channel="sms",provider="kannel",reason="auth"}"#),
        "{metrics}"
    );
    let ready: serde_json::Value = c
        .get(format!("http://{a}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ready["outbox_backlog"].is_u64());
    gw.stop().await;
}

fn metric_line<'a>(metrics: &'a str, name: &str, labels: &[&str]) -> Option<&'a str> {
    metrics
        .lines()
        .find(|l| l.starts_with(name) && labels.iter().all(|lb| l.contains(lb)))
}

/// Issue 11.8: a provider id is only unique per sender. Another citizen whose
/// gateway reuses an id gets a complaint of their own (logged as a
/// mismatch), while the first citizen's retry is still a duplicate. A
/// record of an earlier version, keyed by the id alone, is still read — it
/// is reported, and cannot make someone else's message a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_id_reused_by_another_citizen_is_a_new_complaint() {
    let env = test_env(|cfg| cfg.replies.enabled = false);
    let prefix = env.prefix().to_string();
    // Records an earlier version wrote: keyed by provider id alone.
    {
        let gdir = env.cfg.gateway_data_dir();
        std::fs::create_dir_all(&gdir).unwrap();
        let (store, closed) = pintu::store::Store::open(&gdir, 1 << 20).unwrap();
        let rec = pintu::store::dedupe::Record {
            id: ulid::Ulid::new().to_string(),
            tracking: "LPR-222222".into(),
            expires_at: u64::MAX / 2,
            held: false,
        };
        store
            .dedupe
            .insert(
                pintu::store::dedupe::legacy_provider_key("generic", "gen-old"),
                rec.encode(),
            )
            .unwrap();
        store.db.flush().unwrap();
        drop(store);
        assert!(closed.wait(Duration::from_secs(10)));
    }
    let gw = env.start().await;
    assert!(
        wait_until(Duration::from_secs(10), || gw
            .relay
            .connected
            .load(std::sync::atomic::Ordering::Relaxed))
        .await,
        "relay connected (topology declared)"
    );
    let c = reqwest::Client::new();
    let first = generic(
        &c,
        gw.addr,
        serde_json::json!({"id": "gen-7", "from": "081234567101", "to": "1708", "text": "Trotoar rusak di Jl. Merdeka Kota Malang"}),
    )
    .await;
    let (code_a, dup) = tracking_of(&first);
    assert!(!dup);
    let other = generic(
        &c,
        gw.addr,
        serde_json::json!({"id": "gen-7", "from": "081234567102", "to": "1708", "text": "Pungli di kantor kelurahan Kota Malang"}),
    )
    .await;
    let (code_b, dup) = tracking_of(&other);
    assert!(!dup, "another citizen with the same provider id is not a duplicate");
    assert_ne!(code_b, code_a, "and does not get the first citizen's code");
    let retry = generic(
        &c,
        gw.addr,
        serde_json::json!({"id": "gen-7", "from": "+6281234567101", "to": "1708", "text": "Trotoar rusak di Jl. Merdeka, Kota Malang!"}),
    )
    .await;
    assert_eq!(tracking_of(&retry), (code_a.clone(), true), "the first citizen's retry");
    let legacy = generic(
        &c,
        gw.addr,
        serde_json::json!({"id": "gen-old", "from": "081234567103", "to": "1708", "text": "Banjir di perumahan Kota Malang"}),
    )
    .await;
    let (code_c, dup) = tracking_of(&legacy);
    assert!(
        !dup && code_c != "LPR-222222",
        "a legacy record names no sender: not a duplicate"
    );

    let metrics = c
        .get(format!("http://{}/metrics", gw.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mismatch = |kind: &str| {
        metric_line(
            &metrics,
            "pintu_dedupe_sender_mismatch_total",
            &[r#"provider="generic""#, &format!(r#"kind="{kind}""#)],
        )
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
    };
    assert_eq!(mismatch("other_sender").as_deref(), Some("1"), "{metrics}");
    assert_eq!(mismatch("legacy_record").as_deref(), Some("1"), "{metrics}");
    let got = take(&format!("{prefix}.intake"), 3, Duration::from_secs(10)).await;
    let mut codes: Vec<&str> = got.iter().map(|g| g.json["tracking"].as_str().unwrap()).collect();
    codes.sort_unstable();
    let mut want = vec![code_a.as_str(), code_b.as_str(), code_c.as_str()];
    want.sort_unstable();
    assert_eq!(codes, want, "three complaints published, once each");
    gw.stop().await;
}
