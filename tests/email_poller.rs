//! The poller's exactly-once rules against an in-memory mailbox (no peers):
//! what happens when the server renumbers a folder *after* intake's dedupe
//! window has passed — only the `email_seen` tree stands between old mail and
//! duplicate complaints then.
//!
//! Run: `cargo test --test email_poller`.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pintu::email::config::{MailboxConfig, OnProcessed, Secret, TlsMode};
use pintu::email::mailbox::{Fetched, FolderState, MailError, Mailbox};
use pintu::email::parse_worker::ParseWorker;
use pintu::email::poller::{PassStats, Poller};
use pintu::intake::Intake;
use pintu::replies::Templates;
use pintu::store::dedupe::SenderHasher;
use pintu::store::Store;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Folder {
    uidvalidity: u32,
    next_uid: u32,
    /// uid → (raw, processed flag)
    msgs: BTreeMap<u32, (Vec<u8>, bool)>,
    quarantined: Vec<Vec<u8>>,
    /// The UIDs of every FETCH, in order.
    fetches: Vec<Vec<u32>>,
}

impl Folder {
    fn add(&mut self, raw: Vec<u8>) {
        self.next_uid += 1;
        self.msgs.insert(self.next_uid, (raw, false));
    }
    /// What a server does when it loses its index: new UIDVALIDITY, new UIDs, flags gone.
    fn renumber(&mut self) {
        self.uidvalidity += 1;
        let old: Vec<Vec<u8>> = std::mem::take(&mut self.msgs).into_values().map(|(r, _)| r).collect();
        self.next_uid = 0;
        for r in old {
            self.add(r);
        }
    }
}

#[derive(Clone)]
struct Fake(Arc<Mutex<Folder>>);

impl Mailbox for Fake {
    fn select(&mut self, _folder: &str) -> Result<FolderState, MailError> {
        let f = self.0.lock();
        Ok(FolderState {
            uidvalidity: f.uidvalidity,
            uidnext: Some(f.next_uid + 1),
            exists: f.msgs.len() as u32,
        })
    }
    fn search_new(&mut self, after_uid: u32) -> Result<Vec<u32>, MailError> {
        Ok(self
            .0
            .lock()
            .msgs
            .iter()
            .filter(|(u, (_, done))| **u > after_uid && !done)
            .map(|(u, _)| *u)
            .collect())
    }
    fn sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u64)>, MailError> {
        let f = self.0.lock();
        Ok(uids
            .iter()
            .filter_map(|u| f.msgs.get(u).map(|(r, _)| (*u, r.len() as u64)))
            .collect())
    }
    fn fetch(&mut self, uids: &[u32]) -> Result<Vec<Fetched>, MailError> {
        let mut f = self.0.lock();
        if !uids.is_empty() {
            f.fetches.push(uids.to_vec());
        }
        Ok(uids
            .iter()
            .filter_map(|u| {
                f.msgs.get(u).map(|(r, _)| Fetched {
                    uid: *u,
                    raw: r.clone(),
                })
            })
            .collect())
    }
    fn mark_processed(&mut self, uids: &[u32]) -> Result<(), MailError> {
        let mut f = self.0.lock();
        for u in uids {
            if let Some(m) = f.msgs.get_mut(u) {
                m.1 = true;
            }
        }
        Ok(())
    }
    fn quarantine(&mut self, uids: &[u32]) -> Result<(), MailError> {
        let mut f = self.0.lock();
        for u in uids {
            if let Some((r, _)) = f.msgs.remove(u) {
                f.quarantined.push(r);
            }
        }
        Ok(())
    }
    fn can_idle(&self) -> bool {
        false
    }
    fn wait(&mut self, _timeout: Duration) -> Result<bool, MailError> {
        Ok(false)
    }
    fn logout(&mut self) {}
}

fn mail(i: usize) -> Vec<u8> {
    format!(
        "From: warga{i}@desa.test\r\nSubject: Aduan {i}\r\nMessage-ID: <fake-{i}@desa.test>\r\n\r\nIsi aduan {i}.\r\n"
    )
    .into_bytes()
}

fn poller(dir: &std::path::Path, window: Duration) -> (Poller, Arc<Intake>) {
    poller_with(dir, window, |_| {})
}

fn poller_with(
    dir: &std::path::Path,
    window: Duration,
    tune: impl FnOnce(&mut MailboxConfig),
) -> (Poller, Arc<Intake>) {
    let (store, _closed) = Store::open(dir, 8 << 20).unwrap();
    let hasher = SenderHasher::new(&[7u8; 32]);
    let templates = Templates::load(&support::repo().join("config/replies.toml")).unwrap();
    let (feed, _rx) = pintu::relay::outbox_feed();
    let intake = Arc::new(
        Intake::new(store, hasher.clone(), Some(Arc::new(templates)), window, feed)
            .with_reply_providers(["imap".to_string()]),
    );
    let mut cfg = MailboxConfig::new("fake", "pengaduan@lapor.go.id", "127.0.0.1", 1, TlsMode::None, "u");
    cfg.password = Some(Secret::new("p"));
    cfg.on_processed = OnProcessed::Flag;
    cfg.poll_interval_secs = 1;
    cfg.idle = false;
    cfg.batch_size = 2;
    cfg.connect_timeout_secs = 1;
    cfg.command_timeout_secs = 1;
    cfg.max_message_bytes = 1 << 20;
    tune(&mut cfg);
    let email = pintu::email::EmailConfig {
        ack_domain: Some("lapor.go.id".into()),
        loop_id: Some("pintu@lapor.go.id".into()),
        ..Default::default()
    };
    let p = Poller {
        cfg: Arc::new(cfg),
        parse_opts: pintu::email::parse_options(&email, "pengaduan@lapor.go.id"),
        state: pintu::email::state::EmailState::open(intake.db(), hasher).unwrap(),
        blobs: pintu::email::blobs::BlobStore::open(&dir.join("blobs")).unwrap(),
        intake: intake.clone(),
        daily_limit: None,
        seen_retention: Duration::from_secs(3600),
        rt: tokio::runtime::Handle::current(),
        shutdown: CancellationToken::new(),
        max_backoff: Duration::from_millis(100),
        parse_budget: Duration::from_secs(30),
        parser: Default::default(),
    };
    (p, intake)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renumbered_folder_after_dedupe_window_is_not_reingested() {
    let dir = tempfile::tempdir().unwrap();
    // A one-second dedupe window: by the time the folder is renumbered,
    // intake itself no longer recognises the Message-IDs.
    let (p, intake) = poller(dir.path(), Duration::from_secs(1));
    let folder = Fake(Arc::new(Mutex::new(Folder {
        uidvalidity: 100,
        ..Default::default()
    })));
    for i in 0..5 {
        folder.0.lock().add(mail(i));
    }
    folder.0.lock().add(b"\x00\x01 not a mail at all".to_vec());
    let mut mb = folder.clone();
    let (p, first) = tokio::task::spawn_blocking(move || {
        let s = p.pass(&mut mb).unwrap();
        (p, s)
    })
    .await
    .unwrap();
    assert_eq!(
        first,
        PassStats {
            accepted: 5,
            duplicates: 0,
            quarantined: 1
        }
    );
    assert_eq!(folder.0.lock().quarantined.len(), 1);
    let outbox_after_first = intake.store().outbox.len();
    assert_eq!(outbox_after_first, 10, "5 complaints + 5 acknowledgements");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    folder.0.lock().renumber();
    folder.0.lock().add(mail(99));
    let mut mb = folder.clone();
    let second = tokio::task::spawn_blocking(move || p.pass(&mut mb).unwrap())
        .await
        .unwrap();
    assert_eq!(
        second,
        PassStats {
            accepted: 1,
            duplicates: 5,
            quarantined: 0
        },
        "old mail recognised by the seen tree, the new one ingested"
    );
    assert_eq!(
        intake.store().outbox.len(),
        12,
        "exactly one new complaint (+ its acknowledgement)"
    );
    assert!(
        folder.0.lock().msgs.values().all(|(_, done)| *done),
        "everything marked"
    );
}

async fn pass(p: Poller, folder: &Fake) -> (Poller, PassStats) {
    let mut mb = folder.clone();
    tokio::task::spawn_blocking(move || {
        let s = p.pass(&mut mb).unwrap();
        (p, s)
    })
    .await
    .unwrap()
}

fn fake(uidvalidity: u32) -> Fake {
    Fake(Arc::new(Mutex::new(Folder {
        uidvalidity,
        ..Default::default()
    })))
}

fn reasons(p: &Poller) -> Vec<String> {
    let mut r: Vec<String> = p.state.quarantined().into_iter().map(|q| q.reason).collect();
    r.sort();
    r
}

/// Parses like the gateway, but takes three seconds for a message whose
/// subject says "lambat" (slow): a parse that overruns on cue.
fn slow_on_cue(
    raw: &[u8],
    opts: &pintu_channels::email::ParseOptions,
) -> Result<pintu_channels::email::ParsedEmail, pintu_channels::email::Rejection> {
    if raw.windows(14).any(|w| w == b"Subject: lamba") {
        std::thread::sleep(Duration::from_secs(3));
    }
    pintu_channels::email::parse_message(raw, opts)
}

/// A parse over its time budget is quarantined with the reason and its raw
/// copy, durably, and the mailbox moves on: the next pass does not see it
/// again, and mail behind it is ingested. (Before: no budget at all, so one
/// slow mail held its mailbox for as long as it took, after every restart.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parse_over_its_budget_is_quarantined_and_the_mailbox_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let (mut p, intake) = poller(dir.path(), Duration::from_secs(60));
    p.parser = Mutex::new(Some(
        ParseWorker::new("fake", p.parse_opts.clone()).with_parse_fn(slow_on_cue),
    ));
    p.parse_budget = Duration::from_millis(300);
    let folder = fake(1);
    folder.0.lock().add(
        b"From: lambat@desa.test\r\nSubject: lambat\r\nMessage-ID: <slow@desa.test>\r\n\r\nJalan rusak.\r\n".to_vec(),
    );
    let (p, first) = pass(p, &folder).await;
    assert_eq!(first.quarantined, 1, "{first:?}");
    assert_eq!(first.accepted, 0);
    let rec = &p.state.quarantined()[0];
    assert_eq!(rec.reason, "parse_timeout");
    let sha = rec.raw_sha256.clone().expect("raw copy kept");
    assert!(dir.path().join("blobs/raw").join(format!("{sha}.eml")).exists());
    assert_eq!(folder.0.lock().quarantined.len(), 1, "moved out of the inbox");

    folder.0.lock().add(mail(1));
    let (p, second) = pass(p, &folder).await;
    assert_eq!(
        second,
        PassStats {
            accepted: 1,
            duplicates: 0,
            quarantined: 0
        }
    );
    assert_eq!(reasons(&p), vec!["parse_timeout"], "decided once");
    assert_eq!(intake.store().outbox.len(), 2, "one complaint + its acknowledgement");
}

/// Mail no citizen wrote is quarantined with its reason, never reaches the
/// outbox (no complaint, no acknowledgement), and an out-of-office that
/// answers our acknowledgement is not linked to the citizen's complaint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_no_citizen_wrote_is_quarantined_not_ingested() {
    let dir = tempfile::tempdir().unwrap();
    let (p, intake) = poller(dir.path(), Duration::from_secs(60));
    let folder = fake(1);
    folder.0.lock().add(mail(1));
    let (p, first) = pass(p, &folder).await;
    assert_eq!(first.accepted, 1);
    assert_eq!(intake.store().outbox.len(), 2);
    let fixtures = support::repo().join("tests/fixtures/email");
    for name in [
        "nc-01-ooo-exchange-in-reply-to-ack",
        "nc-06-newsletter-precedence-bulk",
        "nc-09-mailman-list-id",
        "nc-11-bounce-dsn-quoting-ack-code",
        "nc-17-own-x-loop-upper-case",
    ] {
        folder
            .0
            .lock()
            .add(std::fs::read(fixtures.join(format!("{name}.eml"))).unwrap());
    }
    let (p, second) = pass(p, &folder).await;
    assert_eq!(
        second,
        PassStats {
            accepted: 0,
            duplicates: 0,
            quarantined: 5
        }
    );
    assert_eq!(
        reasons(&p),
        vec!["auto_generated", "auto_reply", "bulk", "mailing_list", "own_loop"]
    );
    assert_eq!(intake.store().outbox.len(), 2, "nothing published, nothing answered");
    let ooo = p
        .state
        .quarantined()
        .into_iter()
        .find(|r| r.reason == "auto_generated")
        .unwrap();
    assert_eq!(ooo.detail, "Auto-Submitted: auto-generated");
    assert_eq!(ooo.sender.as_deref(), Some("s***@pupr.kotacontoh.go.id"), "masked");
    assert!(ooo.subject.as_deref().unwrap().starts_with("Automatic reply:"));
    assert!(!ooo.id.is_empty());
}

/// A process that died while parsing a message leaves a count behind; the
/// next start parses that group one message at a time, and a message whose
/// parse was started three times without finishing is quarantined unparsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_kills_the_parser_is_quarantined_after_three_starts() {
    use pintu::email::quarantine::Location;
    let dir = tempfile::tempdir().unwrap();
    let (p, _intake) = poller(dir.path(), Duration::from_secs(60));
    let folder = fake(9);
    folder.0.lock().add(mail(1));
    folder.0.lock().add(mail(2));
    let loc = |uid| Location {
        mailbox: "fake",
        folder: "INBOX",
        uidvalidity: 9,
        uid,
    };
    // What three runs that died inside message 1's parse leave, and one that
    // died before message 2 was finished.
    for _ in 0..3 {
        p.state.begin_parse(&[loc(1)], 1).unwrap();
    }
    p.state.begin_parse(&[loc(2)], 1).unwrap();
    let (p, s) = pass(p, &folder).await;
    assert_eq!(
        s,
        PassStats {
            accepted: 1,
            duplicates: 0,
            quarantined: 1
        }
    );
    assert_eq!(reasons(&p), vec!["parse_aborted"]);
    assert_eq!(p.state.unfinished_parses(&loc(1)).unwrap(), 0);
    assert_eq!(p.state.unfinished_parses(&loc(2)).unwrap(), 0);
}

/// Batches are bounded by the summed RFC822.SIZE, and large messages are
/// fetched one by one. (Before: one FETCH of `batch_size` messages, however
/// large: 100 × 25 MB held twice.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_are_budgeted_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _intake) = poller_with(dir.path(), Duration::from_secs(60), |c| {
        c.batch_size = 100;
        c.batch_bytes = 100_000;
        c.max_message_bytes = 1 << 20;
    });
    let folder = fake(1);
    let big = |i: usize| {
        let mut m = mail(i);
        m.extend(std::iter::repeat_n(b'x', 150_000));
        m
    };
    let huge = {
        let mut m = mail(99);
        m.extend(std::iter::repeat_n(b'y', 2 << 20));
        m
    };
    {
        let mut f = folder.0.lock();
        for raw in [mail(1), mail(2), big(3), mail(4), big(5), huge, mail(6), mail(7)] {
            f.add(raw);
        }
    }
    let (_p, s) = pass(p, &folder).await;
    assert_eq!(s.accepted, 7);
    assert_eq!(s.quarantined, 1, "above max_message_bytes: not fetched");
    assert_eq!(
        folder.0.lock().fetches,
        vec![vec![1, 2], vec![3], vec![4], vec![5], vec![7, 8]],
        "small ones together, large ones alone"
    );
}

fn mail_from(from: &str, message_id: &str, body: &str) -> Vec<u8> {
    format!("From: {from}\r\nSubject: Aduan\r\nMessage-ID: <{message_id}>\r\n\r\n{body}\r\n").into_bytes()
}

fn stats(accepted: usize, duplicates: usize) -> PassStats {
    PassStats {
        accepted,
        duplicates,
        quarantined: 0,
    }
}

/// Issue 11.8: a Message-ID is the sender's, not the world's. Another
/// sender's mail with the same Message-ID (a broken mailer, a forged header)
/// is a new complaint, in intake's dedupe and in the 90-day seen tree alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_message_id_from_another_sender_is_a_new_complaint() {
    let dir = tempfile::tempdir().unwrap();
    let (p, intake) = poller(dir.path(), Duration::from_secs(3600));
    let folder = fake(7);
    folder.0.lock().add(mail_from(
        "siti@desa.test",
        "dup@mailer.test",
        "Jalan rusak di Desa Sukamaju.",
    ));
    folder.0.lock().add(mail_from(
        "budi@kota.test",
        "dup@mailer.test",
        "Air PDAM mati tiga hari.",
    ));
    let (p, s) = pass(p, &folder).await;
    assert_eq!(s, stats(2, 0), "two citizens, two complaints");
    assert_eq!(intake.store().outbox.len(), 4, "2 complaints + 2 acknowledgements");
    // A third sender after both are in the seen tree: still new.
    folder.0.lock().renumber();
    folder
        .0
        .lock()
        .add(mail_from("ani@desa.test", "dup@mailer.test", "Lampu jalan padam."));
    let (_, s) = pass(p, &folder).await;
    assert_eq!(
        s,
        stats(1, 2),
        "the two known mails are seen, the third sender's is new"
    );
    assert_eq!(intake.store().outbox.len(), 6);
}

/// Seen records written before the sender was part of the key (SHA-256 of
/// the Message-ID alone) are still read: a re-fetch of the very same mail
/// after an upgrade is not ingested again, while other bytes claiming that
/// Message-ID are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_seen_records_still_stop_a_refetch_of_the_same_mail() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let (p, intake) = poller(dir.path(), Duration::from_secs(1));
    let old_mail = mail_from("siti@desa.test", "old@mailer.test", "Sampah menumpuk di pasar.");
    // What an earlier version left: the raw copy and a seen record keyed by
    // the Message-ID alone.
    let raw_sha = hex::encode(sha2::Sha256::digest(&old_mail));
    p.blobs.put_raw(&raw_sha, &old_mail).unwrap();
    let seen = pintu::email::state::Seen {
        tracking: "LPR-222222".into(),
        expires_at: u64::MAX,
    };
    intake
        .db()
        .open_tree("email_seen")
        .unwrap()
        .insert(
            sha2::Sha256::digest(b"old@mailer.test").as_slice(),
            bincode::serialize(&seen).unwrap(),
        )
        .unwrap();
    let folder = fake(9);
    folder.0.lock().add(old_mail);
    folder
        .0
        .lock()
        .add(mail_from("budi@kota.test", "old@mailer.test", "Jembatan retak."));
    let (_, s) = pass(p, &folder).await;
    assert_eq!(
        s,
        stats(1, 1),
        "the old mail is recognised, the other sender's is ingested"
    );
    assert_eq!(intake.store().outbox.len(), 2);
}
