//! One mailbox, read forever: connect, catch up, wait (IDLE or poll), repeat.
//!
//! Exactly-once across crashes and restarts rests on three rules:
//! 1. a message is marked on the server (moved or flagged) only after
//!    [`Intake::accept`] returned Ok — the complaint is flushed in the outbox;
//! 2. progress (`last_uid` under the folder's UIDVALIDITY) advances only over
//!    messages that are accepted *and* marked, or quarantined;
//! 3. anything read twice anyway (crash between accept and mark, a UIDVALIDITY
//!    reset, a mailbox restored from backup) carries the same Message-ID:
//!    intake's provider dedupe answers with the original tracking code, and the
//!    `email_seen` tree remembers ids for far longer than the dedupe window.
//!
//! A batch of messages is parsed (each on a worker thread with a time budget,
//! see [`super::parse_worker`]), then accepted concurrently so that they share
//! one group-commit flush — the difference between ~100 and well over 1,000
//! messages per second. Batches are bounded by count (`batch_size`) and by
//! the summed message size (`batch_bytes`, see [`super::batch`]); what one
//! batch does is in [`super::ingest`].

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use pintu_channels::email::ParseOptions;
use thiserror::Error;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::blobs::BlobStore;
use super::config::MailboxConfig;
use super::mailbox::{MailError, Mailbox};
use super::parse_worker::{Outcome, ParseWorker};
use super::state::{EmailState, Progress};
use crate::intake::{Intake, IntakeError};
use crate::store::StoreError;

/// Seconds east of UTC of Western Indonesian Time: quota days follow the
/// citizens' calendar, not UTC's.
const WIB_OFFSET_SECS: u64 = 7 * 3600;

#[derive(Debug, Error)]
pub enum PollError {
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("intake: {0}")]
    Intake(#[source] IntakeError),
    /// The e-mail state (progress, seen ids, quarantine records).
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    /// The content-addressed files.
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    /// The gateway's store (flushing what intake wrote).
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn wib_day(now: u64) -> u32 {
    ((now + WIB_OFFSET_SECS) / 86_400) as u32
}

/// Exponential backoff with jitter, 1 s → `max`.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(max: Duration) -> Backoff {
        Backoff {
            next: Duration::from_secs(1),
            max,
        }
    }
    fn take(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        // ±20 % so that many mailboxes on one server do not reconnect in lockstep.
        let jitter = rand::random::<f64>() * 0.4 + 0.8;
        d.mul_f64(jitter)
    }
    fn reset(&mut self) {
        self.next = Duration::from_secs(1);
    }
}

pub struct Poller {
    pub cfg: Arc<MailboxConfig>,
    pub parse_opts: ParseOptions,
    pub intake: Arc<Intake>,
    pub state: EmailState,
    pub blobs: BlobStore,
    /// Acknowledgements per sender per day; `None` when replies are not sent.
    pub daily_limit: Option<u32>,
    pub seen_retention: Duration,
    pub rt: tokio::runtime::Handle,
    pub shutdown: CancellationToken,
    /// Longest wait between reconnect attempts.
    pub max_backoff: Duration,
    /// Longest a message may take to parse before it is quarantined.
    pub parse_budget: Duration,
    /// The parse worker, started on first use (see [`super::parse_worker`]).
    pub parser: Mutex<Option<ParseWorker>>,
}

/// What one pass over the folders did (tests and the benchmark read it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassStats {
    pub accepted: usize,
    pub duplicates: usize,
    pub quarantined: usize,
}

impl std::ops::AddAssign for PassStats {
    fn add_assign(&mut self, o: PassStats) {
        self.accepted += o.accepted;
        self.duplicates += o.duplicates;
        self.quarantined += o.quarantined;
    }
}

impl Poller {
    pub(crate) fn cancelled(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Parse one message within the budget, on the parse worker.
    pub(crate) fn parse(&self, raw: Vec<u8>) -> Outcome {
        let mut worker = self.parser.lock();
        let w = worker.get_or_insert_with(|| ParseWorker::new(&self.cfg.name, self.parse_opts.clone()));
        w.parse(raw, self.parse_budget, &self.shutdown)
    }

    /// Sleep unless shut down first; false when shut down. Plain thread sleep
    /// in small steps: no dependency on the runtime's timer, which may be gone
    /// when the process is stopping.
    fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if self.cancelled() {
                return false;
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(100)));
        }
        !self.cancelled()
    }

    /// Run until shutdown. `connect` opens a fresh session (IMAP in
    /// production, an in-memory mailbox in tests).
    pub fn run(&self, mut connect: impl FnMut() -> Result<Box<dyn Mailbox>, MailError>) {
        let name = self.cfg.name.clone();
        let mut backoff = Backoff::new(self.max_backoff);
        let mut last_sweep: Option<Instant> = None;
        while !self.cancelled() {
            let mut mb = match connect() {
                Ok(mb) => mb,
                Err(e) => {
                    metrics::counter!("pintu_email_connect_errors_total", "mailbox" => name.clone()).increment(1);
                    let wait = backoff.take();
                    warn!(mailbox = %name, error = %e, retry_in_ms = wait.as_millis() as u64, "IMAP connect failed");
                    if !self.sleep(wait) {
                        break;
                    }
                    continue;
                }
            };
            metrics::gauge!("pintu_email_connected", "mailbox" => name.clone()).set(1.0);
            info!(mailbox = %name, "IMAP session started");
            // A bug in our code or a dependency must cost one session, not the
            // mailbox: the next session re-reads what was not marked.
            let result = catch_unwind(AssertUnwindSafe(|| {
                self.session(mb.as_mut(), &mut backoff, &mut last_sweep)
            }));
            mb.logout();
            metrics::gauge!("pintu_email_connected", "mailbox" => name.clone()).set(0.0);
            let err = match result {
                Ok(Ok(())) => break,
                Ok(Err(e)) => e.to_string(),
                Err(_) => "poller panicked (bug); restarting the session".to_string(),
            };
            if self.cancelled() {
                break;
            }
            metrics::counter!("pintu_email_reconnects_total", "mailbox" => name.clone()).increment(1);
            let wait = backoff.take();
            warn!(mailbox = %name, error = %err, retry_in_ms = wait.as_millis() as u64, "IMAP session ended");
            if !self.sleep(wait) {
                break;
            }
        }
        info!(mailbox = %name, "IMAP poller stopped");
    }

    /// One connected session: catch up, then wait for news, until error or shutdown.
    fn session(
        &self,
        mb: &mut dyn Mailbox,
        backoff: &mut Backoff,
        last_sweep: &mut Option<Instant>,
    ) -> Result<(), PollError> {
        loop {
            if self.cancelled() {
                return Ok(());
            }
            self.pass(mb)?;
            // A full pass worked: the connection is healthy again.
            backoff.reset();
            if last_sweep.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                let now = now_secs();
                let quarantine_before = now.saturating_sub(self.seen_retention.as_secs());
                match self.state.sweep(now, wib_day(now), quarantine_before) {
                    Ok(n) => debug!(mailbox = %self.cfg.name, removed = n, "email state swept"),
                    Err(e) => warn!(mailbox = %self.cfg.name, error = %e, "email state sweep failed"),
                }
                *last_sweep = Some(Instant::now());
            }
            if self.cancelled() {
                return Ok(());
            }
            if mb.can_idle() {
                // The single folder is still selected from the pass.
                let changed = mb.wait(Duration::from_secs(self.cfg.idle_timeout_secs))?;
                debug!(mailbox = %self.cfg.name, changed, "IDLE returned");
            } else if !self.sleep(Duration::from_secs(self.cfg.poll_interval_secs)) {
                return Ok(());
            }
        }
    }

    /// Process every configured folder once.
    pub fn pass(&self, mb: &mut dyn Mailbox) -> Result<PassStats, PollError> {
        let mut total = PassStats::default();
        for folder in &self.cfg.folders {
            total += self.process_folder(mb, folder)?;
        }
        Ok(total)
    }

    fn process_folder(&self, mb: &mut dyn Mailbox, folder: &str) -> Result<PassStats, PollError> {
        let name = &self.cfg.name;
        let st = mb.select(folder)?;
        let mut prog = match self.state.progress(name, folder)? {
            Some(p) if p.uidvalidity == st.uidvalidity => p,
            Some(p) => {
                // The server renumbered the folder: our UIDs mean nothing now.
                // Re-scan it all; Message-ID dedupe and the seen tree keep
                // already-ingested mail from becoming new complaints.
                warn!(mailbox = %name, folder, old = p.uidvalidity, new = st.uidvalidity,
                    "UIDVALIDITY changed; rescanning folder");
                metrics::counter!("pintu_email_uidvalidity_changes_total", "mailbox" => name.clone()).increment(1);
                Progress {
                    uidvalidity: st.uidvalidity,
                    last_uid: 0,
                }
            }
            None => Progress {
                uidvalidity: st.uidvalidity,
                last_uid: 0,
            },
        };
        self.state.set_progress(name, folder, prog)?;
        let uids = mb.search_new(prog.last_uid)?;
        let mut stats = PassStats::default();
        if !uids.is_empty() {
            debug!(mailbox = %name, folder, new = uids.len(), after = prog.last_uid, "new messages");
        }
        for chunk in uids.chunks(self.cfg.batch_size.max(1)) {
            if self.cancelled() {
                break;
            }
            let sizes: HashMap<u32, u64> = mb.sizes(chunk)?.into_iter().collect();
            let groups = super::batch::by_size(
                chunk,
                |u| sizes.get(&u).copied(),
                self.cfg.batch_bytes,
                self.cfg.max_message_bytes,
            );
            for group in groups {
                if self.cancelled() {
                    break;
                }
                let (s, handled_up_to, failure) = self.process_batch(mb, folder, st.uidvalidity, &group, &sizes)?;
                stats += s;
                if let Some(h) = handled_up_to {
                    if h > prog.last_uid {
                        prog.last_uid = h;
                        self.state.set_progress(name, folder, prog)?;
                    }
                }
                if let Some(f) = failure {
                    return Err(f);
                }
            }
        }
        Ok(stats)
    }
}
