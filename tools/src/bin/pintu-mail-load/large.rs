//! `--large N`: the real gateway's memory while it ingests N large mails.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::{Rng, SeedableRng};

use super::Args;

/// Largest attachment in a generated mail (below the default 15 MiB limit,
/// so every attachment is decoded, hashed and stored).
const ATTACHMENT_MAX: usize = 8 << 20;

/// A mail of about `size` bytes: a short text and base64 attachments.
fn large_message(i: usize, size: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(i as u64);
    let mut out = format!(
        "From: Warga {i} <warga{i}@desa.test>\r\nTo: pengaduan@lapor.go.id\r\nSubject: Foto jalan rusak {i}\r\n\
         Date: Mon, 3 Mar 2025 09:00:00 +0700\r\nMessage-ID: <large-{i}@desa.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Jalan di RT {i} rusak parah, foto terlampir.\r\n"
    )
    .into_bytes();
    // Base64 is 4/3 of the data plus line breaks.
    let mut data_left = size * 3 / 4 * 76 / 78;
    let mut n = 0;
    while data_left > 0 {
        let len = data_left.min(ATTACHMENT_MAX);
        data_left -= len;
        n += 1;
        let mut data = vec![0u8; len];
        rng.fill(&mut data[..]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        out.extend_from_slice(
            format!(
                "--b\r\nContent-Type: image/jpeg; name=\"foto-{n}.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            )
            .as_bytes(),
        );
        for line in b64.as_bytes().chunks(76) {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"--b--\r\n");
    out
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn count(port: u16, user: &str, pass: &str, folder: &str) -> Result<u32, String> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let mut c = imap::Client::new(tcp);
    c.read_greeting().map_err(|e| e.to_string())?;
    let mut s = c.login(user, pass).map_err(|(e, _)| e.to_string())?;
    let n = s.examine(folder).map(|m| m.exists).unwrap_or(0);
    let _ = s.logout();
    Ok(n)
}

fn write_config(dir: &Path, a: &Args, port: u16, user: &str, pass: &str, prefix: &str) -> std::io::Result<PathBuf> {
    let mut mailbox_extra = String::new();
    if let Some(b) = a.batch_bytes {
        mailbox_extra.push_str(&format!("batch_bytes = {b}\n"));
    }
    if let Some(m) = a.max_message_mb {
        mailbox_extra.push_str(&format!("max_message_bytes = {}\n", m << 20));
    }
    let toml = format!(
        r#"data_dir = "{data}"
[http]
addr = "127.0.0.1:0"
[amqp]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
prefix = "{prefix}"
[replies]
enabled = false
[log]
level = "error"
[channels.email]
enabled = true
ack_domain = "lapor.go.id"
[[channels.email.mailboxes]]
name = "load"
address = "pengaduan@lapor.go.id"
host = "127.0.0.1"
port = {port}
tls = "none"
username = "{user}"
password = "{pass}"
poll_interval_secs = 1
{mailbox_extra}"#,
        data = dir.join("data").display(),
    );
    let path = dir.join("pintu.toml");
    std::fs::write(&path, toml)?;
    Ok(path)
}

/// Delete what the gateway declared under our prefix.
fn cleanup_broker(config: &Path) {
    let Ok(cfg) = pintu::config::Config::load(config) else {
        return;
    };
    let Ok(rt) = tokio::runtime::Runtime::new() else { return };
    let work = async {
        let Ok(conn) = pintu::broker::connect(&cfg.amqp, "pintu-mail-load").await else {
            return;
        };
        let Ok(ch) = conn.create_channel().await else { return };
        let topology = pintu::broker::Topology::new(&cfg.amqp);
        for q in &topology.queues {
            let _ = ch.queue_delete(q.name.as_str().into(), Default::default()).await;
        }
        for e in &topology.exchanges {
            let _ = ch.exchange_delete(e.name.as_str().into(), Default::default()).await;
        }
        // Closing is not worth waiting for: the process ends next.
        let _ = tokio::time::timeout(Duration::from_secs(2), conn.close(200, "bye".into())).await;
    };
    // Best effort, bounded: a broker that does not answer must not keep the
    // figures from being printed.
    rt.block_on(async {
        if tokio::time::timeout(Duration::from_secs(60), work).await.is_err() {
            eprintln!(
                "broker cleanup did not finish in 60 s; queues may be left under the prefix {}",
                cfg.amqp.prefix
            );
        }
    });
    rt.shutdown_timeout(Duration::from_secs(2));
}

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        // SIGTERM first (a clean stop), then make sure.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(
    a: &Args,
    n: usize,
    dir: &Path,
    port: u16,
    user: &str,
    pass: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    // MB as mail providers count them (25 MB = 25,000,000 bytes).
    let size = a.size_mb * 1_000_000;
    let t0 = Instant::now();
    {
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        let mut c = imap::Client::new(tcp);
        c.read_greeting()?;
        let mut s = c.login(user, pass).map_err(|(e, _)| e)?;
        for i in 0..n {
            s.append("INBOX", &large_message(i, size)).finish()?;
        }
        let _ = s.logout();
    }
    println!(
        "appended {n} mails of {} MB in {:.1} s",
        a.size_mb,
        t0.elapsed().as_secs_f64()
    );

    let prefix = format!("mail-load-{}", ulid::Ulid::new().to_string().to_lowercase());
    let config = write_config(dir, a, port, user, pass, &prefix)?;
    let bin = match &a.gateway {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("pintu"),
    };
    let child = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{}: {e} (build it with cargo build --release)", bin.display()))?;
    let pid = child.id();
    let gateway = Gateway(child);
    let started = Instant::now();

    let peak_sampled = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak_sampled.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = status_kib(pid, "VmRSS:") {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let idle_kib = status_kib(pid, "VmRSS:").unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut result = Err::<(u32, u32), String>("timed out".into());
    while Instant::now() < deadline {
        let processed = count(port, user, pass, "Pintu-Processed")?;
        let quarantined = count(port, user, pass, "Pintu-Quarantine")?;
        if (processed + quarantined) as usize >= n {
            result = Ok((processed, quarantined));
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!("ingestion done after {secs:.1} s; stopping the gateway");
    let hwm_kib = status_kib(pid, "VmHWM:").unwrap_or(0);
    let end_kib = status_kib(pid, "VmRSS:").unwrap_or(0);
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let (processed, quarantined) = match result {
        Ok(r) => r,
        Err(e) => {
            drop(gateway);
            cleanup_broker(&config);
            return Err(e.into());
        }
    };
    println!(
        "gateway ingested {n} mails of {} MB ({processed} processed, {quarantined} quarantined) in {secs:.1} s; \
         batch_bytes {}, max_message_bytes {}",
        a.size_mb,
        a.batch_bytes.map_or("default".to_string(), |b| b.to_string()),
        a.max_message_mb.map_or("default".to_string(), |m| format!("{} MiB", m)),
    );
    println!(
        "gateway RSS: {:.0} MiB idle, peak {:.0} MiB (VmHWM; highest 100 ms sample {:.0} MiB), {:.0} MiB at the end",
        idle_kib as f64 / 1024.0,
        hwm_kib as f64 / 1024.0,
        peak_sampled.load(Ordering::Relaxed) as f64 / 1024.0,
        end_kib as f64 / 1024.0,
    );
    drop(gateway);
    cleanup_broker(&config);
    Ok(())
}
