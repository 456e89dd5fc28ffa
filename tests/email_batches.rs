//! How the poller sizes its IMAP FETCHes, against a real Dovecot (started by
//! `tests/peers/dovecot.sh`) and its own RFC822.SIZE figures. The memory this
//! saves is measured by `pintu-mail-load --large` (README, Benchmarks).
//!
//! Run: `cargo test --test email_batches` (needs dovecot and RabbitMQ).

mod email_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use email_support::*;
use pintu::email::mailbox::{Fetched, FolderState, MailError, Mailbox};
use tokio_util::sync::CancellationToken;

fn plain_opts(env: &Env, extra: &str) -> MailboxOpts {
    MailboxOpts {
        tls: "none",
        port: env.dovecot.port,
        extra: extra.to_string(),
        smtp: None,
        email_extra: String::new(),
    }
}

/// Records the UIDs of every FETCH the poller makes on a real Dovecot.
struct RecordFetches {
    inner: pintu::email::ImapMailbox,
    fetches: Arc<parking_lot::Mutex<Vec<Vec<u32>>>>,
}

impl Mailbox for RecordFetches {
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
        if !uids.is_empty() {
            self.fetches.lock().push(uids.to_vec());
        }
        self.inner.fetch(uids)
    }
    fn mark_processed(&mut self, uids: &[u32]) -> Result<(), MailError> {
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

/// Against Dovecot's own RFC822.SIZE: small messages are fetched together
/// up to `batch_bytes`, a large one alone, one above `max_message_bytes` not
/// at all (quarantined `too_large`). Before, all eight came in one FETCH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_fetches_are_budgeted_by_message_size() {
    let env = Env::new(false);
    let cfg = env.config(&plain_opts(
        &env,
        "idle = false\nbatch_size = 100\nbatch_bytes = 1048576\nmax_message_bytes = 4194304",
    ));
    let broker = Broker::new(&cfg).await;
    let intake = open_intake(&cfg);
    let photo = |i: usize, kib: usize| {
        let body = format!("Foto {i}:\r\n{}", "QUJDRA==\r\n".repeat(kib * 1024 / 10));
        mail(
            &format!("w{i}@desa.test"),
            &format!("Foto {i}"),
            &body,
            &format!("big-{i}@desa.test"),
            "",
        )
    };
    let small = |i: usize| {
        mail(
            &format!("w{i}@desa.test"),
            "Aduan",
            "Jalan rusak.",
            &format!("s-{i}@desa.test"),
            "",
        )
    };
    env.append(
        "INBOX",
        &[
            small(1),
            small(2),
            photo(3, 1200),
            small(4),
            photo(5, 700),
            photo(6, 5000),
            small(7),
            small(8),
        ],
    );
    let mbcfg = cfg.channels.email.mailboxes[0].clone();
    let poller = pintu::email::poller(
        &cfg,
        &mbcfg,
        intake.clone(),
        CancellationToken::new(),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let fetches: Arc<parking_lot::Mutex<Vec<Vec<u32>>>> = Default::default();
    let rec = fetches.clone();
    let stats = tokio::task::spawn_blocking(move || {
        let slot = Default::default();
        let inner = pintu::email::ImapMailbox::connect(poller.cfg.clone(), &slot).unwrap();
        let mut mb = RecordFetches { inner, fetches: rec };
        let s = poller.pass(&mut mb).unwrap();
        mb.logout();
        s
    })
    .await
    .unwrap();
    assert_eq!((stats.accepted, stats.quarantined), (7, 1), "{stats:?}");
    assert_eq!(
        *fetches.lock(),
        vec![vec![1, 2], vec![3], vec![4, 5, 7, 8]],
        "1.2 MB alone, 0.7 MB with the small ones after it, 5 MB not fetched"
    );
    broker.teardown().await;
}
