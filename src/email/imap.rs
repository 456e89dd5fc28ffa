//! [`Mailbox`] over IMAP (the `imap` crate, blocking), with our own TLS.
//!
//! TLS is rustls 0.23 with the ring provider and the webpki roots (plus an
//! optional CA file): the same stack reqwest already brings, instead of the
//! `imap` crate's own TLS features (native-tls/OpenSSL, or a second rustls
//! version). STARTTLS is done by hand before the `imap` client sees the
//! stream, because the crate only offers it through its TLS features.
//!
//! Every socket has read and write timeouts, so a server that stops answering
//! is a connection error (reconnect with backoff), never a poller stuck forever.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use imap::extensions::idle::{SetReadTimeout, WaitOutcome};
use imap::types::UnsolicitedResponse;
use parking_lot::Mutex;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use super::config::{MailboxConfig, OnProcessed, TlsMode};
use super::mailbox::{uid_set, Cause, Fetched, FolderState, MailError, Mailbox};

/// rustls client configuration: webpki roots plus the PEM certificates of `ca_file`.
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, MailError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| ca_err(path, e))?;
        for cert in certs {
            let cert = cert.map_err(|e| ca_err(path, e))?;
            roots.add(cert).map_err(|e| ca_err(path, e))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| MailError::Setup {
            what: "TLS protocol versions".into(),
            source: e.into(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

enum Inner {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

/// A plain or TLS stream with our default read timeout.
pub struct ImapStream {
    inner: Inner,
    /// Applied whenever the imap crate asks for "no timeout" (after IDLE).
    command_timeout: Duration,
}

impl std::fmt::Debug for ImapStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.inner {
            Inner::Plain(_) => "ImapStream(plain)",
            Inner::Tls(_) => "ImapStream(tls)",
        })
    }
}

impl ImapStream {
    fn tcp(&self) -> &TcpStream {
        match &self.inner {
            Inner::Plain(s) => s,
            Inner::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for ImapStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(s) => s.read(buf),
            Inner::Tls(s) => s.read(buf),
        }
    }
}

impl Write for ImapStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(s) => s.write(buf),
            Inner::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Plain(s) => s.flush(),
            Inner::Tls(s) => s.flush(),
        }
    }
}

impl SetReadTimeout for ImapStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> imap::Result<()> {
        // "None" would mean blocking forever on a dead server: use ours instead.
        let t = timeout.unwrap_or(self.command_timeout);
        self.tcp().set_read_timeout(Some(t)).map_err(imap::Error::Io)
    }
}

fn conn_err(e: impl Into<Cause>) -> MailError {
    MailError::Connection(e.into())
}

fn ca_err(path: &Path, e: impl Into<Cause>) -> MailError {
    MailError::Setup {
        what: format!("ca_file {}", path.display()),
        source: e.into(),
    }
}

fn imap_err(e: imap::Error) -> MailError {
    match e {
        imap::Error::No(n) => MailError::Server(format!("NO {}", n.information)),
        imap::Error::Bad(b) => MailError::Server(format!("BAD {}", b.information)),
        other => MailError::Connection(other.into()),
    }
}

/// Read the greeting and upgrade a plain connection with STARTTLS.
fn starttls(tcp: &TcpStream) -> Result<(), MailError> {
    let mut reader = BufReader::new(tcp.try_clone().map_err(conn_err)?);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(conn_err)?;
    if !line.starts_with("* OK") {
        return Err(MailError::Connection(
            format!("unexpected greeting: {}", line.trim()).into(),
        ));
    }
    let mut w = tcp;
    w.write_all(b"P0 STARTTLS\r\n").map_err(conn_err)?;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(conn_err)? == 0 {
            return Err(MailError::Connection("connection closed during STARTTLS".into()));
        }
        if line.starts_with("P0 OK") {
            break;
        }
        if line.starts_with("P0 ") {
            return Err(MailError::Server(format!("STARTTLS refused: {}", line.trim())));
        }
        if line.len() > 8192 {
            return Err(MailError::Connection("oversized line during STARTTLS".into()));
        }
    }
    // Nothing may follow the tagged OK before the handshake; bytes the server
    // sent early (a STARTTLS injection attempt) would sit in `reader`.
    if !reader.buffer().is_empty() {
        return Err(MailError::Connection("data after STARTTLS response".into()));
    }
    Ok(())
}

/// Shared handle to the live socket, so shutdown can unblock a waiting read.
pub type SocketSlot = Arc<Mutex<Option<TcpStream>>>;

pub struct ImapMailbox {
    session: imap::Session<ImapStream>,
    cfg: Arc<MailboxConfig>,
    idle: bool,
    has_move: bool,
    has_uidplus: bool,
    keywords_ok: bool,
    quarantine_keyword: String,
    /// New mail announced during a command since the last pass.
    pending_news: bool,
}

impl ImapMailbox {
    /// Connect, log in, check capabilities and create our folders if missing.
    pub fn connect(cfg: Arc<MailboxConfig>, slot: &SocketSlot) -> Result<ImapMailbox, MailError> {
        let timeout = Duration::from_secs(cfg.command_timeout_secs);
        let addr = (cfg.host.as_str(), cfg.port)
            .to_socket_addrs()
            .map_err(conn_err)?
            .next()
            .ok_or_else(|| MailError::Connection(format!("{} does not resolve", cfg.host).into()))?;
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(cfg.connect_timeout_secs)).map_err(conn_err)?;
        tcp.set_read_timeout(Some(timeout)).map_err(conn_err)?;
        tcp.set_write_timeout(Some(timeout)).map_err(conn_err)?;
        let _ = tcp.set_nodelay(true);
        *slot.lock() = tcp.try_clone().ok();
        let greeting_read = cfg.tls == TlsMode::Starttls;
        let inner = match cfg.tls {
            TlsMode::None => Inner::Plain(tcp),
            TlsMode::Implicit | TlsMode::Starttls => {
                if cfg.tls == TlsMode::Starttls {
                    starttls(&tcp)?;
                }
                let tls = tls_config(cfg.ca_file.as_deref())?;
                let name = ServerName::try_from(cfg.host.clone()).map_err(|e| MailError::Setup {
                    what: format!("host {}", cfg.host),
                    source: e.into(),
                })?;
                let conn = rustls::ClientConnection::new(tls, name).map_err(conn_err)?;
                Inner::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)))
            }
        };
        let stream = ImapStream {
            inner,
            command_timeout: timeout,
        };
        let mut client = imap::Client::new(stream);
        if greeting_read {
            // STARTTLS consumed the greeting before TLS started.
            client.greeting_read = true;
        } else {
            client.read_greeting().map_err(imap_err)?;
        }
        let password = cfg.credentials().password().map_err(MailError::Config)?;
        let mut session = client
            .login(&cfg.username, password.expose())
            .map_err(|(e, _)| MailError::Auth(e.into()))?;
        let caps = session.capabilities().map_err(imap_err)?;
        let idle = cfg.idle && caps.has_str("IDLE") && cfg.folders.len() == 1;
        let has_move = caps.has_str("MOVE");
        let has_uidplus = caps.has_str("UIDPLUS");
        drop(caps);
        let existing: Vec<String> = session
            .list(None, Some("*"))
            .map_err(imap_err)?
            .iter()
            .map(|n| n.name().to_string())
            .collect();
        for folder in [&cfg.processed_folder, &cfg.quarantine_folder] {
            let needed = cfg.on_processed == OnProcessed::Move || folder == &cfg.quarantine_folder;
            if needed && !existing.iter().any(|e| e == folder) {
                // A concurrent creator (another node) makes this fail harmlessly.
                if let Err(e) = session.create(folder) {
                    tracing::debug!(folder = %folder, error = %e, "create folder");
                }
            }
        }
        Ok(ImapMailbox {
            session,
            quarantine_keyword: "$PintuQuarantine".into(),
            cfg,
            idle,
            has_move,
            has_uidplus,
            keywords_ok: true,
            pending_news: false,
        })
    }

    /// Empty the queue of unsolicited responses (the crate keeps every
    /// EXPUNGE a MOVE produces: never emptied, it grows for the life of the
    /// session). True when one of them announced new mail.
    fn drain_unsolicited(&mut self) -> bool {
        self.session
            .take_all_unsolicited()
            .any(|r| matches!(r, UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)))
    }

    fn move_to(&mut self, uids: &[u32], folder: &str, keyword: &str) -> Result<(), MailError> {
        let set = uid_set(uids);
        if self.has_move {
            return self.session.uid_mv(&set, folder).map_err(imap_err);
        }
        self.session.uid_copy(&set, folder).map_err(imap_err)?;
        let flags = if self.keywords_ok {
            format!("+FLAGS.SILENT (\\Deleted {keyword})")
        } else {
            "+FLAGS.SILENT (\\Deleted)".to_string()
        };
        self.session.uid_store(&set, flags).map_err(imap_err)?;
        if self.has_uidplus {
            self.session.uid_expunge(&set).map_err(imap_err)?;
        }
        // Without UIDPLUS we do not EXPUNGE: that would also remove messages a
        // person marked deleted. The keyword keeps ours out of the next search.
        Ok(())
    }
}

impl Mailbox for ImapMailbox {
    fn select(&mut self, folder: &str) -> Result<FolderState, MailError> {
        let m = self.session.select(folder).map_err(imap_err)?;
        self.drain_unsolicited();
        // Without \* in PERMANENTFLAGS our keywords do not stick: rely on UIDs
        // and Message-ID dedupe alone (still exactly-once, just more re-reads).
        self.keywords_ok = m.permanent_flags.is_empty()
            || m.permanent_flags
                .iter()
                .any(|f| matches!(f, imap::types::Flag::MayCreate));
        Ok(FolderState {
            uidvalidity: m
                .uid_validity
                .ok_or_else(|| MailError::Server("server did not report UIDVALIDITY".into()))?,
            uidnext: m.uid_next,
            exists: m.exists,
        })
    }

    fn search_new(&mut self, after_uid: u32) -> Result<Vec<u32>, MailError> {
        let mut q = format!("UID {}:*", after_uid.saturating_add(1));
        if self.keywords_ok {
            q.push_str(&format!(
                " UNKEYWORD {} UNKEYWORD {}",
                self.cfg.processed_keyword, self.quarantine_keyword
            ));
        }
        let found = self.session.uid_search(&q).map_err(imap_err)?;
        // `n:*` always matches the highest UID, even when it is below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > after_uid).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    fn sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u64)>, MailError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let fetches = self
            .session
            .uid_fetch(uid_set(uids), "(UID RFC822.SIZE)")
            .map_err(imap_err)?;
        Ok(fetches
            .iter()
            .filter_map(|f| Some((f.uid?, f.size.unwrap_or(0) as u64)))
            .collect())
    }

    fn fetch(&mut self, uids: &[u32]) -> Result<Vec<Fetched>, MailError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let fetches = self
            .session
            .uid_fetch(uid_set(uids), "(UID BODY.PEEK[])")
            .map_err(imap_err)?;
        Ok(fetches
            .iter()
            .filter_map(|f| {
                Some(Fetched {
                    uid: f.uid?,
                    raw: f.body()?.to_vec(),
                })
            })
            .collect())
    }

    fn mark_processed(&mut self, uids: &[u32]) -> Result<(), MailError> {
        if uids.is_empty() {
            return Ok(());
        }
        let kw = self.cfg.processed_keyword.clone();
        match self.cfg.on_processed {
            OnProcessed::Move => {
                let folder = self.cfg.processed_folder.clone();
                self.move_to(uids, &folder, &kw)?;
                self.pending_news |= self.drain_unsolicited();
                Ok(())
            }
            OnProcessed::Flag => {
                let mut flags = Vec::new();
                if self.keywords_ok {
                    flags.push(kw);
                }
                if self.cfg.mark_seen {
                    flags.push("\\Seen".into());
                }
                if flags.is_empty() {
                    return Ok(());
                }
                self.session
                    .uid_store(uid_set(uids), format!("+FLAGS.SILENT ({})", flags.join(" ")))
                    .map(|_| ())
                    .map_err(imap_err)
            }
        }
    }

    fn quarantine(&mut self, uids: &[u32]) -> Result<(), MailError> {
        if uids.is_empty() {
            return Ok(());
        }
        let folder = self.cfg.quarantine_folder.clone();
        let kw = self.quarantine_keyword.clone();
        self.move_to(uids, &folder, &kw)?;
        self.pending_news |= self.drain_unsolicited();
        Ok(())
    }

    fn can_idle(&self) -> bool {
        self.idle
    }

    fn wait(&mut self, timeout: Duration) -> Result<bool, MailError> {
        // Mail that arrived while we were fetching or moving was announced
        // then (or is by this NOOP): go round again instead of idling on it.
        self.session.noop().map_err(imap_err)?;
        let news = self.drain_unsolicited();
        if std::mem::take(&mut self.pending_news) || news {
            return Ok(true);
        }
        let outcome = self
            .session
            .idle()
            .timeout(timeout)
            .keepalive(false)
            .wait_while(|r| !matches!(r, UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)))
            .map_err(imap_err)?;
        Ok(outcome == WaitOutcome::MailboxChanged)
    }

    fn logout(&mut self) {
        let _ = self.session.logout();
    }
}

/// Unblock a read on the live socket (shutdown while in IDLE or a long fetch).
pub fn interrupt(slot: &SocketSlot) {
    if let Some(s) = slot.lock().take() {
        let _ = s.shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn an_unreadable_ca_file_keeps_the_error_that_refused_it() {
        let dir = tempfile::tempdir().unwrap();
        let e = tls_config(Some(&dir.path().join("missing.pem"))).unwrap_err();
        assert!(
            matches!(&e, MailError::Setup { what, .. } if what.starts_with("ca_file ")),
            "{e}"
        );
        let pem = e
            .source()
            .and_then(|s| s.downcast_ref::<rustls::pki_types::pem::Error>());
        assert!(pem.is_some(), "{e:?}");
    }

    #[test]
    fn a_connection_error_keeps_the_io_error() {
        let e = conn_err(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(matches!(e, MailError::Connection(_)));
        let io = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(io.map(io::Error::kind), Some(io::ErrorKind::ConnectionRefused));
    }
}
