//! Crash test: thousands of webhooks from concurrent clients, `kill -9` of the
//! gateway mid-run, restart. Every request that got a 2xx is in RabbitMQ (by
//! complaint id), none under two ids, and the outbox drains to empty.

mod support;

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;

const N: usize = 6000;
const CLIENTS: usize = 16;

fn spawn_gateway(dir: &std::path::Path, prefix: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pintu"))
        .args([
            "--config",
            &repo().join("config/pintu.toml").display().to_string(),
            "serve",
        ])
        .env("PINTU_DATA_DIR", dir)
        .env("PINTU_AMQP__PREFIX", prefix)
        .env("PINTU_HTTP__ADDR", format!("127.0.0.1:{port}"))
        .env("PINTU_REPLIES__ENABLED", "false")
        .env("PINTU_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(c: &reqwest::Client, port: u16) {
    for _ in 0..200 {
        if let Ok(r) = c.get(format!("http://127.0.0.1:{port}/healthz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gateway did not come up");
}

/// Send message `i`; Some((external id, complaint id)) on 2xx.
async fn send(c: &reqwest::Client, port: u16, i: usize) -> Option<(String, String)> {
    let ext = format!("crash-{i}");
    let body = serde_json::json!({"id": ext, "from": format!("0812{:08}", i), "to": "1708", "text": format!("Aduan nomor {i}: lampu jalan mati")});
    let r = c
        .post(format!("http://127.0.0.1:{port}/sms/generic"))
        .bearer_auth("change-me-generic")
        .json(&body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let v: serde_json::Value = r.json().await.ok()?;
    Some((ext, v["accepted"][0]["id"].as_str()?.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_load_loses_nothing_acknowledged() {
    // The gateway runs as a process of its own here: only the directory,
    // the prefix and the cleanup come from the environment.
    let env = test_env(|_| {});
    let (dir, prefix) = (env.dir().to_path_buf(), env.prefix().to_string());
    let port = free_port();
    let c = reqwest::Client::new();
    let mut child = spawn_gateway(&dir, &prefix, port);
    wait_ready(&c, port).await;

    let acked: Arc<parking_lot::Mutex<HashMap<String, String>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (c, acked, next, killed) = (c.clone(), acked.clone(), next.clone(), killed.clone());
        clients.push(tokio::spawn(async move {
            let mut unanswered = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= N {
                    break;
                }
                match send(&c, port, i).await {
                    Some((ext, id)) => {
                        acked.lock().insert(ext, id);
                    }
                    None => {
                        unanswered.push(i);
                        if killed.load(Ordering::Relaxed) {
                            // Gateway is down: wait for the restart like a provider would.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
            unanswered
        }));
    }
    // Kill -9 once about a third has been acknowledged.
    while acked.lock().len() < N / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    killed.store(true, Ordering::Relaxed);
    let acked_before_kill = acked.lock().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut child = spawn_gateway(&dir, &prefix, port);
    wait_ready(&c, port).await;

    let mut unanswered = Vec::new();
    for h in clients {
        unanswered.extend(h.await.unwrap());
    }
    // Providers retry what got no answer; a complaint made durable just before
    // the kill must come back with its original id.
    for i in unanswered {
        let mut tries = 0;
        loop {
            if let Some((ext, id)) = send(&c, port, i).await {
                let prev = acked.lock().insert(ext.clone(), id.clone());
                assert!(prev.is_none_or(|p| p == id), "{ext} acknowledged under two ids");
                break;
            }
            tries += 1;
            assert!(tries < 100, "request {i} never accepted after restart");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let acked = acked.lock().clone();
    assert_eq!(acked.len(), N, "every request eventually acknowledged");
    assert!(acked_before_kill >= N / 3);

    // Drain: everything acknowledged is in RabbitMQ, at least once, one id per request.
    let got = take(&format!("{prefix}.intake"), N, Duration::from_secs(120)).await;
    let mut ids_by_ext: HashMap<String, HashSet<String>> = HashMap::new();
    for g in &got {
        let ext = g.json["external_id"].as_str().unwrap().to_string();
        assert_eq!(g.message_id, g.json["id"].as_str().unwrap());
        ids_by_ext.entry(ext).or_default().insert(g.message_id.clone());
    }
    for (ext, id) in &acked {
        let ids = ids_by_ext
            .get(ext)
            .unwrap_or_else(|| panic!("acknowledged {ext} ({id}) missing from RabbitMQ"));
        assert_eq!(ids.len(), 1, "{ext} published under several ids: {ids:?}");
        assert!(ids.contains(id), "{ext}: broker has {ids:?}, client was told {id}");
    }
    // Outbox empty after the drain.
    let mut backlog = u64::MAX;
    for _ in 0..100 {
        let v: serde_json::Value = c
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        backlog = v["outbox_backlog"].as_u64().unwrap();
        if backlog == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(backlog, 0, "outbox drained");
    child.kill().unwrap();
    child.wait().unwrap();
    env.cleanup().await;
}
