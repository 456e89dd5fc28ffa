//! X mentions poller: `GET /2/users/:id/mentions` with `since_id` paging.
//!
//! One poll reads every page newer than the cursor (newest first, following
//! `next_token`), makes each complaint durable through [`Intake::accept`], and
//! only when all of them were accepted moves the cursor (persisted in the sled
//! tree `social.x`) to the newest id seen. A crash or error part-way leaves the
//! cursor where it was: the next poll reads the same tweets again and intake's
//! provider dedupe (`x` + tweet id) answers them as duplicates, so nothing is
//! lost and nothing is taken in twice.
//!
//! Rate limits: after every response `x-rate-limit-remaining` /
//! `x-rate-limit-reset` are read; at 0 remaining no request is made before the
//! reset time. A 429 waits for the reset (or `retry-after`, or a backoff).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use pintu_channels::social::x::{id_newer, parse_mentions_page, XAccount};
use pintu_channels::{AdapterError, Secret};
use reqwest::header::HeaderMap;
use thiserror::Error;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, info_span, warn, Instrument};

use super::config::XPollConfig;
use crate::intake::{Intake, IntakeError};

/// Fields the parser needs; `note_tweet` carries the whole text of long posts.
pub const TWEET_FIELDS: &str = "author_id,created_at,conversation_id,referenced_tweets,in_reply_to_user_id,note_tweet";

/// The mentions timeline holds at most 800 tweets; far more pages than that
/// means the server keeps handing out tokens.
const MAX_PAGES: u32 = 100;
/// A mentions page is a few hundred KB at most.
const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;
/// Never trust a reset header further out than one 15-minute window and a bit.
const MAX_RATE_WAIT: Duration = Duration::from_secs(16 * 60);
/// Reset times are whole seconds; start a little after, not a little before.
const RESET_MARGIN: Duration = Duration::from_millis(250);

#[derive(Debug, Error)]
pub enum PollError {
    #[error("rate limited for {0:?}")]
    RateLimited(Duration),
    /// The URL is left out of the error (`without_url`): it names the account.
    #[error("request failed: {0}")]
    Http(#[source] reqwest::Error),
    #[error("request failed: HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("credentials refused (HTTP {0}): {1}")]
    Auth(u16, String),
    #[error("unexpected response: {0}")]
    Malformed(String),
    #[error("unexpected response: {0}")]
    Page(#[source] AdapterError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error("cursor store: {0}")]
    Cursor(#[from] sled::Error),
    #[error("shutting down")]
    Shutdown,
}

/// The persisted `since_id` of one account.
#[derive(Clone)]
pub struct Cursor {
    tree: sled::Tree,
    key: Vec<u8>,
}

impl Cursor {
    pub const TREE: &'static str = "social.x";

    pub fn open(db: &sled::Db, user_id: &str) -> Result<Cursor, sled::Error> {
        Ok(Cursor {
            tree: db.open_tree(Self::TREE)?,
            key: format!("since_id|{user_id}").into_bytes(),
        })
    }

    pub fn get(&self) -> Result<Option<String>, sled::Error> {
        Ok(self
            .tree
            .get(&self.key)?
            .and_then(|v| String::from_utf8(v.to_vec()).ok()))
    }

    /// Written, not yet flushed: the caller flushes with the intake store.
    pub fn set(&self, id: &str) -> Result<(), sled::Error> {
        self.tree.insert(&self.key, id.as_bytes()).map(|_| ())
    }
}

/// What one poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollStats {
    pub pages: u32,
    pub accepted: u32,
    pub duplicates: u32,
    pub skipped: u32,
    pub cursor: Option<String>,
}

pub struct XPoller {
    http: reqwest::Client,
    url: String,
    bearer: Secret,
    account: XAccount,
    poll: XPollConfig,
    intake: Arc<Intake>,
    cursor: Cursor,
    /// No request before this instant (rate limit exhausted or 429).
    not_before: Option<Instant>,
}

fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Time until the epoch second in `x-rate-limit-reset`, bounded.
fn until_reset(headers: &HeaderMap) -> Option<Duration> {
    let reset = header_u64(headers, "x-rate-limit-reset")? as f64;
    let wait = (reset - now_epoch()).max(0.0);
    Some(Duration::from_secs_f64(wait.min(MAX_RATE_WAIT.as_secs_f64())) + RESET_MARGIN)
}

fn backoff(failures: u32, max: Duration) -> Duration {
    let secs = 2u64.saturating_pow(failures.min(20)).min(max.as_secs().max(1));
    Duration::from_secs(secs)
}

/// Sleep unless shut down first; true when shut down.
async fn sleep_or_stop(d: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

impl XPoller {
    pub fn new(
        http: reqwest::Client,
        api_base: &str,
        bearer: Secret,
        account: XAccount,
        poll: XPollConfig,
        intake: Arc<Intake>,
    ) -> Result<XPoller, sled::Error> {
        let cursor = Cursor::open(intake.db(), &account.user_id)?;
        Ok(XPoller {
            http,
            url: format!(
                "{}/2/users/{}/mentions",
                api_base.trim_end_matches('/'),
                account.user_id
            ),
            bearer,
            account,
            poll,
            intake,
            cursor,
            not_before: None,
        })
    }

    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// Poll until shutdown.
    pub async fn run(mut self, shutdown: CancellationToken) {
        info!(user_id = %self.account.user_id, "X mentions poller started");
        let interval = Duration::from_secs(self.poll.interval_secs);
        let max_backoff = Duration::from_secs(self.poll.max_backoff_secs);
        let mut failures = 0u32;
        loop {
            let span = info_span!("x_poll", user_id = %self.account.user_id);
            let wait = match self.poll_once(&shutdown).instrument(span).await {
                Ok(stats) => {
                    failures = 0;
                    if stats.accepted + stats.duplicates + stats.skipped > 0 {
                        info!(
                            pages = stats.pages,
                            accepted = stats.accepted,
                            duplicates = stats.duplicates,
                            skipped = stats.skipped,
                            cursor = stats.cursor.as_deref().unwrap_or(""),
                            "X mentions polled"
                        );
                    }
                    interval
                }
                Err(PollError::Shutdown) => return,
                Err(PollError::RateLimited(wait)) => {
                    metrics::counter!("pintu_x_rate_limited_total").increment(1);
                    warn!(wait_ms = wait.as_millis() as u64, "X rate limit: waiting for the reset");
                    wait
                }
                Err(e) => {
                    failures += 1;
                    metrics::counter!("pintu_x_poll_errors_total").increment(1);
                    let wait = match &e {
                        // Credentials do not fix themselves quickly; do not hammer.
                        PollError::Auth(..) => max_backoff,
                        _ => backoff(failures, max_backoff),
                    };
                    if matches!(e, PollError::Auth(..) | PollError::Cursor(_)) {
                        error!(error = %e, wait_ms = wait.as_millis() as u64, "X mentions poll failed");
                    } else {
                        warn!(error = %e, wait_ms = wait.as_millis() as u64, "X mentions poll failed, retrying");
                    }
                    wait
                }
            };
            if sleep_or_stop(wait, &shutdown).await {
                return;
            }
        }
    }

    /// Read every page newer than the cursor, make it durable, move the cursor.
    pub async fn poll_once(&mut self, shutdown: &CancellationToken) -> Result<PollStats, PollError> {
        let since = self.cursor.get()?;
        let mut token: Option<String> = None;
        let mut newest: Option<String> = None;
        let mut stats = PollStats::default();
        loop {
            self.wait_gate(shutdown).await?;
            let body = self.fetch(since.as_deref(), token.as_deref()).await?;
            let page = parse_mentions_page(&body, &self.account).map_err(PollError::Page)?;
            stats.pages += 1;
            for s in &page.skipped {
                stats.skipped += 1;
                metrics::counter!("pintu_x_mentions_skipped_total").increment(1);
                debug!(tweet_id = %s.id, reason = %s.reason, "mention skipped");
            }
            // Accepted together so they share group-commit flushes.
            let intake = self.intake.clone();
            let results = join_all(page.messages.into_iter().map(|m| {
                let intake = intake.clone();
                let tweet_id = m.external_id.clone().unwrap_or_default();
                async move { (tweet_id, intake.accept(m).await) }
            }))
            .await;
            for (tweet_id, result) in results {
                let receipt = result?;
                if receipt.duplicate {
                    stats.duplicates += 1;
                } else {
                    stats.accepted += 1;
                }
                info!(
                    %tweet_id,
                    complaint_id = receipt.id.as_deref().unwrap_or(""),
                    tracking = receipt.tracking.as_deref().unwrap_or(""),
                    duplicate = receipt.duplicate,
                    "mention accepted"
                );
            }
            if let Some(n) = page.newest_id {
                if newest.as_deref().is_none_or(|c| id_newer(&n, c)) {
                    newest = Some(n);
                }
            }
            if since.is_none() && stats.pages >= self.poll.backfill_pages {
                break;
            }
            match page.next_token {
                None => break,
                Some(t) if token.as_deref() == Some(t.as_str()) => {
                    return Err(PollError::Malformed("next_token repeats".into()))
                }
                Some(_) if stats.pages >= MAX_PAGES => {
                    return Err(PollError::Malformed(format!("more than {MAX_PAGES} pages")))
                }
                Some(t) => token = Some(t),
            }
        }
        if let Some(n) = newest.filter(|n| since.as_deref().is_none_or(|s| id_newer(n, s))) {
            self.cursor.set(&n)?;
            self.intake.store().flush().await.map_err(IntakeError::from)?;
            stats.cursor = Some(n);
        } else {
            stats.cursor = since;
        }
        Ok(stats)
    }

    async fn wait_gate(&mut self, shutdown: &CancellationToken) -> Result<(), PollError> {
        if let Some(at) = self.not_before.take() {
            let now = Instant::now();
            if at > now && sleep_or_stop(at - now, shutdown).await {
                return Err(PollError::Shutdown);
            }
        }
        if shutdown.is_cancelled() {
            return Err(PollError::Shutdown);
        }
        Ok(())
    }

    async fn fetch(&mut self, since: Option<&str>, token: Option<&str>) -> Result<Vec<u8>, PollError> {
        let mut q: Vec<(&str, String)> = vec![
            ("max_results", self.poll.max_results.to_string()),
            ("tweet.fields", TWEET_FIELDS.into()),
            ("expansions", "author_id".into()),
            ("user.fields", "username,name".into()),
        ];
        if let Some(s) = since {
            q.push(("since_id", s.into()));
        }
        if let Some(t) = token {
            q.push(("pagination_token", t.into()));
        }
        let mut resp = self
            .http
            .get(&self.url)
            .query(&q)
            .bearer_auth(self.bearer.expose())
            .send()
            .await
            .map_err(|e| PollError::Http(e.without_url()))?;
        let headers = resp.headers().clone();
        if header_u64(&headers, "x-rate-limit-remaining") == Some(0) {
            if let Some(wait) = until_reset(&headers) {
                debug!(
                    wait_ms = wait.as_millis() as u64,
                    "X rate limit exhausted; next request after the reset"
                );
                self.not_before = Some(Instant::now() + wait);
            }
        }
        let status = resp.status().as_u16();
        if status == 429 {
            let wait = header_u64(&headers, "retry-after")
                .map(|s| Duration::from_secs(s.min(MAX_RATE_WAIT.as_secs())))
                .or_else(|| until_reset(&headers))
                .unwrap_or(Duration::from_secs(60));
            self.not_before = Some(Instant::now() + wait);
            return Err(PollError::RateLimited(wait));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| PollError::Http(e.without_url()))? {
            if body.len() + chunk.len() > MAX_PAGE_BYTES {
                return Err(PollError::Malformed(format!("page larger than {MAX_PAGE_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let short = || String::from_utf8_lossy(&body[..body.len().min(200)]).replace(['\n', '\r'], " ");
        match status {
            200 => Ok(body),
            401 | 403 => Err(PollError::Auth(status, short())),
            _ => Err(PollError::Status { status, body: short() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let max = Duration::from_secs(60);
        assert_eq!(backoff(1, max), Duration::from_secs(2));
        assert_eq!(backoff(3, max), Duration::from_secs(8));
        assert_eq!(backoff(50, max), max);
    }

    #[test]
    fn reset_header() {
        let mut h = HeaderMap::new();
        let reset = now_epoch() as u64 + 3;
        h.insert("x-rate-limit-reset", reset.to_string().parse().unwrap());
        let w = until_reset(&h).unwrap();
        assert!(w > Duration::from_secs(1) && w <= Duration::from_secs(4), "{w:?}");
        h.insert("x-rate-limit-reset", "99999999999".parse().unwrap());
        assert!(until_reset(&h).unwrap() <= MAX_RATE_WAIT + RESET_MARGIN);
        h.insert("x-rate-limit-reset", "soon".parse().unwrap());
        assert!(until_reset(&h).is_none());
    }
}
