//! Test support shared by every integration test binary (`mod support;`).
//!
//! Layout:
//! - this module: the broker URL, the repository root, a unique broker
//!   prefix, the default config for a test ([`test_config`]), waiting,
//!   free ports, a mock HTTP server, the `pintu` binary, the complaint schema;
//! - [`app`]: a test's own prefix, data directory and config ([`TestEnv`])
//!   and a gateway running on them ([`TestApp`], [`spawn_app`]), the router
//!   worker in-process ([`spawn_router`]);
//! - [`broker`]: the one cleanup of a prefix's broker objects, reading
//!   queues ([`take`], [`queue_depth`]);
//! - [`proxy`]: a TCP proxy to RabbitMQ that can go down (outage tests);
//! - [`browser`]: headless Chromium for the ops pages.
//!
//! The families' own helpers sit beside it and build on it:
//! `tests/email_support` (Dovecot, SMTP sink), `tests/kannel_support` (a
//! real Kannel), `tests/ops_support`, `tests/router_support`,
//! `tests/social_support` (the platform simulator), `tests/status_support`
//! (a fake SMS gateway, agency updates). A test binary declares `mod
//! support;` and the family modules it uses.

// Each test binary uses a part of this module: what it leaves is not dead.
#![allow(dead_code, unused_imports)]

pub mod app;
pub mod broker;
pub mod browser;
pub mod proxy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pintu::config::Config;

pub use app::{restart, spawn_app, spawn_router, test_env, AppBuilder, TestApp, TestEnv};
pub use broker::{cleanup, queue_depth, take, CleanupGuard, Got};

/// The RabbitMQ every test uses (tests keep apart by prefix).
pub const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The repository root (configs, schema, peers' scripts).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A broker prefix of the test's own: tests share one RabbitMQ.
pub fn unique_prefix() -> String {
    format!("t-{:016x}", rand::random::<u64>())
}

/// The default config with this test's prefix, data dir and an ephemeral port.
pub fn test_config(prefix: &str, data_dir: &Path) -> Config {
    pintu::obs::init_logging("pretty", "warn");
    let mut cfg = Config::load(&repo().join("config/pintu.toml")).expect("default config loads");
    cfg.data_dir = data_dir.to_path_buf();
    cfg.amqp.prefix = prefix.to_string();
    cfg.amqp.url = AMQP.into();
    cfg.http.addr = "127.0.0.1:0".parse().expect("loopback address");
    cfg.log.format = "pretty".into();
    cfg
}

/// The head of a family's config file: the data directory, an ephemeral
/// port and the prefix on [`AMQP`]; the file goes on inside `[amqp]`.
pub fn config_file_head(data_dir: &Path, prefix: &str) -> String {
    format!(
        "data_dir = \"{}\"\n\n[http]\naddr = \"127.0.0.1:0\"\n\n[amqp]\nurl = \"{AMQP}\"\nprefix = \"{prefix}\"\n",
        data_dir.display()
    )
}

/// A loopback port free right now (for peers whose config names a port
/// before they start).
/// Open the gateway store in `dir`. sled lets go of a directory's lock a
/// moment after the last handle of an earlier store was dropped (its
/// flusher stops then), so a reopen refused with "could not acquire lock"
/// is retried for up to 10 s; any other error fails the test.
pub fn open_store(dir: &Path, cache_bytes: u64) -> (pintu::store::Store, pintu::store::Closed) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match pintu::store::Store::open(dir, cache_bytes) {
            Ok(opened) => return opened,
            Err(e) if Instant::now() < deadline && format!("{e:?}").contains("could not acquire lock") => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("open store {}: {e:?}", dir.display()),
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Poll `f` every 50 ms until it holds or `timeout` passed; whether it held.
pub async fn wait_until<F: FnMut() -> bool>(timeout: Duration, f: F) -> bool {
    poll_until(Duration::from_millis(50), timeout, f).await
}

/// [`wait_until`], panicking with `what` on timeout. Polls every 100 ms:
/// its conditions are often a round trip to a peer (an IMAP login).
pub async fn expect_until<F: FnMut() -> bool>(what: &str, timeout: Duration, f: F) {
    assert!(
        poll_until(Duration::from_millis(100), timeout, f).await,
        "timed out waiting for {what}"
    );
}

async fn poll_until<F: FnMut() -> bool>(every: Duration, timeout: Duration, mut f: F) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(every).await;
    }
    f()
}

/// Serve `app` on an ephemeral loopback port (a provider's or an agency's
/// mock); its address.
pub async fn serve_http(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The `pintu` binary, run in the repository root.
pub fn pintu_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pintu"));
    cmd.current_dir(repo());
    cmd
}

/// Run `cmd`: whether it succeeded, and its stdout followed by its stderr.
pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("command runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Validate a published complaint against `schema/complaint-v1.json`.
pub fn assert_valid_complaint(v: &serde_json::Value) {
    let text = std::fs::read_to_string(repo().join("schema/complaint-v1.json")).expect("schema file");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "complaint does not match schema v1: {errors:?}\n{v:#}"
    );
}
