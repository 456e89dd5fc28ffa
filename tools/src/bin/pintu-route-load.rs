//! Load test of `pintu route` against a real RabbitMQ: fill the intake queue
//! of a fresh prefix with N complaints, run the worker in-process and report
//! complaints/s consumed -> routed -> published with confirm -> acked.
//!
//! `cargo run --release -p pintu-tools --bin pintu-route-load -- --n 50000`
//! The prefix's queues and exchanges are deleted afterwards unless `--keep`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use clap::Parser;
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use pintu::broker::Outgoing;
use pintu::broker::{connect, ConfirmedPublisher, Names, Topology};
use pintu::complaint::{Complaint, Flags};
use pintu::config::Config;
use pintu::routing::worker::{run_worker, RouteStats};
use pintu::routing::Engine;
use pintu_channels::{Channel as Via, Sender, SenderKind};

#[derive(Parser)]
#[command(about = "Measure the route worker's throughput against RabbitMQ")]
struct Args {
    /// Complaints to route.
    #[arg(long, default_value_t = 50_000)]
    n: usize,
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    url: String,
    /// routing.prefetch of the worker.
    #[arg(long, default_value_t = 512)]
    prefetch: u16,
    /// Directory holding `routing/` and `wilayah/`.
    #[arg(long, default_value = "config")]
    config_dir: PathBuf,
    /// Keep the prefix's queues and exchanges.
    #[arg(long)]
    keep: bool,
}

const TEXTS: &[&str] = &[
    "jln di kec cibinong kab bogor berlubang parah, udah 3 bln gk diperbaiki",
    "listrik padam tiap malam di kec tobelo sdh seminggu, tdk ada info dr pln",
    "ktp el sy blm jadi 5 bln di disdukcapil kab tangerang, alasan blangko habis trs",
    "sampah di tps pasar kec ilir timur i plg blm diangkut seminggu, bau busuk",
    "mhn info cara daftar kartu tani biar dpt pupuk subsidi, sy petani di kab ngawi",
    "RAHASIA ANONIM pegawai kantor camat minta uang rokok 50rb tiap urus surat. kab sikka",
    "@lapor1708 gaji kami di bawah UMK Sby, lembur gak dibayar #buruh",
    "selamat pagi min, salam dari warga kota ambon",
];

fn complaint(i: usize) -> Complaint {
    Complaint {
        schema: 1,
        id: ulid::Ulid::new().to_string(),
        tracking: format!("LPR-{i:06}"),
        received_at: Utc::now(),
        channel: Via::Sms,
        provider: "load".into(),
        external_id: Some(i.to_string()),
        sender: Some(Sender {
            kind: SenderKind::Msisdn,
            address: format!("+62812{:08}", i),
            display_name: None,
        }),
        recipient: Some("1708".into()),
        subject: None,
        text: TEXTS[i % TEXTS.len()].into(),
        attachments: vec![],
        flags: Flags::default(),
        in_reply_to: None,
        parts: 1,
        fingerprint: "0".into(),
        routing: None,
    }
}

fn config(args: &Args, prefix: &str, dir: &std::path::Path) -> anyhow::Result<Config> {
    let cd = std::fs::canonicalize(&args.config_dir)?;
    let toml = format!(
        r#"data_dir = "{data}"
[http]
addr = "127.0.0.1:0"
[amqp]
url = "{url}"
prefix = "{prefix}"
[routing]
dir = "{routing}"
wilayah_dir = "{wilayah}"
prefetch = {prefetch}
remember_decisions = false
"#,
        data = dir.display(),
        url = args.url,
        routing = cd.join("routing").display(),
        wilayah = cd.join("wilayah").display(),
        prefetch = args.prefetch,
    );
    let path = dir.join("pintu.toml");
    std::fs::write(&path, toml)?;
    Ok(Config::load(&path)?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let prefix = format!("load-{}", hex::encode(rand::random::<[u8; 4]>()));
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir)?;
    let cfg = config(&args, &prefix, &dir)?;
    let names = Names::new(&prefix);

    let conn = connect(&cfg.amqp, "pintu-route-load").await?;
    let ch = conn.create_channel().await?;
    let topology = Topology::new(&cfg.amqp);
    topology.declare(&ch).await?;
    let publisher = ConfirmedPublisher::new(conn.create_channel().await?).await?;

    println!(
        "prefix {prefix}: filling {} with {} complaints",
        names.intake_queue(),
        args.n
    );
    let t0 = Instant::now();
    let exchange = names.intake_exchange();
    let key = Names::intake_key("sms");
    let mut pending = std::collections::VecDeque::new();
    for i in 0..args.n {
        let c = complaint(i);
        let body = serde_json::to_vec(&c)?;
        let msg = Outgoing {
            exchange: &exchange,
            routing_key: &key,
            message_id: &c.id,
            body: &body,
            headers: vec![],
        };
        pending.push_back(publisher.send(&msg).await?);
        if pending.len() >= cfg.amqp.publish_window {
            if let Some(p) = pending.pop_front() {
                p.await?;
            }
        }
    }
    for p in pending {
        p.await?;
    }
    let fill = t0.elapsed();
    println!(
        "filled in {:.2} s ({:.0}/s)",
        fill.as_secs_f64(),
        args.n as f64 / fill.as_secs_f64()
    );

    let engine = Arc::new(Engine::from_config(&cfg)?);
    let stats = Arc::new(RouteStats::default());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = {
        let (cfg, engine, stats) = (cfg.clone(), engine.clone(), stats.clone());
        tokio::spawn(async move {
            run_worker(&cfg, engine, None, stats, async {
                let _ = stop_rx.await;
            })
            .await
        })
    };
    let t1 = Instant::now();
    let n = args.n as u64;
    let mut last = 0;
    let mut stalled = Instant::now();
    while stats.acked.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let a = stats.acked.load(Ordering::Relaxed);
        if a != last {
            last = a;
            stalled = Instant::now();
        } else if stalled.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("no progress for 30 s at {a} of {n} acked");
        }
    }
    let took = t1.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    worker.await??;

    let rate = |x: u64| x as f64 / took;
    println!(
        "routed {n} complaints in {took:.2} s with prefetch {}: consumed {:.0}/s, published+confirmed {:.0}/s, acked {:.0}/s (dead-lettered {}, requeued {})",
        args.prefetch,
        rate(stats.consumed.load(Ordering::Relaxed)),
        rate(stats.routed.load(Ordering::Relaxed)),
        rate(stats.acked.load(Ordering::Relaxed)),
        stats.dead_lettered.load(Ordering::Relaxed),
        stats.requeued.load(Ordering::Relaxed),
    );

    if !args.keep {
        for q in &topology.queues {
            let _ = ch
                .queue_delete(q.name.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        for e in &topology.exchanges {
            let _ = ch
                .exchange_delete(e.name.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
    let _ = conn.close(200, "done".into()).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
