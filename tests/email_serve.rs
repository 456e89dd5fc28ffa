//! The e-mail channel as `pintu serve` runs it: a mail APPENDed to a real
//! Dovecot is read by the gateway's own poller, published by its relay to
//! RabbitMQ, and acknowledged through its reply sender to a real SMTP sink.
//! (The other e-mail tests drive the pieces one by one.)

mod common {
    pub mod email_env;
}

use std::time::{Duration, Instant};

use common::email_env::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_through_the_running_gateway() {
    let env = Env::new(false);
    let sink = SmtpSink::start();
    let cfg = env.config(&MailboxOpts {
        tls: "none",
        port: env.dovecot.port,
        extra: "poll_interval_secs = 1".into(),
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
