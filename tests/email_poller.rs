//! The poller's exactly-once rules against an in-memory mailbox (no peers):
//! what happens when the server renumbers a folder *after* intake's dedupe
//! window has passed — only the `email_seen` tree stands between old mail and
//! duplicate complaints then.
//!
//! Run: `cargo test --test email_poller`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pintu::email::config::{MailboxConfig, OnProcessed, Secret, TlsMode};
use pintu::email::mailbox::{Fetched, FolderState, MailError, Mailbox};
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
        let f = self.0.lock();
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
    let (store, _closed) = Store::open(dir, 8 << 20).unwrap();
    let hasher = SenderHasher::new(&[7u8; 32]);
    let templates =
        Templates::load(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/replies.toml")).unwrap();
    let (feed, _rx) = pintu::relay::outbox_feed();
    let intake = Arc::new(
        Intake::new(store, hasher.clone(), Some(Arc::new(templates)), window, feed)
            .with_reply_providers(["imap".to_string()]),
    );
    let cfg = MailboxConfig {
        name: "fake".into(),
        address: "pengaduan@lapor.go.id".into(),
        host: "127.0.0.1".into(),
        port: 1,
        tls: TlsMode::None,
        ca_file: None,
        allow_insecure: false,
        username: "u".into(),
        password: Some(Secret::new("p")),
        password_env: None,
        password_file: None,
        folders: vec!["INBOX".into()],
        on_processed: OnProcessed::Flag,
        processed_folder: "Pintu-Processed".into(),
        processed_keyword: "$PintuIngested".into(),
        mark_seen: false,
        quarantine_folder: "Pintu-Quarantine".into(),
        poll_interval_secs: 1,
        idle: false,
        idle_timeout_secs: 600,
        batch_size: 2,
        connect_timeout_secs: 1,
        command_timeout_secs: 1,
        max_message_bytes: 1 << 20,
    };
    let email = pintu::email::EmailConfig::default();
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
