//! The e-mail channel against real peers: Dovecot (IMAP, started per test by
//! `tests/peers/dovecot.sh`), aiosmtpd (`tests/peers/smtp-sink.sh`) and the
//! RabbitMQ on 127.0.0.1:5672. Mail goes in with IMAP APPEND, complaints are
//! read back from `<prefix>.intake`, acknowledgements from the SMTP sink.
//!
//! Run: `cargo test --test email_peers` (needs dovecot, python3-aiosmtpd,
//! openssl and RabbitMQ; each test uses its own ports, user and broker prefix).

mod email_support;
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use email_support::*;
use pintu::email::mailbox::{Fetched, FolderState, MailError, Mailbox};
use pintu::replies::{OutboundReply, SendError};
use support::*;
use tokio_util::sync::CancellationToken;

fn plain_opts(env: &Env, smtp: Option<u16>, extra: &str) -> MailboxOpts {
    MailboxOpts {
        tls: "none",
        port: env.dovecot.port,
        extra: extra.to_string(),
        smtp,
        email_extra: String::new(),
    }
}

async fn stop(shutdown: CancellationToken, handles: Vec<tokio::task::JoinHandle<()>>) {
    shutdown.cancel();
    for h in handles {
        tokio::time::timeout(Duration::from_secs(20), h)
            .await
            .expect("poller stops promptly on shutdown")
            .unwrap();
    }
}

/// Mail in, complaints on RabbitMQ, acknowledgements at the SMTP sink with
/// RFC 3834 headers; an out-of-office, a list post and our own mail coming
/// back are quarantined (no complaint, no acknowledgement); no-reply senders
/// and the daily quota get no acknowledgement; a reply to our
/// acknowledgement (code only in In-Reply-To) joins the original complaint;
/// IDLE picks it up without polling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_to_rabbitmq_with_smtp_acknowledgements() {
    let env = Env::new(false);
    let sink = SmtpSink::start();
    // A poll interval of an hour: only IDLE can make the second round fast.
    let cfg = env.config(&plain_opts(
        &env,
        Some(sink.port),
        "poll_interval_secs = 3600\nidle = true",
    ));
    let broker = Broker::new(&cfg).await;
    let intake = open_intake(&cfg);
    let transport = pintu::email::reply_transport(&cfg).unwrap().expect("smtp configured");
    assert_eq!(transport.provider(), "imap");

    let photo = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHR8eHR0fHh0aHB0gJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==";
    let with_photo = format!(
        "From: Rudi <rudi@warga.test>\r\nTo: pengaduan@lapor.go.id\r\nSubject: Jembatan retak\r\n\
         Message-ID: <photo-1@warga.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nJembatan desa retak, foto terlampir.\r\n\
         --b\r\nContent-Type: image/jpeg; name=\"retak.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{photo}\r\n--b--\r\n"
    );
    env.append(
        "INBOX",
        &[
            mail(
                "Budi Santoso <Budi@Warga.Test>",
                "Jalan rusak",
                "Jalan di depan SDN 02 berlubang.",
                "m1@warga.test",
                "",
            ),
            with_photo.into_bytes(),
            mail(
                "Kadis <kadis@dinas.test>",
                "Automatic reply",
                "Saya sedang cuti.",
                "ooo@dinas.test",
                "Auto-Submitted: auto-replied\r\n",
            ),
            mail(
                "Milis <warga@lists.test>",
                "[warga] banjir",
                "Banjir di kampung.",
                "list@lists.test",
                "List-Id: <warga.lists.test>\r\n",
            ),
            mail(
                "noreply@bank.test",
                "Transaksi",
                "Transaksi berhasil.",
                "bank@bank.test",
                "",
            ),
            mail(
                "LAPOR! <pengaduan@lapor.go.id>",
                "[LPR-ABCDEF] Aduan",
                "echo",
                "ack.LPR-ABCDEF.x@lapor.go.id",
                "X-Loop: pintu@lapor.go.id\r\n",
            ),
            // Same sender three times: the daily quota (2) allows two acknowledgements.
            mail("sari@warga.test", "Aduan 1", "Lampu jalan mati.", "s1@warga.test", ""),
            mail("sari@warga.test", "Aduan 2", "Sampah menumpuk.", "s2@warga.test", ""),
            mail("sari@warga.test", "Aduan 3", "Air PDAM keruh.", "s3@warga.test", ""),
        ],
    );

    let shutdown = CancellationToken::new();
    let handles = pintu::email::spawn(&cfg, intake.clone(), shutdown.clone()).unwrap();
    assert_eq!(handles.len(), 2, "the poller and the storage retention task");
    expect_until("inbox processed", Duration::from_secs(30), || {
        env.count("Pintu-Processed") == 6 && env.count("Pintu-Quarantine") == 3 && env.count("INBOX") == 0
    })
    .await;

    broker.relay(&intake).await;
    let complaints = broker.drain(&broker.names.intake_queue()).await;
    assert_eq!(complaints.len(), 6, "{complaints:#?}");
    let ext: BTreeSet<&str> = complaints.iter().filter_map(|c| c["external_id"].as_str()).collect();
    for machine in ["ooo@dinas.test", "list@lists.test", "ack.LPR-ABCDEF.x@lapor.go.id"] {
        assert!(!ext.contains(machine), "{machine} published as a complaint");
    }
    let by_id = by_external_id(&complaints);
    let budi = &by_id["m1@warga.test"];
    assert_eq!(budi["channel"], "email");
    assert_eq!(budi["provider"], "imap");
    assert_eq!(budi["sender"]["address"], "budi@warga.test");
    assert_eq!(budi["sender"]["display_name"], "Budi Santoso");
    assert_eq!(budi["recipient"], "pengaduan@lapor.go.id");
    assert_eq!(budi["subject"], "Jalan rusak");
    assert_eq!(budi["text"], "Jalan di depan SDN 02 berlubang.");
    let rudi = &by_id["photo-1@warga.test"];
    let att = &rudi["attachments"][0];
    assert_eq!(att["name"], "retak.jpg");
    assert_eq!(att["content_type"], "image/jpeg");
    let sha = att["sha256"].as_str().unwrap();
    let stored = std::fs::read(cfg.gateway_data_dir().join("attachments").join(sha)).unwrap();
    assert_eq!(stored.len() as u64, att["size"].as_u64().unwrap());
    assert_eq!(pintu_channels::email::parse::sha256_hex(&stored), sha);
    assert!(
        std::fs::read_dir(cfg.gateway_data_dir().join("raw")).unwrap().count() >= 9,
        "raw copies kept, of quarantined mail too"
    );

    let sent = broker.send_replies(transport.as_ref()).await;
    let mut to: Vec<String> = sent.iter().map(|r| r.to.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        vec![
            "budi@warga.test",
            "rudi@warga.test",
            "sari@warga.test",
            "sari@warga.test"
        ],
        "only real people get acknowledgements, at most 2 per day each"
    );
    let mails = sink.messages();
    assert_eq!(mails.len(), 4);
    let ack = mails
        .iter()
        .find(|m| header(m, "To").is_some_and(|t| t.contains("budi@warga.test")))
        .expect("acknowledgement to Budi");
    let tracking = budi["tracking"].as_str().unwrap();
    assert_eq!(header(ack, "Auto-Submitted").as_deref(), Some("auto-replied"));
    assert_eq!(header(ack, "X-Loop").as_deref(), Some("pintu@lapor.go.id"));
    assert_eq!(header(ack, "In-Reply-To").as_deref(), Some("<m1@warga.test>"));
    assert_eq!(header(ack, "References").as_deref(), Some("<m1@warga.test>"));
    assert!(header(ack, "Subject").unwrap().contains(tracking));
    let ack_id = header(ack, "Message-ID").unwrap();
    assert!(
        ack_id.starts_with(&format!("<ack.{tracking}.")) && ack_id.ends_with("@lapor.go.id>"),
        "{ack_id}"
    );
    assert!(ack.contains(tracking), "body carries the code");

    // Budi answers the acknowledgement, subject edited, no code in the text:
    // only the In-Reply-To header links it.
    env.append(
        "INBOX",
        &[mail(
            "budi@warga.test",
            "Masih belum diperbaiki",
            "Sudah seminggu, belum ada petugas datang.",
            "m2@warga.test",
            &format!("In-Reply-To: {ack_id}\r\nReferences: <m1@warga.test> {ack_id}\r\n"),
        )],
    );
    expect_until("reply picked up by IDLE", Duration::from_secs(15), || {
        env.count("Pintu-Processed") == 7
    })
    .await;
    broker.relay(&intake).await;
    let followups = broker.drain(&broker.names.intake_queue()).await;
    assert_eq!(followups.len(), 1);
    assert_eq!(
        followups[0]["in_reply_to"], tracking,
        "joined to the original complaint"
    );
    let sent = broker.send_replies(transport.as_ref()).await;
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].text.contains(tracking),
        "follow-up acknowledgement names the original code"
    );

    stop(shutdown, handles).await;
    broker.teardown().await;
}

/// A mailbox that fails to mark the first `fail_marks` batches: exactly the
/// crash window between "complaint durable" and "message moved".
struct FlakyMarks {
    inner: pintu::email::ImapMailbox,
    fail_marks: Arc<std::sync::atomic::AtomicUsize>,
}

impl Mailbox for FlakyMarks {
    fn select(&mut self, folder: &str) -> Result<FolderState, MailError> {
        self.inner.select(folder)
    }
    fn search_new(&mut self, after_uid: u32) -> Result<Vec<u32>, MailError> {
        self.inner.search_new(after_uid)
    }
    fn sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u64)>, MailError> {
        self.inner.sizes(uids)
    }
    fn fetch(&mut self, uids: &[u32]) -> Result<Vec<Fetched>, MailError> {
        self.inner.fetch(uids)
    }
    fn mark_processed(&mut self, uids: &[u32]) -> Result<(), MailError> {
        use std::sync::atomic::Ordering;
        if self
            .fail_marks
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(MailError::Connection("simulated crash before marking".into()));
        }
        self.inner.mark_processed(uids)
    }
    fn quarantine(&mut self, uids: &[u32]) -> Result<(), MailError> {
        self.inner.quarantine(uids)
    }
    fn can_idle(&self) -> bool {
        self.inner.can_idle()
    }
    fn wait(&mut self, timeout: Duration) -> Result<bool, MailError> {
        self.inner.wait(timeout)
    }
    fn logout(&mut self) {
        self.inner.logout()
    }
}

/// 300 messages; a crash window after accept and before marking (twice), then
/// a full stop and restart of the process state (sled closed and reopened)
/// in the middle of the batch stream. In the end: every message exactly once
/// on RabbitMQ, the inbox empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_batch_loses_nothing_and_doubles_nothing() {
    let env = Env::new(false);
    let cfg = env.config(&plain_opts(
        &env,
        None,
        "batch_size = 20\npoll_interval_secs = 1\nidle = false",
    ));
    let broker = Broker::new(&cfg).await;
    let n = 300;
    let msgs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            mail(
                &format!("warga{}@desa.test", i % 37),
                &format!("Aduan {i}"),
                &format!("Isi aduan nomor {i}."),
                &format!("bulk-{i}@desa.test"),
                "",
            )
        })
        .collect();
    env.append("INBOX", &msgs);

    // Phase 1: marks fail twice (accepted but not moved), then we stop mid-stream.
    let intake = open_intake(&cfg);
    let shutdown = CancellationToken::new();
    let fail_marks = Arc::new(std::sync::atomic::AtomicUsize::new(2));
    let mailbox_cfg = cfg.channels.email.mailboxes[0].clone();
    let mut poller = pintu::email::poller(
        &cfg,
        &mailbox_cfg,
        intake.clone(),
        shutdown.clone(),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    poller.max_backoff = Duration::from_millis(200);
    let conn_cfg = poller.cfg.clone();
    let fm = fail_marks.clone();
    let thread = std::thread::spawn(move || {
        let slot = Default::default();
        poller.run(|| {
            pintu::email::ImapMailbox::connect(conn_cfg.clone(), &slot).map(|inner| {
                Box::new(FlakyMarks {
                    inner,
                    fail_marks: fm.clone(),
                }) as Box<dyn Mailbox>
            })
        });
    });
    expect_until("part of the stream processed", Duration::from_secs(60), || {
        env.count("Pintu-Processed") >= 100
    })
    .await;
    shutdown.cancel();
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        fail_marks.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "both crash windows hit"
    );
    let processed_at_stop = env.count("Pintu-Processed");
    assert!(processed_at_stop < n, "stopped mid-stream ({processed_at_stop})");
    broker.relay(&intake).await;
    drop(intake);

    // Phase 2: a fresh process state on the same data directory.
    let intake = open_intake(&cfg);
    let shutdown = CancellationToken::new();
    let handles = pintu::email::spawn(&cfg, intake.clone(), shutdown.clone()).unwrap();
    expect_until("everything processed", Duration::from_secs(90), || {
        env.count("Pintu-Processed") == n && env.count("INBOX") == 0
    })
    .await;
    stop(shutdown, handles).await;
    broker.relay(&intake).await;

    let complaints = broker.drain(&broker.names.intake_queue()).await;
    let ids: BTreeSet<String> = complaints
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let ext: BTreeSet<String> = complaints
        .iter()
        .map(|c| c["external_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(complaints.len(), n as usize, "no complaint lost or doubled");
    assert_eq!(ids.len(), n as usize);
    assert_eq!(ext.len(), n as usize);
    assert!((0..n).all(|i| ext.contains(&format!("bulk-{i}@desa.test"))));
    broker.teardown().await;
}

/// Flag mode keeps mail in the INBOX; then the server renumbers the folder
/// (UIDVALIDITY changes, keywords forgotten). The re-scan finds every old
/// message again and ingests none of them; a genuinely new one is ingested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uidvalidity_change_does_not_reingest() {
    let env = Env::new(false);
    let cfg = env.config(&plain_opts(
        &env,
        None,
        "on_processed = \"flag\"\npoll_interval_secs = 1\nidle = false",
    ));
    let broker = Broker::new(&cfg).await;
    let intake = open_intake(&cfg);
    let old: Vec<Vec<u8>> = (0..5)
        .map(|i| {
            mail(
                "lama@desa.test",
                &format!("Lama {i}"),
                &format!("Aduan lama {i}."),
                &format!("old-{i}@desa.test"),
                "",
            )
        })
        .collect();
    env.append("INBOX", &old);
    let mbcfg = cfg.channels.email.mailboxes[0].clone();
    let poller = pintu::email::poller(
        &cfg,
        &mbcfg,
        intake.clone(),
        CancellationToken::new(),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let slot = Default::default();
    let pcfg = poller.cfg.clone();
    let (first, uv1) = tokio::task::spawn_blocking(move || {
        let mut mb = pintu::email::ImapMailbox::connect(pcfg, &slot).unwrap();
        let s = poller.pass(&mut mb).unwrap();
        let uv = mb.select("INBOX").unwrap().uidvalidity;
        mb.logout();
        (s, (uv, poller))
    })
    .await
    .unwrap();
    let (uv1, poller) = uv1;
    assert_eq!(first.accepted, 5);
    assert_eq!(env.count("INBOX"), 5, "flag mode leaves mail in place");

    // Renumber: what Dovecot does when its index is lost or rebuilt.
    let maildir = env.dovecot.maildir(&env.user);
    for f in ["dovecot-uidlist", "dovecot-keywords"] {
        let _ = std::fs::remove_file(maildir.join(f));
    }
    for e in std::fs::read_dir(&maildir).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("dovecot.index") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    // Strip keyword letters from file names so the old mail looks unprocessed.
    for sub in ["cur", "new"] {
        for e in std::fs::read_dir(maildir.join(sub)).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some((base, flags)) = name.split_once(":2,") {
                let kept: String = flags.chars().filter(|c| c.is_ascii_uppercase()).collect();
                let _ = std::fs::rename(e.path(), maildir.join(sub).join(format!("{base}:2,{kept}")));
            }
        }
    }
    env.append(
        "INBOX",
        &[mail("baru@desa.test", "Baru", "Aduan baru.", "new-1@desa.test", "")],
    );

    let slot = Default::default();
    let pcfg = poller.cfg.clone();
    let (second, uv2) = tokio::task::spawn_blocking(move || {
        let mut mb = pintu::email::ImapMailbox::connect(pcfg, &slot).unwrap();
        let s = poller.pass(&mut mb).unwrap();
        let uv = mb.select("INBOX").unwrap().uidvalidity;
        // A further pass finds nothing new: everything is flagged again.
        let again = poller.pass(&mut mb).unwrap();
        mb.logout();
        assert_eq!(again, Default::default());
        (s, uv)
    })
    .await
    .unwrap();
    assert_ne!(uv1, uv2, "the test really changed UIDVALIDITY");
    assert_eq!(second.accepted, 1, "only the new message is a new complaint");
    assert_eq!(second.duplicates, 5, "old mail recognised by Message-ID");

    broker.relay(&intake).await;
    let complaints = broker.drain(&broker.names.intake_queue()).await;
    assert_eq!(complaints.len(), 6);
    broker.teardown().await;
}

/// Hostile and malformed mail never stops the poller and is never lost:
/// quarantined with a recorded reason and a raw copy, next to normal mail
/// that is ingested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_mail_is_quarantined_with_reason() {
    let env = Env::new(false);
    let cfg = env.config(&MailboxOpts {
        email_extra: "[channels.email.limits]\nmax_header_bytes = 65536".into(),
        ..plain_opts(
            &env,
            None,
            "poll_interval_secs = 1\nidle = false\nmax_message_bytes = 3000000",
        )
    });
    let broker = Broker::new(&cfg).await;
    let intake = open_intake(&cfg);
    let header_bomb = format!(
        "From: a@b.test\r\nMessage-ID: <bomb@b.test>\r\nX-Junk: {}\r\n\r\nbody\r\n",
        "x".repeat(200_000)
    );
    let mut deep = String::from(
        "From: deep@b.test\r\nMessage-ID: <deep@b.test>\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n",
    );
    for i in 0..200 {
        deep.push_str(&format!(
            "--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n",
            i + 1
        ));
    }
    deep.push_str("--b200\r\nContent-Type: text/plain\r\n\r\nx\r\n");
    let huge = format!(
        "From: big@b.test\r\nMessage-ID: <big@b.test>\r\nSubject: besar\r\n\r\n{}\r\n",
        "A".repeat(3_500_000)
    );
    env.append(
        "INBOX",
        &[
            b"To: pengaduan@lapor.go.id\r\nSubject: no sender\r\n\r\nsiapa saya?\r\n".to_vec(),
            header_bomb.into_bytes(),
            deep.into_bytes(),
            huge.into_bytes(),
            mail("ok@warga.test", "Normal", "Aduan normal.", "ok@warga.test", ""),
        ],
    );
    let shutdown = CancellationToken::new();
    let handles = pintu::email::spawn(&cfg, intake.clone(), shutdown.clone()).unwrap();
    expect_until("all handled", Duration::from_secs(30), || {
        env.count("INBOX") == 0 && env.count("Pintu-Quarantine") == 4 && env.count("Pintu-Processed") == 1
    })
    .await;
    stop(shutdown, handles).await;

    let state =
        pintu::email::state::EmailState::open(intake.db(), pintu::store::dedupe::SenderHasher::new(b"unused")).unwrap();
    let mut reasons: Vec<String> = state.quarantined().iter().map(|r| r.reason.clone()).collect();
    reasons.sort();
    assert_eq!(reasons, vec!["header_too_large", "no_sender", "too_deep", "too_large"]);
    for r in state.quarantined() {
        if r.reason == "too_large" {
            assert!(r.raw_sha256.is_none(), "not downloaded");
        } else {
            let sha = r.raw_sha256.expect("raw copy of a fetched message");
            assert!(cfg.gateway_data_dir().join("raw").join(format!("{sha}.eml")).exists());
        }
    }
    broker.relay(&intake).await;
    let complaints = broker.drain(&broker.names.intake_queue()).await;
    assert_eq!(complaints.len(), 1);
    assert_eq!(complaints[0]["text"], "Aduan normal.");
    broker.teardown().await;
}

/// Implicit TLS and STARTTLS to Dovecot with a certificate made at test time
/// (trusted through `ca_file`); an untrusted certificate is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_implicit_and_starttls() {
    let env = Env::new(true);
    env.append(
        "INBOX",
        &[mail("tls@warga.test", "TLS", "Lewat TLS.", "tls-1@warga.test", "")],
    );
    for (mode, port, ca) in [
        ("implicit", env.dovecot.tls_port, true),
        ("starttls", env.dovecot.port, true),
        ("implicit", env.dovecot.tls_port, false),
    ] {
        let extra = if ca {
            format!("ca_file = \"{}\"\nidle = false", env.dovecot.cert().display())
        } else {
            "idle = false".into()
        };
        let cfg = env.config(&MailboxOpts {
            tls: mode,
            port,
            extra,
            smtp: None,
            email_extra: String::new(),
        });
        let mut mbcfg = cfg.channels.email.mailboxes[0].clone();
        mbcfg.on_processed = pintu::email::config::OnProcessed::Flag;
        let result = tokio::task::spawn_blocking(move || {
            let slot = Default::default();
            pintu::email::ImapMailbox::connect(Arc::new(mbcfg), &slot).map(|mut mb| {
                let st = mb.select("INBOX").unwrap();
                let uids = mb.search_new(0).unwrap();
                let fetched = mb.fetch(&uids).unwrap();
                mb.logout();
                (st.exists, fetched.len())
            })
        })
        .await
        .unwrap();
        if ca {
            assert_eq!(result.unwrap(), (1, 1), "{mode}");
        } else {
            let err = result.expect_err("certificate from an unknown CA without ca_file is refused");
            assert!(matches!(err, MailError::Connection(_) | MailError::Auth(_)), "{err}");
        }
    }
}

/// SMTP failures are classified for the reply sender: a relay that is down
/// is transient (retry), an address that cannot be mailed is permanent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_errors_are_classified() {
    let env = Env::new(false);
    let dead_port = free_port();
    let cfg = env.config(&plain_opts(&env, Some(dead_port), ""));
    let transport = pintu::email::reply_transport(&cfg).unwrap().unwrap();
    let mut reply = OutboundReply {
        id: "01JTEST".into(),
        complaint_id: "01JC".into(),
        tracking: "LPR-ABCDEF".into(),
        channel: pintu_channels::Channel::Email,
        provider: "imap".into(),
        to: "budi@warga.test".into(),
        subject: Some("[LPR-ABCDEF] Aduan Anda telah diterima - LAPOR!".into()),
        text: "Kode lacak: LPR-ABCDEF".into(),
        context: Default::default(),
    };
    assert!(matches!(transport.send(&reply).await, Err(SendError::Transient { .. })));
    reply.to = "not an address".into();
    assert!(matches!(transport.send(&reply).await, Err(SendError::Permanent { .. })));
    // Suppressed replies are never sent, even if one was queued.
    reply.to = "budi@warga.test".into();
    reply.context.insert("suppress_reply".into(), "loop".into());
    assert!(
        transport.send(&reply).await.is_ok(),
        "suppressed: nothing to send, no error"
    );
}
