//! Parsing with a time budget.
//!
//! A parse is plain CPU work on one thread: nothing can interrupt it, not a
//! timeout and not SIGTERM. So it runs on a worker thread of its own while
//! the poller waits for the answer with a deadline. When the deadline passes
//! the poller quarantines the message (`parse_timeout`, recorded and flushed
//! before the message leaves the inbox, so a restart does not parse it
//! again) and moves on; the worker is abandoned — it finishes on its own,
//! its answer is dropped — and a fresh worker takes the next message. A
//! shutdown while waiting is noticed within 100 ms.
//!
//! Parsing is linear and the text is capped, so the budget is a safety net
//! for what nobody has found yet. `pintu_email_parse_abandoned` counts
//! workers still running after their deadline: above zero for long means a
//! parser bug worth a look (and a core's worth of CPU spent on it).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pintu_channels::email::{parse_message, ParseOptions, ParsedEmail, Rejection};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

type Answer = Result<ParsedEmail, Rejection>;
/// The parse a worker runs: [`parse_message`], or a stand-in in tests.
pub type ParseFn = fn(&[u8], &ParseOptions) -> Result<ParsedEmail, Rejection>;

struct Job {
    raw: Vec<u8>,
    reply: SyncSender<Answer>,
}

/// What waiting for one parse gave.
#[derive(Debug)]
pub enum Outcome {
    /// Boxed: a parsed message is large next to the other variants.
    Parsed(Box<Answer>),
    /// The deadline passed; the parse may still be running on its own.
    TimedOut,
    /// Shutdown was requested while waiting.
    Stopped,
}

/// Workers abandoned after their deadline that are still running, process-wide.
static ABANDONED_RUNNING: AtomicUsize = AtomicUsize::new(0);

/// One parse worker thread, replaced when it overruns a deadline.
pub struct ParseWorker {
    name: String,
    opts: ParseOptions,
    jobs: Option<Sender<Job>>,
    parse: ParseFn,
}

impl ParseWorker {
    pub fn new(name: &str, opts: ParseOptions) -> ParseWorker {
        ParseWorker {
            name: name.to_string(),
            opts,
            jobs: None,
            parse: parse_message,
        }
    }

    /// Run `parse` instead of [`parse_message`] (tests: a parse that overruns on cue).
    pub fn with_parse_fn(mut self, parse: ParseFn) -> ParseWorker {
        self.parse = parse;
        self
    }

    fn spawn(&self) -> Option<Sender<Job>> {
        let (tx, rx) = mpsc::channel::<Job>();
        let opts = self.opts.clone();
        let parse = self.parse;
        let started = std::thread::Builder::new()
            .name(format!("parse-{}", self.name))
            .spawn(move || work(rx, opts, parse));
        match started {
            Ok(_) => Some(tx),
            Err(e) => {
                error!(mailbox = %self.name, error = %e, "cannot start a parse worker thread");
                None
            }
        }
    }

    /// Parse `raw` within `budget`; see the module docs.
    pub fn parse(&mut self, raw: Vec<u8>, budget: Duration, shutdown: &CancellationToken) -> Outcome {
        if shutdown.is_cancelled() {
            return Outcome::Stopped;
        }
        if self.jobs.is_none() {
            self.jobs = self.spawn();
        }
        let Some(jobs) = &self.jobs else {
            // No thread could be started: parse here, without a budget,
            // rather than not at all.
            return Outcome::Parsed(Box::new((self.parse)(&raw, &self.opts)));
        };
        let (reply, answer) = mpsc::sync_channel::<Answer>(1);
        if jobs.send(Job { raw, reply }).is_err() {
            self.jobs = None;
            return Outcome::Parsed(Box::new(Err(Rejection::Unparseable("the parse worker stopped".into()))));
        }
        let deadline = Instant::now() + budget;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match answer.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(a) => return Outcome::Parsed(Box::new(a)),
                Err(RecvTimeoutError::Disconnected) => {
                    // The worker died (it catches parser panics, so this is a bug).
                    self.jobs = None;
                    return Outcome::Parsed(Box::new(Err(Rejection::Unparseable("the parse worker stopped".into()))));
                }
                Err(RecvTimeoutError::Timeout) => {
                    if shutdown.is_cancelled() {
                        self.abandon(answer);
                        return Outcome::Stopped;
                    }
                    if Instant::now() >= deadline {
                        warn!(mailbox = %self.name, budget_ms = budget.as_millis() as u64,
                            "parse over its time budget; worker abandoned");
                        self.abandon(answer);
                        return Outcome::TimedOut;
                    }
                }
            }
        }
    }

    /// Give up on the running parse: its thread is left to finish alone and
    /// the next parse gets a new one.
    fn abandon(&mut self, answer: Receiver<Answer>) {
        self.jobs = None;
        let n = ABANDONED_RUNNING.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::gauge!("pintu_email_parse_abandoned").set(n as f64);
        metrics::counter!("pintu_email_parse_timeouts_total", "mailbox" => self.name.clone()).increment(1);
        let watch = std::thread::Builder::new()
            .name(format!("parse-wait-{}", self.name))
            .spawn(move || {
                // Returns when the abandoned parse answers (or its thread ends).
                let _ = answer.recv();
                let n = ABANDONED_RUNNING.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
                metrics::gauge!("pintu_email_parse_abandoned").set(n as f64);
            });
        if watch.is_err() {
            warn!(mailbox = %self.name, "cannot watch an abandoned parse");
        }
    }
}

/// Parses still running after their deadline passed (this process).
pub fn abandoned_running() -> usize {
    ABANDONED_RUNNING.load(Ordering::Relaxed)
}

fn work(jobs: Receiver<Job>, opts: ParseOptions, parse: ParseFn) {
    let opts = Arc::new(opts);
    while let Ok(job) = jobs.recv() {
        let answer = parse(&job.raw, &opts);
        drop(job.raw);
        // The poller may have stopped waiting; then nobody reads this.
        let _ = job.reply.send(answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parse that takes two seconds whatever the input ("slow" in it), or
    /// the real one.
    fn slow_or_real(raw: &[u8], opts: &ParseOptions) -> Answer {
        if raw.windows(4).any(|w| w == b"slow") {
            std::thread::sleep(Duration::from_secs(2));
        }
        parse_message(raw, opts)
    }

    #[test]
    fn answers_within_budget_and_gives_up_after_it() {
        let mut w = ParseWorker::new("t", ParseOptions::default()).with_parse_fn(slow_or_real);
        let stop = CancellationToken::new();
        let ok = b"From: a@b.id\r\nSubject: x\r\n\r\nhalo\r\n".to_vec();
        match w.parse(ok.clone(), Duration::from_secs(30), &stop) {
            Outcome::Parsed(a) => assert_eq!(a.as_ref().as_ref().unwrap().inbound.text, "halo"),
            other => panic!("{other:?}"),
        }
        let slow = b"From: a@b.id\r\nSubject: slow\r\n\r\nhalo\r\n".to_vec();
        let before = abandoned_running();
        assert!(matches!(
            w.parse(slow, Duration::from_millis(50), &stop),
            Outcome::TimedOut
        ));
        assert!(abandoned_running() > before, "the overrunning parse is counted");
        // The next parse gets a fresh worker and works again.
        assert!(matches!(
            w.parse(ok.clone(), Duration::from_secs(30), &stop),
            Outcome::Parsed(a) if a.is_ok()
        ));
        stop.cancel();
        assert!(matches!(w.parse(ok, Duration::from_secs(30), &stop), Outcome::Stopped));
    }
}
