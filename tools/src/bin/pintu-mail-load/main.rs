//! Load test of the e-mail channel, in two modes.
//!
//! Throughput: APPEND N messages to a real Dovecot mailbox, then ingest them
//! all into durable intake (in this process) and report messages/s.
//!
//! ```text
//! cargo run --release -p pintu-tools --bin pintu-mail-load -- [--messages 10000] [--batch 200] [--append-connections 4]
//! ```
//!
//! Memory (`--large N`): APPEND N large mails (`--size-mb`, default 25 MB = 25,000,000 bytes: a
//! text part and photo-sized attachments of up to 8 MiB each), then start the
//! real gateway (`pintu serve`, the binary next to this one or `--gateway`)
//! on that mailbox and report its resident memory while it ingests them —
//! sampled every 100 ms, and the kernel's peak (`VmHWM`) — and how long it
//! took. `--batch-bytes` and `--max-message-mb` set the mailbox's
//! `batch_bytes` and `max_message_bytes` (defaults: the config defaults).
//!
//! ```text
//! cargo build --release
//! ./target/release/pintu-mail-load --large 20 --size-mb 25
//! ./target/release/pintu-mail-load --large 20 --size-mb 25 --batch-bytes 268435456 --max-message-mb 40
//! ```
//!
//! Starts its own Dovecot with `tests/peers/dovecot.sh` on a free loopback
//! port and uses a temporary data directory. The throughput mode does not use
//! RabbitMQ (the figure is "IMAP to flushed outbox", the part this channel
//! owns); the memory mode runs the whole gateway, which publishes to the
//! RabbitMQ on 127.0.0.1:5672 under a prefix of its own, removed at the end.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pintu::email::config::{MailboxConfig, OnProcessed, Secret, TlsMode};
use pintu::email::mailbox::Mailbox;
use pintu::email::ImapMailbox;
use pintu::intake::Intake;
use pintu::replies::Templates;
use pintu::store::dedupe::SenderHasher;
use pintu::store::Store;
use tokio_util::sync::CancellationToken;

struct Args {
    messages: usize,
    batch: usize,
    append_connections: usize,
    large: Option<usize>,
    size_mb: usize,
    batch_bytes: Option<usize>,
    max_message_mb: Option<usize>,
    gateway: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        messages: 10_000,
        batch: 200,
        append_connections: 4,
        large: None,
        size_mb: 25,
        batch_bytes: None,
        max_message_mb: None,
        gateway: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let val = argv.get(i + 1).and_then(|v| v.parse::<usize>().ok());
        if argv[i] == "--gateway" {
            a.gateway = argv.get(i + 1).map(PathBuf::from);
            i += 2;
            continue;
        }
        match (argv[i].as_str(), val) {
            ("--messages", Some(v)) => a.messages = v,
            ("--large", Some(v)) => a.large = Some(v.max(1)),
            ("--size-mb", Some(v)) => a.size_mb = v.clamp(1, 100),
            ("--batch-bytes", Some(v)) => a.batch_bytes = Some(v),
            ("--max-message-mb", Some(v)) => a.max_message_mb = Some(v),
            ("--batch", Some(v)) => a.batch = v.clamp(1, 1000),
            ("--append-connections", Some(v)) => a.append_connections = v.max(1),
            (other, _) => {
                eprintln!("unknown or incomplete argument {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    a
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn message(i: usize) -> Vec<u8> {
    format!(
        "From: Warga {n} <warga{n}@desa.test>\r\nTo: pengaduan@lapor.go.id\r\nSubject: Aduan nomor {i}\r\n\
         Date: Mon, 3 Mar 2025 09:00:00 +0700\r\nMessage-ID: <load-{i}@desa.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
         Jalan di RT {r} rusak parah sejak bulan lalu, mohon segera diperbaiki oleh dinas PU. Nomor aduan {i}.=\r\n\
         \r\n\r\nPada Sen, 3 Mar 2025 pukul 09.00 LAPOR! <pengaduan@lapor.go.id> menulis:\r\n> kutipan lama\r\n\
         --alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Jalan di RT {r} rusak parah.</p>\r\n--alt--\r\n",
        n = i % 997,
        r = i % 20,
    )
    .into_bytes()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args();
    let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    // No tempfile crate in a binary (it is a dev-dependency): a unique directory, removed at the end.
    let tmp_path = std::env::temp_dir().join(format!("pintu-mail-load-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&tmp_path)?;
    let port = free_port()?;
    let user = "load@example.test";
    let pass = "load-secret";
    let dovecot = repo.join("tests/peers/dovecot.sh");
    let dv_dir = tmp_path.join("dovecot");
    let out = Command::new(&dovecot)
        .arg("start")
        .arg(&dv_dir)
        .arg(port.to_string())
        .arg("0")
        .arg(format!("{user}:{pass}"))
        .output()?;
    if !out.status.success() {
        return Err(format!("dovecot.sh: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let stop = || {
        let _ = Command::new(&dovecot).arg("stop").arg(&dv_dir).output();
    };
    let result = match a.large {
        Some(n) => large::run(&a, n, &tmp_path, port, user, pass),
        None => run(&a, &tmp_path, port, user, pass),
    };
    stop();
    let _ = std::fs::remove_dir_all(&tmp_path);
    result
}

fn run(a: &Args, dir: &std::path::Path, port: u16, user: &str, pass: &str) -> Result<(), Box<dyn std::error::Error>> {
    // 1. APPEND, spread over a few connections.
    let t0 = Instant::now();
    let per = a.messages.div_ceil(a.append_connections);
    let mut threads = Vec::new();
    for c in 0..a.append_connections {
        let (user, pass) = (user.to_string(), pass.to_string());
        let range = (c * per)..((c + 1) * per).min(a.messages);
        threads.push(std::thread::spawn(move || -> Result<(), String> {
            let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
            let mut client = imap::Client::new(tcp);
            client.read_greeting().map_err(|e| e.to_string())?;
            let mut s = client.login(&user, &pass).map_err(|(e, _)| e.to_string())?;
            for i in range {
                s.append("INBOX", &message(i)).finish().map_err(|e| e.to_string())?;
            }
            let _ = s.logout();
            Ok(())
        }));
    }
    for t in threads {
        t.join().map_err(|_| "append thread panicked")??;
    }
    let append_secs = t0.elapsed().as_secs_f64();
    println!(
        "appended {} messages in {:.1} s ({:.0}/s)",
        a.messages,
        append_secs,
        a.messages as f64 / append_secs
    );

    // 2. Ingest into durable intake.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let gateway = dir.join("data/gateway");
    std::fs::create_dir_all(&gateway)?;
    let (store, _closed) = Store::open(&gateway, 64 << 20)?;
    let hasher = SenderHasher::load_or_create(None, &gateway)?;
    let templates =
        Templates::load(&PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("config/replies.toml"))?;
    let (feed, _feed_rx) = pintu::relay::outbox_feed();
    let intake = Arc::new(
        Intake::new(
            store,
            hasher.clone(),
            Some(Arc::new(templates)),
            Duration::from_secs(86_400),
            feed,
        )
        .with_reply_providers(["imap".to_string()]),
    );
    let mut mb = MailboxConfig::new("load", "pengaduan@lapor.go.id", "127.0.0.1", port, TlsMode::None, user);
    mb.password = Some(Secret::new(pass));
    mb.on_processed = OnProcessed::Move;
    mb.poll_interval_secs = 1;
    mb.idle = false;
    mb.batch_size = a.batch;
    mb.connect_timeout_secs = 10;
    let email = pintu::email::EmailConfig::default();
    let poller = pintu::email::poller::Poller {
        cfg: Arc::new(mb),
        parse_opts: pintu::email::parse_options(&email, "pengaduan@lapor.go.id"),
        intake: intake.clone(),
        state: pintu::email::state::EmailState::open(intake.db(), hasher)?,
        blobs: pintu::email::blobs::BlobStore::open(&gateway)?,
        daily_limit: Some(5),
        seen_retention: Duration::from_secs(90 * 86_400),
        rt: rt.handle().clone(),
        shutdown: CancellationToken::new(),
        max_backoff: Duration::from_secs(1),
        parse_budget: Duration::from_millis(email.limits.parse_timeout_ms),
        parser: Default::default(),
    };
    let slot = Default::default();
    let t1 = Instant::now();
    let mut mbox = ImapMailbox::connect(poller.cfg.clone(), &slot)?;
    let mut total = pintu::email::poller::PassStats::default();
    while total.accepted + total.duplicates + total.quarantined < a.messages {
        let s = poller.pass(&mut mbox)?;
        if s == Default::default() {
            return Err(format!("stalled after {total:?}").into());
        }
        total += s;
    }
    let secs = t1.elapsed().as_secs_f64();
    mbox.logout();
    println!(
        "ingested {} messages (accepted {}, duplicates {}, quarantined {}) in {:.2} s: {:.0} messages/s \
         (batch {}, durable = flushed outbox + synced raw copies, marked on the server)",
        a.messages,
        total.accepted,
        total.duplicates,
        total.quarantined,
        secs,
        a.messages as f64 / secs,
        a.batch
    );
    println!("outbox depth {}", intake.store().outbox_depth());
    Ok(())
}

mod large;
