//! The router's memory of its decisions: complaint id -> routing, in sled.
//!
//! The engine is deterministic, so a redelivered complaint gets the same
//! decision anyway; this store additionally keeps it identical across a table
//! change or a new release between the first delivery and the redelivery.
//! Keys are the complaint ids, which are ULIDs and so sort by time: pruning
//! old entries is one range scan from the start.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use thiserror::Error;

use crate::complaint::Routing;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("router database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("router database: {0}")]
    Sled(#[from] sled::Error),
    #[error("router database: bad record: {0}")]
    Decode(#[from] serde_json::Error),
}

#[derive(Clone)]
pub struct DecisionStore {
    tree: sled::Tree,
    db: sled::Db,
}

impl DecisionStore {
    /// Open (or create) the database; sled allows one process per directory.
    pub fn open(dir: &Path) -> Result<DecisionStore, StoreError> {
        let open_err = |source| StoreError::Open {
            path: dir.to_path_buf(),
            source,
        };
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(16 * 1024 * 1024)
            .open()
            .map_err(open_err)?;
        let tree = db.open_tree("decisions").map_err(open_err)?;
        Ok(DecisionStore { tree, db })
    }

    pub fn get(&self, id: &str) -> Result<Option<Routing>, StoreError> {
        match self.tree.get(id.as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// Remember a decision unless one is already there; returns the decision
    /// that counts (the earlier one if it exists).
    pub fn remember(&self, id: &str, routing: &Routing) -> Result<Routing, StoreError> {
        let bytes = serde_json::to_vec(routing)?;
        match self
            .tree
            .compare_and_swap(id.as_bytes(), None as Option<&[u8]>, Some(bytes))?
        {
            Ok(()) => Ok(routing.clone()),
            Err(cas) => match cas.current {
                Some(v) => Ok(serde_json::from_slice(&v)?),
                None => Ok(routing.clone()),
            },
        }
    }

    /// Drop decisions of complaints older than `keep` (by their ULID time).
    /// Ids that are not ULIDs sort after every ULID and are never pruned.
    pub fn prune(&self, keep: Duration) -> Result<usize, StoreError> {
        let cutoff = SystemTime::now().checked_sub(keep).unwrap_or(SystemTime::UNIX_EPOCH);
        let bound = ulid::Ulid::from_datetime(cutoff).to_string();
        let mut n = 0;
        for item in self.tree.range(..bound.as_bytes()) {
            let (k, _) = item?;
            self.tree.remove(k)?;
            n += 1;
        }
        Ok(n)
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Write everything to disk (at shutdown; sled also flushes periodically).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn routing(agency: &str) -> Routing {
        Routing {
            category: Some("kesehatan".into()),
            region: None,
            agency: agency.into(),
            report_type: "pengaduan".into(),
            reasons: vec![],
            router_version: "t".into(),
            routed_at: Utc::now(),
            confidence: Some(0.9),
            suggested_agency: None,
        }
    }

    #[test]
    fn first_decision_wins_and_old_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let s = DecisionStore::open(dir.path()).unwrap();
        let old = ulid::Ulid::from_datetime(SystemTime::now() - Duration::from_secs(30 * 86400)).to_string();
        let new = ulid::Ulid::new().to_string();
        assert_eq!(s.remember(&new, &routing("kemenkes")).unwrap().agency, "kemenkes");
        assert_eq!(s.remember(&new, &routing("triage")).unwrap().agency, "kemenkes");
        s.remember(&old, &routing("pln")).unwrap();
        assert_eq!(s.prune(Duration::from_secs(14 * 86400)).unwrap(), 1);
        assert!(s.get(&old).unwrap().is_none());
        assert_eq!(s.get(&new).unwrap().unwrap().agency, "kemenkes");
    }
}
