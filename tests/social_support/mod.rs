//! Shared setup of the social-channel integration tests, on `crate::support`
//! (the test binary declares `mod support;`): a config pointing every
//! platform at an in-process simulator, an intake on a temp data dir
//! (reopenable, for restart tests), and the webhook HTTP server.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pintu::config::Config;
use pintu::http::{AppState, Mount};
use pintu::intake::Intake;
use pintu::relay::{outbox_feed, FeedRx, RelayStatus};
use pintu::replies::Templates;
use pintu::store::dedupe::SenderHasher;
use pintu::store::{Closed, Store};
use pintu_tools::sim::{Sim, SimConfig};
use tokio_util::sync::CancellationToken;

use crate::support::{config_file_head, open_store, repo};

pub const X_USER_ID: &str = "1708170817081708";
pub const X_BEARER: &str = "x-app-bearer-token";
pub const X_USER_TOKEN: &str = "x-user-context-token";
pub const X_CONSUMER_SECRET: &str = "x-consumer-secret";
pub const META_VERIFY: &str = "meta-verify-token";
pub const META_SECRET: &str = "meta-app-secret";
pub const GRAPH_TOKEN: &str = "EAAG-graph-token";
pub const TG_TOKEN: &str = "123456:ABC-sim_bot_token";
pub const TG_SECRET: &str = "tg-secret_token-1";

pub fn sim_config() -> SimConfig {
    SimConfig {
        x_user_id: X_USER_ID.into(),
        x_username: "lapor1708".into(),
        x_bearer: Some(X_BEARER.into()),
        x_user_token: Some(X_USER_TOKEN.into()),
        graph_token: Some(GRAPH_TOKEN.into()),
        telegram_token: Some(TG_TOKEN.into()),
        ..SimConfig::default()
    }
}

/// Write `pintu.toml` (plus two secrets as `*_file`) into `dir` and load it.
/// `poll` is the body of `[channels.x.poll]`. As a base of a test's own
/// gateway: `TestApp::builder().base(|prefix, dir| write_config(dir, url, prefix, poll))`.
pub fn write_config(dir: &Path, sim_url: &str, prefix: &str, poll: &str) -> Config {
    std::fs::write(dir.join("x_user_token"), format!("{X_USER_TOKEN}\n")).unwrap();
    std::fs::write(dir.join("meta_app_secret"), META_SECRET).unwrap();
    let templates = repo().join("config/replies.toml");
    let toml = format!(
        r#"{head}
[replies]
templates = "{templates}"

[channels.x]
enabled = true
api_base = "{sim_url}"
user_id = "{X_USER_ID}"
username = "lapor1708"
bearer_token = "{X_BEARER}"
user_access_token_file = "x_user_token"

[channels.x.poll]
{poll}

[channels.x.webhook]
enabled = true
consumer_secret = "{X_CONSUMER_SECRET}"

[channels.meta]
graph_base = "{sim_url}"
graph_version = "v21.0"

[channels.meta.webhook]
verify_token = "{META_VERIFY}"
app_secret_file = "meta_app_secret"

[channels.meta.whatsapp]
enabled = true
access_token = "{GRAPH_TOKEN}"

[channels.meta.facebook]
enabled = true
access_token = "{GRAPH_TOKEN}"

[channels.meta.instagram]
enabled = true
access_token = "{GRAPH_TOKEN}"

[channels.telegram]
enabled = true
api_base = "{sim_url}"
bot_token = "{TG_TOKEN}"

[channels.telegram.webhook]
secret_token = "{TG_SECRET}"
"#,
        head = config_file_head(&dir.join("data"), prefix),
        templates = templates.display(),
    );
    let path = dir.join("pintu.toml");
    std::fs::write(&path, toml).unwrap();
    Config::load(&path).unwrap_or_else(|e| panic!("test config: {e}"))
}

pub struct Gateway {
    pub intake: Arc<Intake>,
    pub store: Store,
    pub feed: Option<FeedRx>,
    closed: Closed,
}

impl Gateway {
    /// Drop every handle and wait until sled released the directory (a restart).
    pub async fn close(self) {
        let Gateway {
            intake,
            store,
            feed,
            closed,
        } = self;
        drop((intake, store, feed));
        let released = tokio::task::spawn_blocking(move || closed.wait(Duration::from_secs(10)))
            .await
            .unwrap();
        assert!(released, "store still open: something kept a handle");
    }
}

pub async fn open_intake(cfg: &Config) -> Gateway {
    let dir = cfg.gateway_data_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let (store, closed) = open_store(&dir, cfg.outbox.cache_bytes);
    let hasher = SenderHasher::load_or_create(None, &dir).unwrap();
    let templates = Templates::load(&cfg.resolve(&cfg.replies.templates)).unwrap();
    let (tx, rx) = outbox_feed();
    // As `serve` does: replies are queued only for providers with a transport.
    let reply_providers: Vec<String> = pintu::social::reply_transports(cfg)
        .unwrap()
        .iter()
        .map(|t| t.provider().to_string())
        .collect();
    let intake = Arc::new(
        Intake::new(
            store.clone(),
            hasher,
            Some(Arc::new(templates)),
            Duration::from_secs(cfg.dedupe.window_secs),
            tx,
        )
        .with_reply_providers(reply_providers),
    );
    Gateway {
        intake,
        store,
        feed: Some(rx),
        closed,
    }
}

/// Distinct complaints accepted: complaint entries in the outbox (no relay
/// runs in these tests, so nothing leaves it).
pub fn complaints(store: &Store) -> usize {
    store
        .outbox
        .iter()
        .values()
        .filter(|v| {
            let env = pintu::store::outbox::Envelope::decode(v.as_ref().unwrap()).unwrap();
            env.target == pintu::store::outbox::Target::Intake
        })
        .count()
}

/// The webhook server with the social adapters mounted, on an ephemeral port.
pub async fn serve_webhooks(cfg: &Config, intake: Arc<Intake>, shutdown: CancellationToken) -> SocketAddr {
    let mounts: Vec<Mount> = pintu::social::webhook_adapters(cfg)
        .unwrap()
        .into_iter()
        .map(|(path, adapter)| Mount {
            path: path.into(),
            adapter,
        })
        .collect();
    assert_eq!(mounts.len(), 3, "x, meta and telegram webhooks are enabled");
    let state = AppState {
        cfg: Arc::new(cfg.clone()),
        intake,
        relay: Arc::new(RelayStatus::default()),
        metrics: pintu::obs::metrics_handle(),
        replay: None,
    };
    let app = pintu::http::router(state, mounts, axum::Router::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = pintu::http::serve(listener, app, async move { shutdown.cancelled().await }).await;
    });
    addr
}

pub async fn start_sim() -> Sim {
    Sim::start(sim_config()).await.unwrap()
}
