//! A test's own gateway, `spawn_app()`-style: a fresh data directory, a
//! unique broker prefix and a config on an ephemeral port ([`TestEnv`]),
//! the gateway started on them ([`TestApp`]), and everything the prefix
//! created on the broker deleted when the test ends — by [`TestApp::stop`],
//! or on drop when the test panicked.
//!
//! ```ignore
//! let gw = spawn_app(|cfg| cfg.replies.enabled = false).await;
//! post(gw.addr, ...);                       // a TestApp derefs to the Gateway
//! take(&format!("{}.intake", gw.prefix()), 1, WAIT).await;
//! gw.stop().await;
//! ```
//!
//! Tests with special needs take the [`TestEnv`] alone (`.env()`) and start
//! what they need on its config; [`AppBuilder::base`] swaps the default
//! config for a family's own (the social tests write a config file).

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pintu::config::Config;
use pintu::routing::worker::{run_worker, RouteError, RouteStats};
use pintu::routing::Engine;
use pintu::serve::Gateway;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::broker::{cleanup, cleanup_blocking};
use super::{test_config, unique_prefix};

type Base<'a> = Box<dyn FnOnce(&str, &Path) -> Config + 'a>;
type Tweak<'a> = Box<dyn FnOnce(&mut Config) + 'a>;

/// Builds a [`TestEnv`] (and starts a [`TestApp`] on it).
#[derive(Default)]
pub struct AppBuilder<'a> {
    data_dir: Option<PathBuf>,
    base: Option<Base<'a>>,
    tweaks: Vec<Tweak<'a>>,
}

impl<'a> AppBuilder<'a> {
    /// Use `dir` (kept when the test ends) instead of a fresh temp dir:
    /// a file system of the test's own, such as a small tmpfs.
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_path_buf());
        self
    }

    /// The config to start from, given the prefix and the directory;
    /// [`test_config`] by default.
    pub fn base(mut self, f: impl FnOnce(&str, &Path) -> Config + 'a) -> Self {
        self.base = Some(Box::new(f));
        self
    }

    /// A change to the config, applied in order after the base.
    pub fn config(mut self, f: impl FnOnce(&mut Config) + 'a) -> Self {
        self.tweaks.push(Box::new(f));
        self
    }

    /// The directory, prefix and config, nothing started.
    pub fn env(self) -> TestEnv {
        let (dir, tmp) = match self.data_dir {
            Some(d) => (d, None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("pintu-test")
                    .tempdir()
                    .expect("temp dir");
                (t.path().to_path_buf(), Some(t))
            }
        };
        let prefix = unique_prefix();
        let mut cfg = match self.base {
            Some(base) => base(&prefix, &dir),
            None => test_config(&prefix, &dir),
        };
        for tweak in self.tweaks {
            tweak(&mut cfg);
        }
        TestEnv {
            cfg,
            dir,
            _tmp: tmp,
            cleaned: false,
        }
    }

    /// The gateway started on a new [`TestEnv`].
    pub async fn spawn(self) -> TestApp {
        self.env().start().await
    }
}

/// A gateway on the default test config changed by `tweak`.
pub async fn spawn_app(tweak: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::builder().config(tweak).spawn().await
}

/// The [`TestEnv`] of the default test config changed by `tweak`.
pub fn test_env(tweak: impl FnOnce(&mut Config)) -> TestEnv {
    TestApp::builder().config(tweak).env()
}

/// A test's directory, prefix and config. Deletes the prefix's broker
/// objects (with the config as it is then) and the directory when dropped.
pub struct TestEnv {
    /// Free to change until the gateway starts.
    pub cfg: Config,
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    cleaned: bool,
}

impl TestEnv {
    pub fn prefix(&self) -> &str {
        &self.cfg.amqp.prefix
    }

    /// The test's directory (the data directory of the default config).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Start the gateway on this environment.
    pub async fn start(self) -> TestApp {
        let gw = pintu::serve::start(self.cfg.clone())
            .await
            .unwrap_or_else(|e| panic!("gateway did not start: {e:?}"));
        TestApp {
            gw: Some(gw),
            env: self,
        }
    }

    /// Delete the broker objects now (rather than on drop).
    pub async fn cleanup(mut self) {
        self.clean().await;
    }

    async fn clean(&mut self) {
        cleanup(&self.cfg).await;
        self.cleaned = true;
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if !self.cleaned {
            cleanup_blocking(&self.cfg);
        }
    }
}

/// A gateway running on its [`TestEnv`]; derefs to the [`Gateway`]. When
/// dropped while running, it is told to shut down before its broker
/// objects are deleted.
pub struct TestApp {
    gw: Option<Gateway>,
    env: TestEnv,
}

impl TestApp {
    pub fn builder<'a>() -> AppBuilder<'a> {
        AppBuilder::default()
    }

    pub fn cfg(&self) -> &Config {
        &self.env.cfg
    }

    pub fn prefix(&self) -> &str {
        self.env.prefix()
    }

    pub fn dir(&self) -> &Path {
        self.env.dir()
    }

    /// Stop the gateway, then delete the broker objects of its prefix.
    pub async fn stop(mut self) {
        if let Some(gw) = self.gw.take() {
            gw.stop().await;
        }
        self.env.clean().await;
    }

    /// Stop the gateway and start it again on the same data directory.
    pub async fn restart(&mut self) {
        self.stop_gateway().await;
        self.start_gateway().await;
    }

    /// Stop the gateway only, to start it again later ([`Self::start_gateway`]).
    pub async fn stop_gateway(&mut self) {
        if let Some(gw) = self.gw.take() {
            gw.stop().await;
        }
    }

    /// Start the gateway again after [`Self::stop_gateway`] (see [`restart`]).
    pub async fn start_gateway(&mut self) {
        assert!(self.gw.is_none(), "the gateway is already running");
        self.gw = Some(restart(&self.env.cfg).await);
    }
}

impl Deref for TestApp {
    type Target = Gateway;

    fn deref(&self) -> &Gateway {
        self.gw.as_ref().expect("the gateway is running")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(gw) = &self.gw {
            gw.shutdown.cancel();
        }
    }
}

/// Start the gateway again on `cfg`'s data directory after a stop. Under a
/// loaded machine the previous gateway's store can still hold sled's lock
/// for a while after `stop()` returned (seen in CI: "could not acquire
/// lock"; the cause is not yet found), so a start refused for that reason is
/// retried for up to 30 s and reported on stderr.
pub async fn restart(cfg: &Config) -> Gateway {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match pintu::serve::start(cfg.clone()).await {
            Ok(gw) => return gw,
            Err(e) if Instant::now() < deadline && format!("{e:?}").contains("could not acquire lock") => {
                eprintln!("restart: store still locked, retrying: {e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("gateway did not restart: {e:?}"),
        }
    }
}

/// The router worker in-process on `cfg` until the sender fires (or is
/// dropped); the task returns the worker's result.
pub fn spawn_router(cfg: &Config) -> (oneshot::Sender<()>, JoinHandle<Result<(), RouteError>>) {
    let engine = Arc::new(Engine::from_config(cfg).expect("routing tables load"));
    let (tx, rx) = oneshot::channel::<()>();
    let cfg = cfg.clone();
    let task = tokio::spawn(async move {
        run_worker(&cfg, engine, None, Arc::new(RouteStats::default()), async {
            let _ = rx.await;
        })
        .await
    });
    (tx, task)
}
