//! `[channels.email]`: mailboxes read over IMAP and the SMTP relay for replies.
//!
//! ```toml
//! [channels.email]
//! enabled = true
//! ack_domain = "lapor.go.id"          # Message-IDs of acknowledgements
//! loop_id = "pintu@lapor.go.id"       # X-Loop of our replies
//!
//! [[channels.email.mailboxes]]
//! name = "pengaduan"
//! address = "pengaduan@lapor.go.id"
//! host = "imap.lapor.go.id"
//! port = 993
//! tls = "implicit"                    # implicit | starttls | none (loopback only)
//! username = "pengaduan"
//! password_file = "/run/secrets/imap-pengaduan"
//! folders = ["INBOX"]
//!
//! [channels.email.smtp]
//! host = "smtp.lapor.go.id"
//! port = 587
//! tls = "starttls"
//! from = "LAPOR! <pengaduan@lapor.go.id>"
//! ```
//!
//! Passwords come from a file (`password_file`) or an environment variable
//! (`password_env`); an inline `password` is accepted for tests. None of them
//! is ever printed: `Debug` of these structs redacts secrets.

use std::path::PathBuf;

use serde::Deserialize;

pub use super::retention::StorageConfig;
use crate::section::ConfigError;

/// The one credential type of the whole config (redacted in `Debug`).
pub use pintu_channels::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Implicit,
    /// Plain connection upgraded with STARTTLS (IMAP 143, submission 587).
    Starttls,
    /// No encryption: only for loopback test servers unless `allow_insecure`.
    None,
}

/// What happens to a message once its complaint is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnProcessed {
    /// Move to `processed_folder` (keeps the inbox small; needs MOVE or UIDPLUS for best results).
    #[default]
    Move,
    /// Leave in place and set `processed_keyword` (plus `\Seen` if `mark_seen`).
    Flag,
}

/// Login of a mailbox or relay (not deserialised directly: serde cannot
/// combine `flatten` with `deny_unknown_fields`, so the fields sit in the
/// server tables and are gathered here).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Option<Secret>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
}

impl Credentials {
    /// The password from whichever source is configured (file, env, inline),
    /// as a [`Secret`] like every other credential. `password_file` and
    /// `password_env` are the older spellings of `password = { file = … }` /
    /// `{ env = … }`, read when a mailbox connects (a rotated file is picked up
    /// on reconnect); a file keeps its inner whitespace, only the line end
    /// is dropped.
    pub fn password(&self) -> Result<Secret, String> {
        if let Some(p) = &self.password_file {
            let s = std::fs::read_to_string(p).map_err(|e| format!("password_file {}: {e}", p.display()))?;
            return Ok(Secret::new(s.trim_end_matches(['\r', '\n'])));
        }
        if let Some(var) = &self.password_env {
            return std::env::var(var)
                .map(Secret::new)
                .map_err(|_| format!("environment variable {var} is not set"));
        }
        match &self.password {
            Some(s) => Ok(s.clone()),
            None => Err("no password, password_env or password_file".into()),
        }
    }

    pub(super) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let sources = [
            self.password.is_some(),
            self.password_env.is_some(),
            self.password_file.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(ConfigError::invalid(
                key,
                "set exactly one of password, password_env, password_file",
            ));
        }
        if self.username.is_empty() {
            return Err(ConfigError::invalid(key, "username is empty"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    /// Short stable name: part of progress keys, metric labels and logs.
    pub name: String,
    /// The address citizens write to (`Inbound.recipient`).
    pub address: String,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Extra trusted CA (PEM), e.g. an internal CA or a test's self-signed certificate.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Allow `tls = "none"` to a non-loopback host (never in production).
    #[serde(default)]
    pub allow_insecure: bool,
    pub username: String,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default = "default_folders")]
    pub folders: Vec<String>,
    #[serde(default)]
    pub on_processed: OnProcessed,
    #[serde(default = "default_processed_folder")]
    pub processed_folder: String,
    /// Keyword set on processed mail (also with `move`, as a fallback marker).
    #[serde(default = "default_processed_keyword")]
    pub processed_keyword: String,
    /// With `on_processed = "flag"`, also set `\Seen`.
    #[serde(default)]
    pub mark_seen: bool,
    /// Where mail that cannot become a complaint goes (reason recorded and counted).
    #[serde(default = "default_quarantine_folder")]
    pub quarantine_folder: String,
    #[serde(default = "default_poll_interval")]
    pub poll_interval_secs: u64,
    /// Use IMAP IDLE when the server offers it and one folder is read.
    #[serde(default = "default_true")]
    pub idle: bool,
    /// Re-issue IDLE after this long (RFC 2177: below 29 minutes), with a
    /// full pass in between. Short on purpose: a server can fail to announce
    /// mail (seen with Dovecot's maildir when a message lands in the same
    /// second as the session's sync: neither NOOP nor IDLE ever reported
    /// it), and this bounds how long such a message waits.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Messages fetched and made durable together (they share one flush).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Most bytes (summed `RFC822.SIZE`) fetched in one command; a message
    /// this large or larger is fetched alone. Bounds the memory of a batch.
    #[serde(default = "default_batch_bytes")]
    pub batch_bytes: u64,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Longest wait for a server answer outside IDLE.
    #[serde(default = "default_command_timeout")]
    pub command_timeout_secs: u64,
    /// Largest message fetched; bigger ones are quarantined unread.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u64,
}

impl MailboxConfig {
    /// A mailbox with every optional key at its default (tests, tools).
    pub fn new(name: &str, address: &str, host: &str, port: u16, tls: TlsMode, username: &str) -> MailboxConfig {
        MailboxConfig {
            name: name.into(),
            address: address.into(),
            host: host.into(),
            port,
            tls,
            ca_file: None,
            allow_insecure: false,
            username: username.into(),
            password: None,
            password_env: None,
            password_file: None,
            folders: default_folders(),
            on_processed: OnProcessed::default(),
            processed_folder: default_processed_folder(),
            processed_keyword: default_processed_keyword(),
            mark_seen: false,
            quarantine_folder: default_quarantine_folder(),
            poll_interval_secs: default_poll_interval(),
            idle: true,
            idle_timeout_secs: default_idle_timeout(),
            batch_size: default_batch_size(),
            batch_bytes: default_batch_bytes(),
            connect_timeout_secs: default_connect_timeout(),
            command_timeout_secs: default_command_timeout(),
            max_message_bytes: default_max_message_bytes(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub allow_insecure: bool,
    /// Omit for relays that accept mail from this host without login.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// `From:` of acknowledgements, e.g. `LAPOR! <pengaduan@lapor.go.id>`.
    pub from: String,
    /// Optional `Reply-To:` (a monitored mailbox, so answers come back to Pintu).
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Name announced in EHLO; defaults to the domain of `from`.
    #[serde(default)]
    pub hello_name: Option<String>,
    #[serde(default = "default_smtp_timeout")]
    pub timeout_secs: u64,
    /// Most acknowledgements one sender gets per day; more are suppressed
    /// (`suppress_reply = "rate_limited"`), so a loop we failed to detect or a
    /// flood stays bounded.
    #[serde(default = "default_daily_limit")]
    pub daily_limit_per_sender: u32,
}

/// Limits applied to every message (see `pintu_channels::email::Limits`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailLimits {
    #[serde(default = "default_max_header")]
    pub max_header_bytes: usize,
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    #[serde(default = "default_max_parts")]
    pub max_parts: usize,
    #[serde(default = "default_max_attachments")]
    pub max_attachments: usize,
    #[serde(default = "default_max_attachment_bytes")]
    pub max_attachment_bytes: usize,
    #[serde(default = "default_max_total_attachment_bytes")]
    pub max_total_attachment_bytes: usize,
    /// Text converted and quote-stripped per part and in total (HTML source: 4×).
    #[serde(default = "default_max_text_bytes")]
    pub max_text_bytes: usize,
    /// Longest one message may take to parse; it is quarantined (`parse_timeout`) after that.
    #[serde(default = "default_parse_timeout_ms")]
    pub parse_timeout_ms: u64,
}

impl Default for EmailLimits {
    fn default() -> Self {
        EmailLimits {
            max_header_bytes: default_max_header(),
            max_depth: default_max_depth(),
            max_parts: default_max_parts(),
            max_attachments: default_max_attachments(),
            max_attachment_bytes: default_max_attachment_bytes(),
            max_total_attachment_bytes: default_max_total_attachment_bytes(),
            max_text_bytes: default_max_text_bytes(),
            parse_timeout_ms: default_parse_timeout_ms(),
        }
    }
}

impl EmailLimits {
    pub fn to_parser(&self) -> pintu_channels::email::Limits {
        pintu_channels::email::Limits {
            max_header_bytes: self.max_header_bytes,
            max_depth: self.max_depth,
            max_parts: self.max_parts,
            max_attachments: self.max_attachments,
            max_attachment_bytes: self.max_attachment_bytes,
            max_total_attachment_bytes: self.max_total_attachment_bytes,
            max_text_bytes: self.max_text_bytes,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub mailboxes: Vec<MailboxConfig>,
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// Domain of acknowledgement Message-IDs; defaults to the domain of `smtp.from`.
    #[serde(default)]
    pub ack_domain: Option<String>,
    /// `X-Loop` value of our replies; defaults to the address of `smtp.from`.
    #[serde(default)]
    pub loop_id: Option<String>,
    #[serde(default)]
    pub limits: EmailLimits,
    /// How long a Message-ID stays remembered after ingest, so a UIDVALIDITY
    /// reset or a restored mailbox does not ingest old mail again (also how
    /// long quarantine records are kept).
    #[serde(default = "default_seen_retention_days")]
    pub seen_retention_days: u64,
    /// Retention and quota of raw copies and attachments.
    #[serde(default)]
    pub storage: StorageConfig,
}

/// The same values as an empty `[channels.email]` section (a derived Default
/// would set the retention to 0 days, which validation rightly refuses).
impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            enabled: false,
            mailboxes: Vec::new(),
            smtp: None,
            ack_domain: None,
            loop_id: None,
            limits: EmailLimits::default(),
            seen_retention_days: default_seen_retention_days(),
            storage: StorageConfig::default(),
        }
    }
}

impl MailboxConfig {
    pub fn credentials(&self) -> Credentials {
        Credentials {
            username: self.username.clone(),
            password: self.password.clone(),
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
        }
    }
}

impl SmtpConfig {
    /// `None` when the relay needs no login.
    pub fn credentials(&self) -> Option<Credentials> {
        self.username.as_ref().map(|u| Credentials {
            username: u.clone(),
            password: self.password.clone(),
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
        })
    }
}

fn default_true() -> bool {
    true
}
fn default_folders() -> Vec<String> {
    vec!["INBOX".into()]
}
fn default_processed_folder() -> String {
    "Pintu-Processed".into()
}
fn default_processed_keyword() -> String {
    "$PintuIngested".into()
}
fn default_quarantine_folder() -> String {
    "Pintu-Quarantine".into()
}
fn default_poll_interval() -> u64 {
    60
}
fn default_idle_timeout() -> u64 {
    60
}
fn default_batch_size() -> usize {
    100
}
fn default_connect_timeout() -> u64 {
    30
}
fn default_command_timeout() -> u64 {
    120
}
fn default_batch_bytes() -> u64 {
    8 * 1024 * 1024
}
/// 25 MiB: what the large providers let a user send; 40 MiB fetched in
/// batches was how a handful of mails took the gateway's memory.
fn default_max_message_bytes() -> u64 {
    25 * 1024 * 1024
}
fn default_parse_timeout_ms() -> u64 {
    10_000
}
fn default_smtp_timeout() -> u64 {
    30
}
fn default_daily_limit() -> u32 {
    5
}
fn default_max_header() -> usize {
    256 * 1024
}
fn default_max_depth() -> usize {
    12
}
fn default_max_parts() -> usize {
    256
}
fn default_max_attachments() -> usize {
    20
}
fn default_max_attachment_bytes() -> usize {
    15 * 1024 * 1024
}
fn default_max_total_attachment_bytes() -> usize {
    30 * 1024 * 1024
}
fn default_max_text_bytes() -> usize {
    256 * 1024
}
fn default_seen_retention_days() -> u64 {
    90
}

/// The address part of `Name <addr>` or a bare address.
pub fn address_of(mailbox: &str) -> &str {
    match (mailbox.rfind('<'), mailbox.rfind('>')) {
        (Some(a), Some(b)) if a < b => mailbox[a + 1..b].trim(),
        _ => mailbox.trim(),
    }
}

impl EmailConfig {
    /// `ack_domain`, or the domain of `smtp.from`.
    pub fn effective_ack_domain(&self) -> Option<String> {
        self.ack_domain.clone().or_else(|| {
            self.smtp
                .as_ref()
                .and_then(|s| address_of(&s.from).rsplit_once('@').map(|(_, d)| d.to_lowercase()))
        })
    }

    /// `loop_id`, or the address of `smtp.from`.
    pub fn effective_loop_id(&self) -> Option<String> {
        self.loop_id
            .clone()
            .or_else(|| self.smtp.as_ref().map(|s| address_of(&s.from).to_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c: EmailConfig = toml::from_str(
            r#"
            enabled = true
            [[mailboxes]]
            name = "pengaduan"
            address = "pengaduan@lapor.go.id"
            host = "127.0.0.1"
            port = 1143
            tls = "none"
            username = "u"
            password = "hunter2-very-secret"
            [smtp]
            host = "127.0.0.1"
            port = 2525
            tls = "none"
            from = "LAPOR! <pengaduan@lapor.go.id>"
            username = "s"
            password = "smtp-secret-too"
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("smtp-secret"), "{dbg}");
        assert!(dbg.contains("Secret(***)"));
        assert_eq!(c.effective_ack_domain().as_deref(), Some("lapor.go.id"));
        assert_eq!(c.effective_loop_id().as_deref(), Some("pengaduan@lapor.go.id"));
        assert_eq!(
            c.mailboxes[0].credentials().password().unwrap().expose(),
            "hunter2-very-secret"
        );
    }

    #[test]
    fn plaintext_to_remote_host_is_refused() {
        let c: EmailConfig = toml::from_str(
            r#"
            [[mailboxes]]
            name = "x"
            address = "x@lapor.go.id"
            host = "imap.lapor.go.id"
            port = 143
            tls = "none"
            username = "u"
            password_env = "X"
            "#,
        )
        .unwrap();
        assert!(c.validate().is_err());
    }
}
