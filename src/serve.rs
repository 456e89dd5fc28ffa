//! `pintu serve`: assembles the gateway — store, intake, relay, reply sender,
//! housekeeping and the HTTP server — and runs it until shutdown.
//!
//! [`supervise`] restarts the gateway in-process when its store failed (sled
//! refuses every write after one failed, until the database is reopened; see
//! `src/store/health.rs`), so the gateway recovers without an operator.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::channel::{ChannelError, ChannelParts};
use crate::config::{Config, ConfigError};
use crate::http::AppState;
use crate::intake::Intake;
use crate::relay::{outbox_feed, Relay, RelayStatus};
use crate::replies::sender::ReplySender;
use crate::replies::templates::TemplateError;
use crate::replies::Templates;
use crate::stats::Stats;
use crate::store::dedupe::SenderHasher;
use crate::store::{Identity, Store, StoreError};

#[derive(Debug, Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Templates(#[from] TemplateError),
    #[error("sla clock")]
    Sla(#[from] crate::sla::SlaError),
    #[error("status loop")]
    Status(#[source] crate::status::StatusError),
    #[error(transparent)]
    Node(#[from] crate::node::NodeError),
}

/// A running gateway (used by `main` and by the tests).
pub struct Gateway {
    pub addr: SocketAddr,
    pub intake: Arc<Intake>,
    pub relay: Arc<RelayStatus>,
    /// The loop back to the citizen, when `[status]` is enabled.
    pub status: Option<Arc<crate::status::StatusService>>,
    /// The deadline clock, when `[sla]` is enabled.
    pub sla: Option<crate::sla::worker::SlaHandle>,
    pub shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    closed: crate::store::Closed,
}

impl Gateway {
    /// Stop accepting, let the tasks finish, close the store (the data
    /// directory can be opened again when this returns).
    pub async fn stop(self) {
        let Gateway {
            intake,
            relay,
            shutdown,
            tasks,
            closed,
            status,
            ..
        } = self;
        shutdown.cancel();
        for t in tasks {
            let _ = t.await;
        }
        tracing::debug!(refs = Arc::strong_count(&intake), "intake references at shutdown");
        drop((intake, relay, status));
        let closed = tokio::task::spawn_blocking(move || closed.wait(Duration::from_secs(10))).await;
        if !matches!(closed, Ok(true)) {
            warn!("store still open after shutdown");
        }
    }

    /// Wait until shutdown was requested and everything stopped.
    pub async fn wait(self) {
        self.shutdown.cancelled().await;
        self.stop().await;
    }

    /// Fires when the store failed and must be reopened (see [`supervise`]).
    pub fn store_failed(&self) -> CancellationToken {
        self.intake.store().health.failed()
    }
}

/// Longest pause between two restarts of a gateway whose store keeps failing.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(10);

/// Run the gateway until `shutdown`; when its store fails, stop it, reopen
/// the store and start again (with backoff while that keeps failing). An
/// error from the first start (bad config, port taken) is returned.
pub async fn supervise(cfg: Config, shutdown: CancellationToken) -> Result<(), ServeError> {
    let mut backoff = Duration::from_secs(1);
    let mut first = true;
    // One recorder across restarts: the ops page's last hour survives a reopen.
    let stats = Arc::new(Stats::new());
    loop {
        let gw = match start_with(cfg.clone(), stats.clone()).await {
            Ok(gw) => gw,
            Err(e) if first => return Err(e),
            Err(e) => {
                warn!(error = %e, backoff_s = backoff.as_secs(), "gateway restart failed; retrying");
                if pause(&shutdown, &mut backoff).await {
                    return Ok(());
                }
                continue;
            }
        };
        first = false;
        let started = std::time::Instant::now();
        let failed = gw.store_failed();
        let own = gw.shutdown.clone();
        let restart = tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = own.cancelled() => false,
            _ = failed.cancelled() => {
                warn!("store failed: restarting the gateway to reopen it");
                metrics::counter!("pintu_store_reopens_total").increment(1);
                true
            }
        };
        gw.stop().await;
        if !restart {
            return Ok(());
        }
        // A gateway that ran a good while failed afresh: no long wait.
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(1);
        }
        if pause(&shutdown, &mut backoff).await {
            return Ok(());
        }
    }
}

/// Sleep `backoff` (doubling it for next time); true when shut down meanwhile.
async fn pause(shutdown: &CancellationToken, backoff: &mut Duration) -> bool {
    let wait = *backoff;
    *backoff = (*backoff * 2).min(MAX_RESTART_BACKOFF);
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(wait) => false,
    }
}

/// Start the gateway; returns once it listens. The channels come from
/// [`crate::families::all`]; this function names none of them.
pub async fn start(cfg: Config) -> Result<Gateway, ServeError> {
    start_with(cfg, Arc::new(Stats::new())).await
}

/// [`start`], recording the ops page's counters into `stats`.
pub async fn start_with(cfg: Config, stats: Arc<Stats>) -> Result<Gateway, ServeError> {
    // Again here, not only in `Config::load`: a config built or changed in
    // code must not start exposed with example secrets either.
    cfg.validate()?;
    for w in cfg.audit_secrets()? {
        warn!("INSECURE: {w}");
    }
    let cfg = Arc::new(cfg);
    let dir = cfg.gateway_data_dir();
    std::fs::create_dir_all(&dir).map_err(|source| ServeError::DataDir {
        path: dir.display().to_string(),
        source,
    })?;
    let who = Identity {
        node: cfg.node.id(),
        key: cfg.node.tracking_key(),
    };
    let (store, closed) = Store::open_as(&dir, cfg.outbox.cache_bytes, &who)?;
    store.flow.set_limit(cfg.outbox.flow_backlog);
    store.health.set_reserve(cfg.outbox.min_free_bytes);
    let shutdown = CancellationToken::new();
    // Whatever fails below stops what already runs (the node's claim first).
    let stop_on_error = shutdown.clone().drop_guard();
    let mut tasks = Vec::new();
    // Claim the node id and reserve tracking codes before anything can issue one.
    tasks.push(crate::node::start(&cfg, &store, shutdown.clone()).await?);
    let hasher = SenderHasher::load_or_create(cfg.dedupe.secret.as_ref().map(pintu_channels::Secret::expose), &dir)?;
    let templates = if cfg.replies.enabled {
        let path = cfg.resolve(&cfg.replies.templates);
        Some(Arc::new(Templates::load(&path)?))
    } else {
        None
    };
    let (feed_tx, feed_rx) = outbox_feed();
    let window = Duration::from_secs(cfg.dedupe.window_secs);
    // Every channel is built before anything starts, so a bad config fails fast.
    let families = crate::families::all();
    let mut mounts = Vec::new();
    let mut transports = Vec::new();
    for family in families {
        let ChannelParts {
            mounts: m,
            transports: t,
        } = family.build(&cfg)?;
        mounts.extend(m);
        transports.extend(t);
    }
    let reply_providers: Vec<String> = transports.iter().map(|t| t.provider().to_string()).collect();
    let replay = Arc::new(crate::replay::ReplayGuard::open(
        &store.db,
        hasher.clone(),
        Duration::from_secs(cfg.replay.window_secs),
        window,
        cfg.replay.max_entries,
    )?);
    let status = if cfg.status.enabled {
        let (svc, status_tasks) = crate::status::start(cfg.clone(), &store, shutdown.clone())
            .await
            .map_err(ServeError::Status)?;
        tasks.extend(status_tasks);
        Some(svc)
    } else {
        None
    };
    let hook = status.clone().map(|s| s as Arc<dyn crate::intake::IntakeHook>);
    let intake = Arc::new(
        Intake::new(store.clone(), hasher, templates, window, feed_tx)
            .with_reply_providers(reply_providers)
            .with_flood(crate::flood::Limiter::from_config(&cfg.flood))
            .with_stats(stats.clone())
            .with_hook(hook),
    );

    let relay =
        Relay::new(store.clone(), cfg.amqp.clone(), feed_rx).with_rescan(Duration::from_secs(cfg.outbox.rescan_secs));
    let relay_status = relay.status.clone();
    tasks.push(tokio::spawn(relay.run(shutdown.clone())));

    if cfg.replies.enabled {
        let sender = ReplySender::new(
            cfg.amqp.clone(),
            transports,
            cfg.replies.concurrency,
            Duration::from_secs(cfg.replies.max_backoff_secs),
        )
        .with_stats(stats.clone());
        tasks.push(tokio::spawn(sender.run(shutdown.clone())));
    }
    tasks.push(tokio::spawn(replay.clone().run_sweeper(shutdown.clone())));
    tasks.push(tokio::spawn(housekeeping(
        intake.clone(),
        Duration::from_secs(cfg.sms.concat_timeout_secs),
        shutdown.clone(),
    )));

    tasks.push(tokio::spawn(watch_store(store.clone(), shutdown.clone())));

    let (monitor, monitor_task) = crate::ops::start(cfg.clone(), store.clone(), stats, shutdown.clone());
    tasks.push(monitor_task);

    // Pollers read config the checks above did not cover; stop what already
    // runs if they cannot start.
    for family in families {
        let started = family.spawn(&cfg, &intake, &shutdown).inspect_err(|e| {
            warn!(family = family.name(), error = %e, "channel tasks could not start");
            shutdown.cancel();
        })?;
        tasks.extend(started);
    }
    let state = AppState {
        cfg: cfg.clone(),
        intake: intake.clone(),
        relay: relay_status.clone(),
        metrics: crate::obs::metrics_handle(),
        replay: Some(replay),
    };
    // Working-day deadlines (docs/sla.md), when enabled.
    let sla = crate::sla::start(&cfg, shutdown.clone()).inspect_err(|_| shutdown.cancel())?;
    let sla_handle = sla.map(|(h, task)| {
        tasks.push(task);
        h
    });
    let mut ops_api =
        crate::ops::api_routes(monitor, relay_status.clone()).merge(crate::sla::http::routes(sla_handle.clone()));
    if let Some(svc) = &status {
        ops_api = ops_api.merge(crate::status::ops::routes(svc.clone()));
    }
    let mut app = crate::http::router(state, mounts, ops_api)
        .merge(crate::ops::page_routes())
        .merge(crate::sla::http::page_routes());
    if let Some(svc) = &status {
        app = app.merge(crate::status::agency_api::routes(svc.clone()));
    }
    let listener = tokio::net::TcpListener::bind(cfg.http.addr)
        .await
        .map_err(|source| ServeError::Listen {
            addr: cfg.http.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: cfg.http.addr,
        source,
    })?;
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = crate::http::serve(listener, app, async move { stop.cancelled().await }).await {
            warn!(error = %e, "http server stopped");
        }
    }));
    info!(%addr, node = cfg.node.id(), "pintu gateway listening");
    stop_on_error.disarm();
    drop(store);
    Ok(Gateway {
        addr,
        intake,
        relay: relay_status,
        status,
        sla: sla_handle,
        shutdown,
        tasks,
        closed,
    })
}

/// Keep the store's health current without traffic: after a full disk has
/// space again, `/healthz` turns green (and the load balancer sends traffic
/// again) without waiting for a write to succeed first.
async fn watch_store(store: Store, shutdown: CancellationToken) {
    let failed = store.health.failed();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = failed.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let _ = store.health.check();
    }
}

/// Expire dedupe records and assemble SMS groups whose parts timed out.
async fn housekeeping(intake: Arc<Intake>, concat_timeout: Duration, shutdown: CancellationToken) {
    let period = (concat_timeout / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
    // The dedupe sweep scans every record (a million in a busy window): every
    // ten minutes, on a blocking thread. Expired records found before then are
    // ignored by intake anyway.
    const SWEEP_EVERY: Duration = Duration::from_secs(600);
    let mut last_sweep = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        match intake.expire_parts(concat_timeout).await {
            Ok(0) => {}
            Ok(n) => info!(groups = n, "ingested incomplete concatenated SMS as partial complaints"),
            Err(e) => warn!(error = %e, "could not expire SMS parts"),
        }
        if last_sweep.elapsed() >= SWEEP_EVERY {
            last_sweep = std::time::Instant::now();
            let i = intake.clone();
            match tokio::task::spawn_blocking(move || i.sweep_dedupe()).await {
                Ok(Ok(n)) if n > 0 => info!(records = n, "expired dedupe records removed"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => warn!(error = %e, "dedupe sweep failed"),
                Err(e) => warn!(error = %e, "dedupe sweep task failed"),
            }
        }
    }
}
