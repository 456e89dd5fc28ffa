//! The gateway's sled database: dedupe records, the outbox, tracking codes and
//! SMS parts waiting for their siblings.
//!
//! sled locks its directory, so each process opens its own (`data_dir/gateway`
//! for `serve`, `data_dir/router` for `route`).

pub mod commit;
pub mod dedupe;
pub mod flow;
pub mod outbox;
pub mod parts;
pub mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use thiserror::Error;

pub use commit::{Closed, GroupCommit};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    #[error("storage flush failed: {0}")]
    Flush(String),
    #[error("corrupt record in `{tree}`: {reason}")]
    Corrupt { tree: &'static str, reason: String },
    #[error("secret key file {path}: {reason}")]
    Secret { path: String, reason: String },
}

/// Open trees of the gateway database.
#[derive(Clone)]
pub struct Store {
    pub db: sled::Db,
    pub dedupe: sled::Tree,
    pub outbox: sled::Tree,
    /// tracking code → complaint id; kept forever so codes stay unique.
    pub tracking: sled::Tree,
    pub parts: sled::Tree,
    pub part_groups: sled::Tree,
    pub committer: Arc<GroupCommit>,
    /// Outbox entries not yet confirmed by the broker (sled's `len` is a full scan).
    pub outbox_depth: Arc<AtomicU64>,
    /// Intake waits here while the relay is behind (see [`flow`]).
    pub flow: Arc<flow::Flow>,
}

impl Store {
    /// Open the database; the [`Closed`] signal fires once every clone of the
    /// store is dropped and the directory can be opened again.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<(Store, Closed), StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .flush_every_ms(Some(500))
            .open()?;
        let outbox = db.open_tree("outbox")?;
        let depth = outbox.len() as u64;
        let (committer, closed) = GroupCommit::start(db.clone());
        let outbox_depth = Arc::new(AtomicU64::new(depth));
        let store = Store {
            dedupe: db.open_tree("dedupe")?,
            outbox,
            tracking: db.open_tree("tracking")?,
            parts: db.open_tree("parts")?,
            part_groups: db.open_tree("part_groups")?,
            committer: Arc::new(committer),
            flow: Arc::new(flow::Flow::new(outbox_depth.clone())),
            outbox_depth,
            db,
        };
        Ok((store, closed))
    }

    pub fn outbox_depth(&self) -> u64 {
        self.outbox_depth.load(Ordering::Relaxed)
    }

    /// Wait until everything written so far is on disk (shared flush).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.committer.flush().await
    }
}
