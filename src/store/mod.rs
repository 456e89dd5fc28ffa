//! The gateway's sled database: dedupe records, the outbox, tracking codes and
//! SMS parts waiting for their siblings.
//!
//! sled locks its directory, so each process opens its own (`data_dir/gateway`
//! for `serve`, `data_dir/router` for `route`).

mod backlog;
pub(crate) mod codes;
mod commit;
pub(crate) mod config;
pub mod dedupe;
mod flow;
mod health;
pub(crate) mod held;
pub mod outbox;
pub(crate) mod parts;
pub(crate) mod reservation;
pub(crate) mod writer;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use thiserror::Error;

pub use backlog::Backlog;
pub use commit::{Closed, GroupCommit};
pub use health::Failure;
pub use reservation::UNCONFIRMED_GAP;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    #[error("storage flush failed: {0}")]
    Flush(#[source] Failure),
    /// A record that does not read back. `reason` says why in words (the
    /// decoder's own, when there is one); `source` keeps the decoder's error.
    #[error("corrupt record in `{tree}`: {reason}")]
    Corrupt {
        tree: &'static str,
        reason: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("all 2^26 tracking codes of this node are issued: give it an unused node.id and a new data directory (docs/scale-out.md)")]
    CodesExhausted,
    #[error("this data directory issued tracking codes as node {stored}, but node.id is {configured}: a node id belongs to its data directory (docs/scale-out.md)")]
    TrackingNode { stored: u8, configured: u8 },
    #[error("this data directory issued tracking codes with another key than the configured node.tracking_key: its codes would be issued again (docs/scale-out.md)")]
    TrackingKey,
    #[error("no tracking codes reserved yet")]
    NotReserved,
    #[error("not issuing tracking codes: {0}")]
    NodeBlocked(String),
    #[error("secret key file {path}: shorter than 32 bytes")]
    SecretShort { path: String },
    #[error("secret key file {path}: {source}")]
    Secret {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("disk almost full: {} MiB free, {} MiB kept in reserve", free >> 20, reserve >> 20)]
    Full { free: u64, reserve: u64 },
    #[error("store failed and must be reopened: {0}")]
    Failed(#[source] Failure),
    #[error("storage transaction aborted")]
    Aborted,
    /// One failure shared by every complaint of an intake writer batch
    /// (each waiter gets the same error, see [`writer`]).
    #[error(transparent)]
    Shared(Arc<StoreError>),
}

impl StoreError {
    /// A record that breaks an invariant of its own (a wrong length).
    pub fn corrupt(tree: &'static str, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            tree,
            reason: reason.into(),
            source: None,
        }
    }

    /// A record its decoder (bincode, serde_json) refused.
    pub fn undecodable(tree: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError::Corrupt {
            tree,
            reason: source.to_string(),
            source: Some(Box::new(source)),
        }
    }
}

/// Open trees of the gateway database.
#[derive(Clone)]
pub struct Store {
    pub db: sled::Db,
    pub dedupe: sled::Tree,
    pub outbox: sled::Tree,
    /// Tracking codes: issued from a counter, see [`codes`].
    pub codes: Arc<codes::Issuer>,
    /// Small durable values (the tracking-code counter).
    pub meta: sled::Tree,
    pub parts: sled::Tree,
    pub part_groups: sled::Tree,
    pub committer: Arc<GroupCommit>,
    /// Outbox entries not yet confirmed by the broker (see [`backlog`]).
    pub backlog: Arc<Backlog>,
    /// Intake waits here while the relay is behind (see [`flow`]).
    pub flow: Arc<flow::Flow>,
    /// Whether writes can succeed (free space, sled's state; see [`health`]).
    pub health: Arc<health::StoreHealth>,
    /// Messages held by flood control (see [`held`]).
    pub flood_held: sled::Tree,
    /// How many: counted like the backlog (sled's `len` is a full scan).
    pub held: Arc<AtomicU64>,
    /// The dedupe tree still holds records keyed by provider id alone
    /// (written by earlier versions; see [`dedupe`]).
    pub legacy_provider_keys: Arc<AtomicBool>,
}

/// Who issues this store's tracking codes: the node id and the cluster's key
/// (`None`: the key in `tracking.key`, made on first use).
#[derive(Clone, Default)]
pub struct Identity {
    pub node: u8,
    pub key: Option<Vec<u8>>,
}

impl Store {
    /// Open the database as a single node (node 0, the key in
    /// `tracking.key`); the [`Closed`] signal fires once every clone of the
    /// store is dropped and the directory can be opened again.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<(Store, Closed), StoreError> {
        Store::open_as(dir, cache_bytes, &Identity::default())
    }

    /// [`Store::open`] as node `who.node` with its key.
    pub fn open_as(dir: &Path, cache_bytes: u64, who: &Identity) -> Result<(Store, Closed), StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .flush_every_ms(Some(500))
            .open()?;
        let outbox = db.open_tree("outbox")?;
        let depth = outbox.len() as u64;
        let (committer, closed) = GroupCommit::start(db.clone());
        let backlog = Arc::new(Backlog::new(depth));
        let meta = db.open_tree("meta")?;
        // Codes issued before the counter existed (random, kept in a table).
        let legacy = db.open_tree("tracking")?;
        let file = dir.join("tracking.key");
        let (key, history_key) = match &who.key {
            // Codes this store issued before it recorded its key id were
            // made with the file's key, if there is one.
            Some(k) => (k.clone(), file.exists().then(|| key_file(&file)).transpose()?),
            None => (key_file(&file)?, None),
        };
        let codes = codes::Issuer::open(who.node, &key, history_key.as_deref(), &meta, legacy)?;
        let dedupe = db.open_tree("dedupe")?;
        let flood_held = db.open_tree(held::TREE)?;
        let held = Arc::new(AtomicU64::new(flood_held.len() as u64));
        let legacy_provider_keys = Arc::new(AtomicBool::new(dedupe::has_legacy_provider_keys(&dedupe)));
        let store = Store {
            codes: Arc::new(codes),
            meta,
            dedupe,
            flood_held,
            held,
            legacy_provider_keys,
            outbox,
            parts: db.open_tree("parts")?,
            part_groups: db.open_tree("part_groups")?,
            committer: Arc::new(committer),
            flow: Arc::new(flow::Flow::new(backlog.clone())),
            health: Arc::new(health::StoreHealth::new(dir)),
            backlog,
            db,
        };
        Ok((store, closed))
    }

    /// Write a reservation ceiling and wait until it is on disk; only then
    /// may codes below it be issued.
    pub async fn reserve_locally(&self, ceiling: u64) -> Result<(), StoreError> {
        reservation::store_ceiling(&self.meta, ceiling)?;
        self.flush().await?;
        self.codes.reserved_up_to(ceiling);
        Ok(())
    }

    pub fn outbox_depth(&self) -> u64 {
        self.backlog.get()
    }

    /// Wait until everything written so far is on disk (shared flush).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let r = self.committer.flush().await;
        if let Err(StoreError::Flush(e)) = &r {
            // sled reports a failed flush once and then refuses every write.
            self.health.fail(e.clone());
        }
        r
    }
}

/// A 32-byte secret kept in `path`, created (0600) with random bytes on first use.
pub fn key_file(path: &Path) -> Result<Vec<u8>, StoreError> {
    let err = |source: std::io::Error| StoreError::Secret {
        path: path.display().to_string(),
        source,
    };
    match fs::read(path) {
        Ok(k) if k.len() >= 32 => return Ok(k),
        Ok(_) => {
            return Err(StoreError::SecretShort {
                path: path.display().to_string(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let key: [u8; 32] = rand::random();
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(err)?;
    f.write_all(&key).and_then(|_| f.sync_all()).map_err(err)?;
    Ok(key.to_vec())
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn a_key_file_that_cannot_be_created_keeps_the_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = key_file(&dir.path().join("no-such-dir/key")).unwrap_err();
        assert!(matches!(e, StoreError::Secret { .. }), "{e}");
        let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(io.map(std::io::Error::kind), Some(std::io::ErrorKind::NotFound), "{e}");
    }
}
