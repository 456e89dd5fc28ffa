//! `pintu-load`: drive a running gateway's SMS webhook over HTTP and print
//! accepted/s, latency percentiles, how many complaints reached RabbitMQ and
//! the gateway's memory.
//!
//! ```text
//! cargo run --release -p pintu-tools --bin pintu-load -- --requests 200000 --concurrency 64
//! cargo run --release -p pintu-tools --bin pintu-load -- --requests 60000 --rate 2000      # latency at a fixed rate
//! ```
//! Latency is measured from the moment a request was due (not when a worker
//! got to it), so a stalled server shows up in p99 instead of hiding.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

#[derive(Parser)]
#[command(about = "Load generator for the Pintu SMS webhook")]
struct Args {
    /// Webhook URL (generic JSON profile).
    #[arg(long, default_value = "http://127.0.0.1:8080/sms/generic")]
    url: String,
    /// Bearer token of the generic profile.
    #[arg(long, default_value = "change-me-generic")]
    token: String,
    #[arg(long, short = 'n', default_value_t = 100_000)]
    requests: u64,
    #[arg(long, short = 'c', default_value_t = 64)]
    concurrency: usize,
    /// Requests per second (0 = as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Queue whose growth shows what reached RabbitMQ.
    #[arg(long, default_value = "pintu.intake")]
    queue: String,
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp: String,
    /// PID of the gateway, to report its resident memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Distinguishes runs so senders and provider ids never collide with earlier ones.
    #[arg(long, default_value_t = std::process::id() as u64)]
    run: u64,
}

async fn queue_depth(amqp: &str, queue: &str) -> anyhow::Result<u64> {
    let conn = pintu::broker::connect_url(amqp, "pintu-load").await?;
    let ch = conn.create_channel().await?;
    let q = ch
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let _ = conn.close(200, "bye".into()).await;
    Ok(q.message_count() as u64)
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let before = queue_depth(&args.amqp, &args.queue)
        .await
        .context("queue (is the gateway running with this prefix?)")?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let interval = (args.rate > 0).then(|| Duration::from_secs_f64(1.0 / args.rate as f64));
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, next, failed) = (client.clone(), next.clone(), failed.clone());
        let (url, token, n, run) = (args.url.clone(), args.token.clone(), args.requests, args.run);
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let due = match interval {
                    Some(iv) => {
                        let due = start + iv * i as u32;
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    None => Instant::now(),
                };
                let body = format!(
                    r#"{{"id":"load-{run}-{i}","from":"+62811{:07}","to":"1708","text":"Uji beban {run} nomor {i}: jalan berlubang di Kota Bandung"}}"#,
                    (run * 7919 + i) % 10_000_000
                );
                let ok = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if ok {
                    lat.push(due.elapsed().as_micros() as u64);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for w in workers {
        lat.extend(w.await?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let accepted = lat.len() as u64;
    println!("requests      {}", args.requests);
    println!("concurrency   {}", args.concurrency);
    println!(
        "rate          {}",
        if args.rate > 0 {
            format!("{}/s", args.rate)
        } else {
            "unlimited".into()
        }
    );
    println!("accepted      {accepted} ({} failed)", failed.load(Ordering::Relaxed));
    println!("elapsed       {elapsed:.2} s");
    println!("accepted/s    {:.0}", accepted as f64 / elapsed);
    println!("latency p50   {:.2} ms", pct(&lat, 0.50));
    println!("latency p99   {:.2} ms", pct(&lat, 0.99));
    println!("latency max   {:.2} ms", pct(&lat, 1.0));
    // Wait for the relay to finish publishing what was accepted.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut reached = 0;
    while Instant::now() < deadline {
        reached = queue_depth(&args.amqp, &args.queue).await?.saturating_sub(before);
        if reached >= accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let total = start.elapsed().as_secs_f64();
    println!("in RabbitMQ   {reached} of {accepted} (queue {})", args.queue);
    println!(
        "published/s   {:.0} (accepted → confirmed in the queue, end to end)",
        reached as f64 / total
    );
    if let Some(pid) = args.pid {
        match rss_mib(pid) {
            Some(m) => println!("gateway RSS   {m:.1} MiB"),
            None => println!("gateway RSS   unknown (pid {pid})"),
        }
    }
    Ok(())
}
