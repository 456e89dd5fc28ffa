//! The e-mail channel as `pintu serve` runs it: a mail APPENDed to a real
//! Dovecot is read by the gateway's own poller, published by its relay to
//! RabbitMQ, and acknowledged through its reply sender to a real SMTP sink.
//! (The other e-mail tests drive the pieces one by one.)

mod email_support;
mod support;

use std::time::{Duration, Instant};

use email_support::*;
use support::browser::{chromium, CHROMIUM};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_through_the_running_gateway() {
    let env = Env::new(false);
    let sink = SmtpSink::start();
    let cfg = env.config(&MailboxOpts {
        tls: "none",
        port: env.dovecot.port,
        // Dovecot's maildir can miss announcing a message appended in the
        // same second as the poller's sync; the IDLE re-issue (and its pass)
        // is what picks it up, so keep it short here.
        extra: "poll_interval_secs = 1\nidle_timeout_secs = 10".into(),
        smtp: Some(sink.port),
        email_extra: String::new(),
    });
    let broker = Broker::new(&cfg).await;
    let gw = pintu::serve::start(cfg.clone()).await.unwrap();
    env.append(
        "INBOX",
        &[mail(
            "Budi Santoso <Budi.Santoso@Example.test>",
            "Jalan rusak di Kota Bandung",
            "Jalan di depan SDN 3 berlubang besar sejak sebulan.\r\n\r\n-- \r\nBudi",
            "complaint-1@example.test",
            "",
        )],
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut complaints = Vec::new();
    while complaints.is_empty() && Instant::now() < deadline {
        complaints = broker.drain(&broker.names.intake_queue()).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(complaints.len(), 1, "one complaint published by the gateway's relay");
    let c = &complaints[0];
    assert_eq!(c["channel"], "email");
    assert_eq!(c["sender"]["address"], "budi.santoso@example.test");
    assert_eq!(c["subject"], "Jalan rusak di Kota Bandung");
    assert_eq!(
        c["text"], "Jalan di depan SDN 3 berlubang besar sejak sebulan.",
        "signature removed"
    );
    let tracking = c["tracking"].as_str().unwrap().to_string();

    let mut ack = None;
    while ack.is_none() && Instant::now() < deadline {
        ack = sink.messages().into_iter().find(|m| m.contains(&tracking));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ack = ack.expect("acknowledgement sent by the gateway's reply sender");
    assert_eq!(header(&ack, "Auto-Submitted").as_deref(), Some("auto-replied"));
    assert_eq!(
        header(&ack, "In-Reply-To").as_deref(),
        Some("<complaint-1@example.test>")
    );
    assert!(header(&ack, "Subject").unwrap_or_default().contains(&tracking));
    assert!(header(&ack, "To")
        .unwrap_or_default()
        .contains("budi.santoso@example.test"));
    // Processed mail left the inbox only after the complaint was durable.
    assert_eq!(env.count("INBOX"), 0);

    gw.stop().await;
    broker.teardown().await;
}

/// The pintu binary as an operator runs it.
fn pintu_cli(config: &std::path::Path, args: &[&str]) -> (bool, String) {
    run(pintu_command().arg("--config").arg(config).args(args))
}

/// The DOM of `url` after its scripts ran, or `None` without Chromium.
async fn rendered(url: &str) -> Option<String> {
    if !std::path::Path::new(CHROMIUM).exists() {
        eprintln!("SKIPPED the /ops rendering check: {CHROMIUM} is not installed");
        return None;
    }
    let profile = tempfile::tempdir().unwrap();
    Some(chromium(profile.path(), &["--dump-dom".into()], url).await)
}

async fn drain_until(broker: &Broker, n: usize, got: &mut Vec<serde_json::Value>, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.len() < n {
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {got:#?}");
        got.extend(broker.drain(&broker.names.intake_queue()).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Mail that no citizen wrote, run through the gateway as a user would: an
/// out-of-office answering our acknowledgement, a bounce quoting its code
/// and a newsletter are quarantined with their reasons — not published, not
/// linked to the citizen's complaint, not answered; another system's ticket
/// receipt (its own X-Loop) is ingested but not answered; a disclaimer stays
/// in the text; an attachment whose closing boundary is missing is stored
/// decoded. The quarantine is on /ops and in `pintu quarantine list`; an
/// operator replays the newsletter; retention deletes an old raw copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_no_citizen_wrote_is_kept_out_through_the_running_gateway() {
    let env = Env::new(false);
    let sink = SmtpSink::start();
    let cfg = env.config(&MailboxOpts {
        tls: "none",
        port: env.dovecot.port,
        // Dovecot's maildir can miss announcing a message appended in the
        // same second as the poller's sync; the IDLE re-issue (and its pass)
        // is what picks it up, so keep it short here.
        extra: "poll_interval_secs = 1\nidle_timeout_secs = 10".into(),
        smtp: Some(sink.port),
        email_extra: "[channels.email.storage]\nsweep_interval_secs = 1\nraw_retention_days = 30".into(),
    });
    let config_file = env.tmp.path().join("pintu.toml");
    let broker = Broker::new(&cfg).await;
    let gw = pintu::serve::start(cfg.clone()).await.unwrap();
    let base = format!("http://{}", gw.addr);

    let photo: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&photo)
    };
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let truncated = format!(
        "From: Lina <lina@warga.test>\r\nTo: pengaduan@lapor.go.id\r\nSubject: Foto sampah\r\n\
         Message-ID: <lina-1@warga.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nFoto sampah di pasar terlampir.\r\n\
         --b\r\nContent-Type: image/jpeg; name=\"sampah.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        lines.join("\r\n")
    );
    env.append(
        "INBOX",
        &[
            mail(
                "Dedi <dedi@kantor.test>",
                "Pungli di kelurahan",
                "Petugas meminta Rp 200.000 untuk surat pengantar.\r\n\r\n-- \r\nDedi\r\n0812-9876-5432\r\n\r\n\
                 DISCLAIMER: Email ini bersifat rahasia dan hanya ditujukan untuk penerima.",
                "dedi-1@kantor.test",
                "",
            ),
            truncated.into_bytes(),
        ],
    );
    let mut first = Vec::new();
    drain_until(&broker, 2, &mut first, "the two citizens' complaints").await;
    let by_id = by_external_id(&first);
    let dedi = &by_id["dedi-1@kantor.test"];
    assert!(
        dedi["text"]
            .as_str()
            .unwrap()
            .contains("DISCLAIMER: Email ini bersifat rahasia"),
        "disclaimer kept: {}",
        dedi["text"]
    );
    assert!(
        !dedi["text"].as_str().unwrap().contains("0812-9876-5432"),
        "signature stripped"
    );
    let att = &by_id["lina-1@warga.test"]["attachments"][0];
    assert_eq!(
        att["size"].as_u64(),
        Some(photo.len() as u64),
        "decoded, not base64 text"
    );
    assert_eq!(
        att["sha256"].as_str(),
        Some(pintu_channels::email::parse::sha256_hex(&photo).as_str())
    );
    let tracking = dedi["tracking"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let ack = loop {
        if let Some(m) = sink.messages().into_iter().find(|m| m.contains(&tracking)) {
            break m;
        }
        assert!(Instant::now() < deadline, "no acknowledgement to Dedi");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let ack_id = header(&ack, "Message-ID").unwrap();

    let dsn = format!(
        "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.kantor.test (Mail Delivery System)\r\nTo: pengaduan@lapor.go.id\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.kantor.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\r\n\
         --r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.kantor.test\r\n\r\n\
         Final-Recipient: rfc822; dedi@kantor.test\r\nAction: failed\r\nStatus: 5.2.2\r\n\r\n\
         --r\r\nContent-Type: message/rfc822\r\n\r\nFrom: LAPOR! <pengaduan@lapor.go.id>\r\n\
         Subject: [{tracking}] Aduan Anda telah diterima - LAPOR!\r\nMessage-ID: {ack_id}\r\n\r\nKode lacak: {tracking}\r\n--r--\r\n"
    );
    env.append(
        "INBOX",
        &[
            mail(
                "Dedi <dedi@kantor.test>",
                &format!("Automatic reply: [{tracking}] Aduan Anda telah diterima - LAPOR!"),
                "Saya sedang cuti sampai 31 Maret.",
                "ooo-1@kantor.test",
                &format!("Auto-Submitted: auto-replied\r\nIn-Reply-To: {ack_id}\r\nReferences: {ack_id}\r\n"),
            ),
            dsn.into_bytes(),
            mail(
                "Buletin Kota <buletin@kota.test>",
                "Buletin Maret",
                "Perbaikan jalan di 12 kelurahan selesai.",
                "buletin-3@kota.test",
                "Precedence: bulk\r\nList-Unsubscribe: <https://kota.test/stop>\r\n",
            ),
            mail(
                "Helpdesk Kominfo <helpdesk@kominfo.test>",
                "[Tiket #20934] Laporan Anda tercatat",
                "Laporan Anda tercatat sebagai tiket #20934.",
                "rt-20934@kominfo.test",
                "X-Loop: helpdesk@kominfo.test\r\n",
            ),
            mail(
                "Dedi <dedi@kantor.test>",
                "Masih dimintai uang",
                "Hari ini petugas meminta lagi.",
                "dedi-2@kantor.test",
                &format!("In-Reply-To: {ack_id}\r\nReferences: <dedi-1@kantor.test> {ack_id}\r\n"),
            ),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(env.count("INBOX") == 0 && env.count("Pintu-Quarantine") == 3) {
        assert!(Instant::now() < deadline, "not all handled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut second = Vec::new();
    drain_until(&broker, 2, &mut second, "the ticket receipt and the follow-up").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    second.extend(broker.drain(&broker.names.intake_queue()).await);
    let by_id = by_external_id(&second);
    let keys: Vec<&str> = by_id.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec!["dedi-2@kantor.test", "rt-20934@kominfo.test"],
        "nothing else published"
    );
    assert_eq!(
        by_id["dedi-2@kantor.test"]["in_reply_to"],
        tracking.as_str(),
        "the citizen's follow-up is linked"
    );
    assert!(by_id["rt-20934@kominfo.test"]["in_reply_to"].is_null());

    // Acknowledgements: Dedi, Lina, Dedi's follow-up. None to the ticket
    // system (X-Loop), the out-of-office, the bounce or the newsletter.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.messages().len() < 3 {
        assert!(Instant::now() < deadline, "acknowledgements missing");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let to: Vec<String> = sink.messages().iter().filter_map(|m| header(m, "To")).collect();
    assert_eq!(to.len(), 3, "{to:?}");
    assert!(
        to.iter()
            .all(|t| t.contains("dedi@kantor.test") || t.contains("lina@warga.test")),
        "{to:?}"
    );

    // The quarantine, as an operator sees it.
    let (ok, out) = pintu_cli(&config_file, &["quarantine", "list", "--json", "--url", &base]);
    assert!(ok, "{out}");
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries = listed["entries"].as_array().unwrap();
    let mut reasons: Vec<&str> = entries.iter().map(|e| e["reason"].as_str().unwrap()).collect();
    reasons.sort();
    assert_eq!(reasons, vec!["auto_reply", "bounce", "bulk"]);
    assert!(entries.iter().all(|e| e["raw_available"] == true));
    let summary: serde_json::Value = reqwest::get(format!("{base}/ops/api/summary"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["email_quarantine"]["last_24h"], 3);
    assert_eq!(summary["email_quarantine"]["recent"].as_array().unwrap().len(), 3);
    let (ok, table) = pintu_cli(&config_file, &["quarantine", "list", "--url", &base]);
    assert!(
        ok && table.contains("auto_reply") && table.contains("d***@kantor.test"),
        "{table}"
    );
    if let Some(dom) = rendered(&format!("{base}/ops")).await {
        assert!(dom.contains("data-loaded=\"1\""), "the ops page did not render:\n{dom}");
        for e in entries {
            let id = e["id"].as_str().unwrap();
            assert!(dom.contains(&format!("data-quarantine=\"{id}\"")), "{id} not on /ops");
        }
        assert!(dom.contains(">auto_reply<") && dom.contains(">bounce<") && dom.contains(">bulk<"));
        assert!(dom.contains("id=\"v-quarantine\">3<"), "quarantine tile");
    }

    // The operator disagrees about the newsletter.
    let newsletter = entries.iter().find(|e| e["reason"] == "bulk").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (ok, out) = pintu_cli(&config_file, &["quarantine", "replay", &newsletter, "--url", &base]);
    assert!(ok && out.contains("ingested as LPR-"), "{out}");
    let mut replayed = Vec::new();
    drain_until(&broker, 1, &mut replayed, "the replayed newsletter").await;
    assert_eq!(replayed[0]["external_id"], "buletin-3@kota.test");
    let code = replayed[0]["tracking"].as_str().unwrap().to_string();
    let (ok, again) = pintu_cli(&config_file, &["quarantine", "replay", &newsletter, "--url", &base]);
    assert!(ok && again.contains(&format!("already ingested as {code}")), "{again}");
    let (ok, unknown) = pintu_cli(
        &config_file,
        &["quarantine", "replay", "01JNOTANID0000000000000000", "--url", &base],
    );
    assert!(!ok && unknown.contains("404"), "{unknown}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().len(), 3, "a replayed newsletter is still not answered");
    assert!(
        broker.drain(&broker.names.intake_queue()).await.is_empty(),
        "replayed once"
    );

    // Retention: a raw copy last written 40 days ago goes at the next sweep.
    let raw_dir = cfg.gateway_data_dir().join("raw");
    let old = std::fs::read_dir(&raw_dir).unwrap().flatten().next().unwrap().path();
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(40 * 86_400))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while old.exists() {
        assert!(Instant::now() < deadline, "retention did not delete {}", old.display());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("pintu_email_store_deleted_total{kind=\"raw\",reason=\"retention\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("pintu_email_store_bytes{kind=\"attachments\"}"));

    gw.stop().await;
    broker.teardown().await;
}
