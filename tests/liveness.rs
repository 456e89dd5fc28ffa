//! The relay's liveness: complaints whose request was abandoned after they
//! were committed, entries nobody announced, and a broker connection that
//! dies while the relay is idle.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use pintu::store::outbox::{new_key, Envelope, Target};
use rand::Rng;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One generic-webhook request over a raw socket. With `abort_after`, the
/// connection is reset (RST, as a client that crashed or gave up) that long
/// after the request was sent, whether or not an answer came.
async fn raw_request(addr: std::net::SocketAddr, i: usize, abort_after: Option<Duration>) {
    let body = format!(
        r#"{{"id":"abort-{i}","from":"0815{i:08}","to":"1708","text":"Aduan {i}: saluran air tersumbat di Kota Medan"}}"#
    );
    let req = format!(
        "POST /sms/generic HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer change-me-generic\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return;
    };
    if s.write_all(req.as_bytes()).await.is_err() {
        return;
    }
    match abort_after {
        Some(d) => {
            tokio::time::sleep(d).await;
            // Zero linger: the close sends a reset at once and never blocks.
            #[allow(deprecated)]
            let _ = s.set_linger(Some(Duration::ZERO));
            drop(s);
        }
        None => {
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut sink)).await;
        }
    }
}

/// Issue 11.1: requests abandoned mid-flight (client reset, or the request
/// timeout firing while the writer commits) must not strand what was
/// committed. Every complaint in the store reaches RabbitMQ within seconds,
/// with the periodic rescan turned off so only the intake path is tested, and
/// the backlog figure ends at exactly zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_requests_still_reach_the_broker_and_counters_stay_exact() {
    let gw = spawn_app(|cfg| {
        cfg.replies.enabled = false;
        cfg.outbox.rescan_secs = 0;
        // Short enough that many requests time out while their batch is flushed.
        cfg.http.request_timeout_ms = 4;
    })
    .await;
    let prefix = gw.prefix().to_string();
    assert!(
        wait_until(Duration::from_secs(10), || gw.relay.connected.load(Ordering::Relaxed)).await,
        "relay connected"
    );
    const N: usize = 600;
    let mut tasks = tokio::task::JoinSet::new();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    for i in 0..N {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let addr = gw.addr;
        let abort = (i % 3 != 0).then(|| Duration::from_micros(rand::thread_rng().gen_range(0..8000)));
        tasks.spawn(async move {
            raw_request(addr, i, abort).await;
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}

    let store = gw.intake.store();
    // Whatever the writer still holds is committed within a batch or two.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let committed = store
        .dedupe
        .iter()
        .filter(|e| e.as_ref().is_ok_and(|(k, _)| k[0] == b's'))
        .count();
    eprintln!("{committed} of {N} requests committed");
    assert!(committed > 0, "some requests were committed");
    let drained = wait_until(Duration::from_secs(5), || store.outbox.is_empty()).await;
    assert!(
        drained,
        "{} of {committed} committed complaints still in the outbox after 5 s",
        store.outbox.len()
    );
    assert_eq!(
        queue_depth(&format!("{prefix}.intake")).await as usize,
        committed,
        "every committed complaint is in RabbitMQ, once"
    );
    assert_eq!(gw.relay.published.load(Ordering::Relaxed) as usize, committed);
    assert_eq!(store.outbox_depth(), 0, "backlog figure exact");
    let ready: serde_json::Value = reqwest::get(format!("http://{}/readyz", gw.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["outbox_backlog"], 0, "{ready}");
    gw.stop().await;
}

/// The periodic rescan publishes an entry that reached the outbox without
/// being handed to the relay (the safety net behind the feed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_rescan_publishes_unannounced_entries() {
    let gw = spawn_app(|cfg| {
        cfg.replies.enabled = false;
        cfg.outbox.rescan_secs = 1;
    })
    .await;
    let prefix = gw.prefix().to_string();
    assert!(
        wait_until(Duration::from_secs(10), || gw.relay.connected.load(Ordering::Relaxed)).await,
        "relay connected"
    );
    // Let the session's start scan pass, so only the periodic one can find it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let store = gw.intake.store();
    let env = Envelope {
        target: Target::Intake,
        routing_key: "intake.sms".into(),
        message_id: ulid::Ulid::new().to_string(),
        body: br#"{"note":"written behind the relay's back"}"#.to_vec(),
    };
    store.backlog.add(1);
    store.outbox.insert(new_key(), env.encode()).unwrap();
    let got = take(&format!("{prefix}.intake"), 1, Duration::from_secs(4)).await;
    assert_eq!(got.len(), 1, "published by the rescan");
    assert_eq!(got[0].message_id, env.message_id);
    assert!(wait_until(Duration::from_secs(2), || store.outbox.is_empty()).await);
    assert_eq!(store.outbox_depth(), 0);
    gw.stop().await;
}

/// The relay's broker connection, as `rabbitmqctl` names it (Erlang pid).
fn relay_connection(prefix: &str) -> Option<String> {
    let out = std::process::Command::new("rabbitmqctl")
        .args(["-s", "list_connections", "pid", "client_properties"])
        .output()
        .ok()?;
    // One line per connection: pid, tab, client properties (which carry
    // `connection_name`).
    let name = format!("pintu-relay {prefix}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains(&name))
        .and_then(|l| l.split('\t').next())
        .map(str::to_string)
}

async fn readyz(addr: std::net::SocketAddr) -> serde_json::Value {
    reqwest::get(format!("http://{addr}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Issue 11.3: the broker closes the idle relay's connection (as an operator
/// or a node shutdown would). The relay notices at once, not at its next
/// publish: readiness drops, and it reconnects on a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_relay_notices_a_closed_connection() {
    let gw = spawn_app(|cfg| cfg.replies.enabled = false).await;
    let prefix = gw.prefix().to_string();
    let mut first = None;
    for _ in 0..100 {
        first = relay_connection(&prefix);
        if first.is_some() && gw.relay.connected.load(Ordering::Relaxed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = first.expect("relay connection listed by the broker");
    let closed = std::process::Command::new("rabbitmqctl")
        .args([
            "-q",
            "close_connection",
            &first,
            "test: connection closed by the broker",
        ])
        .output()
        .unwrap();
    assert!(closed.status.success(), "{first}: {closed:?}");
    let failures = || gw.relay.failures.load(Ordering::Relaxed);
    assert!(
        wait_until(Duration::from_secs(2), || failures() >= 1).await,
        "the idle relay did not notice its connection was closed"
    );
    // And it is back on a new connection.
    let mut again = None;
    for _ in 0..50 {
        again = relay_connection(&prefix).filter(|p| *p != first);
        if again.is_some() && gw.relay.connected.load(Ordering::Relaxed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "relay reconnected");
    assert_eq!(readyz(gw.addr).await["broker_connected"], true);
    gw.stop().await;
}

/// A TCP proxy to RabbitMQ that can turn into a black hole: bytes in either
/// direction vanish and sockets stay open, as when a firewall drops packets
/// or a network path dies. Connections accepted while silent never carry
/// anything; after `resume` new connections work again.
struct BlackHole {
    port: u16,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Client connections whose client end is still open.
    open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl BlackHole {
    async fn start() -> BlackHole {
        use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
        use std::sync::Arc;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let (s, g, o) = (silent.clone(), generation.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (s, g, o) = (s.clone(), g.clone(), o.clone());
                o.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    // A connection made while silent is dead from the start.
                    let born = g.load(Ordering::SeqCst) + u64::from(s.load(Ordering::SeqCst));
                    let Ok(upstream) = TcpStream::connect("127.0.0.1:5672").await else {
                        return;
                    };
                    let alive = move || !s.load(Ordering::SeqCst) && g.load(Ordering::SeqCst) == born;
                    let (mut cr, mut cw) = client.into_split();
                    let (mut ur, mut uw) = upstream.into_split();
                    let a = alive.clone();
                    let up = async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n) = cr.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            if a() && uw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        // The client closed its end (or reset it).
                        o.fetch_sub(1, Ordering::SeqCst);
                    };
                    let down = async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n) = ur.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            if alive() && cw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    tokio::join!(up, down);
                });
            }
        });
        BlackHole {
            port,
            silent,
            generation,
            open,
        }
    }

    fn silence(&self) {
        self.silent.store(true, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn resume(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.silent.store(false, Ordering::SeqCst);
    }
}

/// Issue 11.3: the broker vanishes without closing anything (packets
/// dropped). Heartbeats tell the idle relay within two intervals; readiness
/// says so; once the path is back, the relay reconnects and publishes what
/// was accepted meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_relay_notices_a_silent_broker_by_heartbeat() {
    let hole = BlackHole::start().await;
    let gw = spawn_app(|cfg| {
        cfg.replies.enabled = false;
        cfg.ops.tap = false;
        cfg.amqp.url = format!(
            "amqp://guest:guest@127.0.0.1:{}/%2f?heartbeat=1&connection_timeout=1000",
            hole.port
        )
        .into();
    })
    .await;
    let prefix = gw.prefix().to_string();
    let connected = || gw.relay.connected.load(Ordering::Relaxed);
    assert!(wait_until(Duration::from_secs(10), connected).await, "relay connected");
    hole.silence();
    let started = std::time::Instant::now();
    assert!(
        wait_until(Duration::from_secs(5), || !connected()).await,
        "relay still reports a connection {:?} after the broker went silent",
        started.elapsed()
    );
    assert_eq!(readyz(gw.addr).await["broker_connected"], false);
    // Intake goes on into the outbox meanwhile.
    let r = reqwest::Client::new()
        .post(format!("http://{}/sms/generic", gw.addr))
        .bearer_auth("change-me-generic")
        .json(&serde_json::json!({"id": "hb-1", "from": "081500000001", "to": "1708", "text": "Lampu jalan mati di Kota Solo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!connected(), "no connection through a black hole");
    // Attempts meanwhile time out, and each closes its socket: the relay and
    // the ops monitor hold at most one attempt each, however long it lasts.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let open = hole.open.load(Ordering::SeqCst);
    assert!(open <= 3, "{open} connections left open by abandoned attempts");
    hole.resume();
    assert!(
        wait_until(Duration::from_secs(20), connected).await,
        "relay reconnected after the path came back"
    );
    let got = take(&format!("{prefix}.intake"), 1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "accepted during the outage, published after");
    gw.stop().await;
}

/// A broker that accepts the TCP connection and never answers (wedged): a
/// connection attempt gives up after `connection_timeout`, and closes its
/// socket — lapin would otherwise keep an abandoned handshake's socket open,
/// one more with every retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_a_silent_broker_times_out_and_closes_its_socket() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        // Read (and ignore) the protocol header, then wait for the client to
        // give up: read returns 0 once it closed its end.
        let mut buf = [0u8; 64];
        let mut total = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Some(total),
                Ok(Ok(n)) => total += n,
                Err(_) => return None,
            }
        }
    });
    let started = std::time::Instant::now();
    let url = format!("amqp://guest:guest@127.0.0.1:{port}/%2f?connection_timeout=500");
    let Err(err) = pintu::broker::connect_url(&url, "pintu-test-silent").await else {
        panic!("no broker answered, yet connect succeeded");
    };
    assert!(err.to_string().contains("no answer"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let read = server.await.unwrap();
    assert!(
        read.is_some_and(|n| n >= 8),
        "socket closed after the attempt was abandoned: {read:?}"
    );
}
