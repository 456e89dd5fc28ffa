//! The few mailbox operations the poller needs, as a trait.
//!
//! The poller's exactly-once logic (progress, dedupe, order of "durable" and
//! "marked") is written against this trait, so it can be exercised with an
//! in-memory mailbox as well as with [`super::imap::ImapMailbox`]. Calls are
//! blocking: the poller runs on its own thread, never on the async runtime.

use std::time::Duration;

use thiserror::Error;

/// What a [`MailError`] wraps: the error of the layer below (I/O, TLS,
/// IMAP), kept as the source, or a message of our own where there is none
/// (`"…".into()`).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Error)]
pub enum MailError {
    /// Network, TLS, timeout: reconnect with backoff.
    #[error("connection: {0}")]
    Connection(#[source] Cause),
    /// The server refused a command (NO/BAD, its own words); reconnecting may
    /// or may not help.
    #[error("server: {0}")]
    Server(String),
    /// Login refused: retry slowly, an operator must fix the credentials.
    #[error("authentication failed: {0}")]
    Auth(#[source] Cause),
    /// Configuration problem found at connect time (password source).
    #[error("configuration: {0}")]
    Config(String),
    /// Configuration that a library refused at connect time (bad CA file,
    /// host name); `what` names the setting.
    #[error("configuration: {what}: {source}")]
    Setup {
        what: String,
        #[source]
        source: Cause,
    },
}

/// A folder after SELECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderState {
    pub uidvalidity: u32,
    pub uidnext: Option<u32>,
    pub exists: u32,
}

/// One fetched message.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub uid: u32,
    pub raw: Vec<u8>,
}

pub trait Mailbox: Send {
    fn select(&mut self, folder: &str) -> Result<FolderState, MailError>;
    /// UIDs above `after_uid` not yet marked processed or quarantined, ascending.
    fn search_new(&mut self, after_uid: u32) -> Result<Vec<u32>, MailError>;
    /// (uid, size in bytes) of the given messages; missing ones were expunged meanwhile.
    fn sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u64)>, MailError>;
    /// Full content of the given messages, without setting `\Seen`.
    fn fetch(&mut self, uids: &[u32]) -> Result<Vec<Fetched>, MailError>;
    /// Move or flag messages whose complaints are durable.
    fn mark_processed(&mut self, uids: &[u32]) -> Result<(), MailError>;
    /// Move messages that cannot become complaints to the quarantine folder.
    fn quarantine(&mut self, uids: &[u32]) -> Result<(), MailError>;
    /// Whether [`Mailbox::wait`] can block on server push (IDLE).
    fn can_idle(&self) -> bool;
    /// Block until the selected folder changes or `timeout` passes; true on change.
    fn wait(&mut self, timeout: Duration) -> Result<bool, MailError>;
    /// End the session politely (errors ignored: we are leaving anyway).
    fn logout(&mut self);
}

/// `1,3,5:9` from sorted or unsorted UIDs (IMAP sequence-set syntax).
pub fn uid_set(uids: &[u32]) -> String {
    let mut v: Vec<u32> = uids.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::uid_set;

    #[test]
    fn compresses_ranges() {
        assert_eq!(uid_set(&[5, 1, 2, 3, 9, 7, 8]), "1:3,5,7:9");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[]), "");
    }
}
