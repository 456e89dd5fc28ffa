//! Test environment for the e-mail channel: a real Dovecot (IMAP), a real
//! aiosmtpd sink (SMTP) and the shared RabbitMQ, each test on its own ports,
//! mailbox user, data directory and broker prefix, so tests run in parallel.
//! Built on `crate::support` (the test binary declares `mod support;`).
//!
//! The tests that drive the pieces one by one use [`Broker::relay`] to
//! publish the outbox the way the relay does (confirmed, then removed) and
//! [`Broker::send_replies`] to play the reply sender (consume
//! `<prefix>.outbound`, call the transport, ack).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicGetOptions};
use pintu::broker::Outgoing;
use pintu::broker::{ConfirmedPublisher, Names, Topology};
use pintu::config::Config;
use pintu::intake::Intake;
use pintu::replies::{OutboundReply, ReplyTransport, Templates};
use pintu::store::dedupe::SenderHasher;
use pintu::store::outbox::{Envelope, Target};
use serde_json::Value;

use crate::support::{cleanup, config_file_head, free_port, open_store, repo, unique_prefix};

pub fn rand_hex(n: usize) -> String {
    (0..n).map(|_| format!("{:x}", rand::random::<u8>() & 15)).collect()
}

/// `tests/peers/<script> <action> <dir>`, for more arguments.
fn peer(script: &str, action: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(repo().join("tests/peers").join(script));
    cmd.arg(action).arg(dir);
    cmd
}

/// Run a peer's start script; panics with its stderr when it failed.
fn start_peer(script: &str, cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Dovecot {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub tls_port: u16,
}

impl Dovecot {
    pub fn start(users: &[(&str, &str)], tls: bool) -> Dovecot {
        let dir = tempfile::Builder::new().prefix("pintu-dovecot").tempdir().unwrap();
        let port = free_port();
        let tls_port = if tls { free_port() } else { 0 };
        let mut cmd = peer("dovecot.sh", "start", dir.path());
        cmd.arg(port.to_string()).arg(tls_port.to_string());
        for (u, p) in users {
            cmd.arg(format!("{u}:{p}"));
        }
        start_peer("dovecot.sh", &mut cmd);
        Dovecot { dir, port, tls_port }
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user).join("Maildir")
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = peer("dovecot.sh", "stop", self.dir.path()).output();
    }
}

pub struct SmtpSink {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let dir = tempfile::Builder::new().prefix("pintu-smtp").tempdir().unwrap();
        let port = free_port();
        start_peer(
            "smtp-sink.sh",
            peer("smtp-sink.sh", "start", dir.path()).arg(port.to_string()),
        );
        SmtpSink { dir, port }
    }

    /// Every message received so far, raw.
    pub fn messages(&self) -> Vec<String> {
        let new = self.dir.path().join("mbox/new");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).to_string())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = peer("smtp-sink.sh", "stop", self.dir.path()).output();
    }
}

/// A header of a raw message (first occurrence, unfolded).
pub fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\n\n").next().unwrap_or(raw).replace("\r\n", "\n");
    let mut out: Option<String> = None;
    for line in head.lines() {
        if let Some(v) = &mut out {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            return out;
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.eq_ignore_ascii_case(name) {
                out = Some(v.trim().to_string());
            }
        }
    }
    out
}

/// A plain IMAP client session for putting mail in and looking at folders.
pub fn imap_session(port: u16, user: &str, pass: &str) -> imap::Session<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut c = imap::Client::new(tcp);
    c.read_greeting().unwrap();
    c.login(user, pass).map_err(|(e, _)| e).unwrap()
}

pub fn append(port: u16, user: &str, pass: &str, folder: &str, msgs: &[Vec<u8>]) {
    let mut s = imap_session(port, user, pass);
    for m in msgs {
        s.append(folder, m).finish().unwrap();
    }
    let _ = s.logout();
}

/// Messages in a folder (0 when it does not exist).
pub fn count(port: u16, user: &str, pass: &str, folder: &str) -> u32 {
    let mut s = imap_session(port, user, pass);
    let n = s.examine(folder).map(|m| m.exists).unwrap_or(0);
    let _ = s.logout();
    n
}

/// A simple complaint e-mail.
pub fn mail(from: &str, subject: &str, body: &str, msg_id: &str, extra_headers: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: pengaduan@lapor.go.id\r\nSubject: {subject}\r\nDate: Mon, 3 Mar 2025 09:00:00 +0700\r\n\
         Message-ID: <{msg_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n{extra_headers}\r\n{body}\r\n"
    )
    .into_bytes()
}

pub struct Env {
    pub tmp: tempfile::TempDir,
    pub dovecot: Dovecot,
    pub user: String,
    pub pass: String,
    pub prefix: String,
}

pub struct MailboxOpts {
    pub tls: &'static str,
    pub port: u16,
    pub extra: String,
    pub smtp: Option<u16>,
    pub email_extra: String,
}

impl Env {
    pub fn new(tls: bool) -> Env {
        let user = format!("u{}@example.test", rand_hex(8));
        let pass = rand_hex(16);
        let dovecot = Dovecot::start(&[(&user, &pass)], tls);
        Env {
            tmp: tempfile::Builder::new().prefix("pintu-email").tempdir().unwrap(),
            dovecot,
            user,
            pass,
            prefix: unique_prefix(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    /// Write a config file and load it the way `pintu` does.
    pub fn config(&self, o: &MailboxOpts) -> Config {
        let smtp = match o.smtp {
            Some(p) => format!(
                "[channels.email.smtp]\nhost = \"127.0.0.1\"\nport = {p}\ntls = \"none\"\n\
                 from = \"LAPOR! <pengaduan@lapor.go.id>\"\ndaily_limit_per_sender = 2\n"
            ),
            None => String::new(),
        };
        let toml = format!(
            r#"{head}
[replies]
templates = "{templates}"
[channels.email]
enabled = true
ack_domain = "lapor.go.id"
loop_id = "pintu@lapor.go.id"
{email_extra}
[[channels.email.mailboxes]]
name = "pengaduan"
address = "pengaduan@lapor.go.id"
host = "127.0.0.1"
port = {port}
tls = "{tls}"
username = "{user}"
password = "{pass}"
{extra}
{smtp}"#,
            head = config_file_head(&self.data_dir(), &self.prefix),
            templates = repo().join("config/replies.toml").display(),
            email_extra = o.email_extra,
            port = o.port,
            tls = o.tls,
            user = self.user,
            pass = self.pass,
            extra = o.extra,
        );
        let path = self.tmp.path().join("pintu.toml");
        std::fs::write(&path, toml).unwrap();
        Config::load(&path).unwrap()
    }

    pub fn append(&self, folder: &str, msgs: &[Vec<u8>]) {
        append(self.dovecot.port, &self.user, &self.pass, folder, msgs)
    }

    pub fn count(&self, folder: &str) -> u32 {
        count(self.dovecot.port, &self.user, &self.pass, folder)
    }
}

pub fn open_intake(cfg: &Config) -> Arc<Intake> {
    let dir = cfg.gateway_data_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let (store, _closed) = open_store(&dir, 16 << 20);
    let hasher = SenderHasher::load_or_create(None, &dir).unwrap();
    let templates = Templates::load(&repo().join("config/replies.toml")).unwrap();
    // The test relay below scans the outbox itself; the feed is not needed.
    let (feed, _rx) = pintu::relay::outbox_feed();
    Arc::new(
        Intake::new(
            store,
            hasher,
            Some(Arc::new(templates)),
            Duration::from_secs(86_400),
            feed,
        )
        .with_reply_providers(["imap".to_string()]),
    )
}

pub struct Broker {
    pub names: Names,
    pub conn: lapin::Connection,
    pub channel: lapin::Channel,
    pub publisher: ConfirmedPublisher,
    /// Whose objects [`Broker::teardown`] deletes.
    cfg: Config,
}

impl Broker {
    pub async fn new(cfg: &Config) -> Broker {
        let conn = pintu::broker::connect(&cfg.amqp, "pintu-email-test").await.unwrap();
        let channel = conn.create_channel().await.unwrap();
        let topology = Topology::new(&cfg.amqp);
        topology.declare(&channel).await.unwrap();
        let pch = conn.create_channel().await.unwrap();
        Broker {
            names: topology.names,
            publisher: ConfirmedPublisher::new(pch).await.unwrap(),
            conn,
            channel,
            cfg: cfg.clone(),
        }
    }

    /// Publish and remove every outbox entry (what the relay does).
    pub async fn relay(&self, intake: &Intake) -> usize {
        let outbox = &intake.store().outbox;
        let mut n = 0;
        for entry in outbox.iter() {
            let (k, v) = entry.unwrap();
            let env = Envelope::decode(&v).unwrap();
            let exchange = match env.target {
                Target::Intake => self.names.intake_exchange(),
                Target::Outbound => self.names.outbound_exchange(),
            };
            self.publisher
                .publish(&Outgoing {
                    exchange: &exchange,
                    routing_key: &env.routing_key,
                    message_id: &env.message_id,
                    body: &env.body,
                    headers: vec![],
                })
                .await
                .unwrap();
            outbox.remove(k).unwrap();
            n += 1;
        }
        n
    }

    /// Drain a queue, acking everything; bodies as JSON.
    pub async fn drain(&self, queue: &str) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(m) = self
            .channel
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .unwrap()
        {
            out.push(serde_json::from_slice(&m.delivery.data).unwrap());
            m.delivery.ack(BasicAckOptions::default()).await.unwrap();
        }
        out
    }

    /// Consume replies and hand them to the transport (what the reply sender does).
    pub async fn send_replies(&self, transport: &dyn ReplyTransport) -> Vec<OutboundReply> {
        let mut sent = Vec::new();
        for v in self.drain(&self.names.outbound_queue()).await {
            let reply: OutboundReply = serde_json::from_value(v).unwrap();
            assert_eq!(reply.provider, transport.provider());
            transport.send(&reply).await.unwrap();
            sent.push(reply);
        }
        sent
    }

    /// Delete the prefix's broker objects (those of a gateway too).
    pub async fn teardown(self) {
        let _ = self.conn.close(200, "bye".into()).await;
        cleanup(&self.cfg).await;
    }
}

/// Complaints by external id.
pub fn by_external_id(complaints: &[Value]) -> BTreeMap<String, Value> {
    complaints
        .iter()
        .map(|c| (c["external_id"].as_str().unwrap_or("").to_string(), c.clone()))
        .collect()
}

pub fn path_exists(p: &Path) -> bool {
    p.exists()
}
