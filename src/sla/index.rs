//! The durable deadline index (sled): one record per open complaint and
//! every pending timer under a key that sorts by due time, so "everything
//! due by now" is one ordered range scan from the start of the tree, and a
//! tick costs what is due, not what is open.
//!
//! Trees: `clocks` (complaint id → [`ClockRecord`], bincode) and `due`
//! (`due ms, big-endian` ‖ `timer tag` ‖ `level` ‖ `complaint id` → empty).
//! A record and its timers change in one transaction, so a crash never leaves
//! a timer without its clock or a clock with stale timers. A timer is removed
//! ([`SlaIndex::complete`]) only after what it announced was confirmed by the
//! broker: after a crash in between it fires again, with the same event id.

use std::path::Path;

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use thiserror::Error;

use super::aggregate::{cell_key, Bump, Cell};
use super::deadlines::{ClockRecord, Outcome, Timer, TimerKind};

#[derive(Debug, Error)]
pub enum IndexError {
    #[error("sla index: {0}")]
    Sled(#[from] sled::Error),
    #[error("sla index: record of {id} is unreadable: {source}")]
    Corrupt {
        id: String,
        #[source]
        source: bincode::Error,
    },
    #[error("sla index: cannot encode: {0}")]
    Encode(#[source] bincode::Error),
}

impl From<TransactionError<IndexError>> for IndexError {
    fn from(e: TransactionError<IndexError>) -> IndexError {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => IndexError::Sled(e),
        }
    }
}

/// A timer that is due, as found in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    pub id: String,
    pub timer: Timer,
    key: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct SlaIndex {
    db: sled::Db,
    clocks: sled::Tree,
    due: sled::Tree,
    agg: sled::Tree,
}

fn due_key(id: &str, t: &Timer) -> Vec<u8> {
    let mut k = Vec::with_capacity(10 + id.len());
    // Negative instants (before 1970) cannot come from a validated event;
    // clamp so the key order stays the time order.
    k.extend_from_slice(&(t.at_ms.max(0) as u64).to_be_bytes());
    k.push(t.kind.tag());
    k.push(t.level);
    k.extend_from_slice(id.as_bytes());
    k
}

/// Add `bumps` to the cell `key` inside a transaction.
fn bump(
    agg: &sled::transaction::TransactionalTree,
    key: &[u8],
    bumps: &[Bump],
) -> Result<(), ConflictableTransactionError<IndexError>> {
    if bumps.is_empty() {
        return Ok(());
    }
    // An unreadable cell is restarted rather than blocking the clock.
    let mut cell: Cell = match agg.get(key)? {
        Some(v) => bincode::deserialize(&v).unwrap_or_default(),
        None => Cell::default(),
    };
    for b in bumps {
        b.apply(&mut cell);
    }
    let enc = bincode::serialize(&cell).map_err(|e| ConflictableTransactionError::Abort(IndexError::Encode(e)))?;
    agg.insert(key, enc)?;
    Ok(())
}

fn parse_due_key(k: &[u8]) -> Option<(String, Timer)> {
    let at = u64::from_be_bytes(k.get(..8)?.try_into().ok()?);
    let kind = TimerKind::from_tag(*k.get(8)?)?;
    let level = *k.get(9)?;
    let id = std::str::from_utf8(k.get(10..)?).ok()?.to_string();
    Some((
        id,
        Timer {
            at_ms: i64::try_from(at).ok()?,
            kind,
            level,
        },
    ))
}

impl SlaIndex {
    pub fn open(dir: &Path) -> Result<SlaIndex, IndexError> {
        let db = sled::Config::new().path(dir).open()?;
        SlaIndex::with_db(db)
    }

    /// An index in memory (benchmarks, unit tests).
    pub fn temporary() -> Result<SlaIndex, IndexError> {
        SlaIndex::with_db(sled::Config::new().temporary(true).open()?)
    }

    fn with_db(db: sled::Db) -> Result<SlaIndex, IndexError> {
        Ok(SlaIndex {
            clocks: db.open_tree("clocks")?,
            due: db.open_tree("due")?,
            agg: db.open_tree("agg")?,
            db,
        })
    }

    pub fn get(&self, id: &str) -> Result<Option<ClockRecord>, IndexError> {
        match self.clocks.get(id.as_bytes())? {
            Some(v) => bincode::deserialize(&v)
                .map(Some)
                .map_err(|source| IndexError::Corrupt { id: id.into(), source }),
            None => Ok(None),
        }
    }

    /// Store what [`super::deadlines::Planner::apply`] decided, replacing the
    /// complaint's timers, in one transaction.
    pub fn store(
        &self,
        id: &str,
        old: Option<&ClockRecord>,
        outcome: &Outcome,
        bumps: &[Bump],
    ) -> Result<(), IndexError> {
        let new = match outcome {
            Outcome::Ignore(_) => return Ok(()),
            Outcome::Put(r) => Some(r.as_ref()),
            Outcome::Remove => None,
        };
        let encoded = new.map(bincode::serialize).transpose().map_err(IndexError::Encode)?;
        let old_keys: Vec<Vec<u8>> = old
            .map(|o| o.timers.iter().map(|t| due_key(id, t)).collect())
            .unwrap_or_default();
        let new_keys: Vec<Vec<u8>> = new
            .map(|n| n.timers.iter().map(|t| due_key(id, t)).collect())
            .unwrap_or_default();
        let cell = new.map(cell_key);
        (&self.clocks, &self.due, &self.agg).transaction(|(clocks, due, agg)| {
            if let Some(k) = &cell {
                bump(agg, k, bumps)?;
            }
            for k in &old_keys {
                due.remove(k.as_slice())?;
            }
            for k in &new_keys {
                due.insert(k.as_slice(), &[])?;
            }
            match &encoded {
                Some(v) => clocks.insert(id.as_bytes(), v.as_slice())?,
                None => clocks.remove(id.as_bytes())?,
            };
            Ok::<_, ConflictableTransactionError<IndexError>>(())
        })?;
        Ok(())
    }

    /// Every aggregate cell, in key (day) order.
    pub fn cells(&self) -> impl Iterator<Item = Result<(Vec<u8>, Cell), IndexError>> + '_ {
        self.agg.iter().map(|kv| {
            let (k, v) = kv?;
            let cell = bincode::deserialize(&v).map_err(|source| IndexError::Corrupt {
                id: String::from_utf8_lossy(&k).into_owned(),
                source,
            })?;
            Ok((k.to_vec(), cell))
        })
    }

    /// Timers due at or before `now_ms`, oldest first, at most `limit`.
    /// Unreadable keys are skipped and logged (they cannot fire anything).
    pub fn due_until(&self, now_ms: i64, limit: usize) -> Result<Vec<DueTimer>, IndexError> {
        let end = ((now_ms.max(0) as u64).saturating_add(1)).to_be_bytes();
        let mut out = Vec::new();
        for kv in self.due.range(..end.to_vec()) {
            let (k, _) = kv?;
            match parse_due_key(&k) {
                Some((id, timer)) => out.push(DueTimer {
                    id,
                    timer,
                    key: k.to_vec(),
                }),
                None => tracing::warn!(key = %hex::encode(&k), "sla index: unreadable timer key skipped"),
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The timer fired and its events were confirmed: remove it and note it
    /// in the record (so a resumed clock does not plan it again). `apply`
    /// marks the stage overdue when the deadline itself fired.
    pub fn complete(&self, due: &DueTimer, mark: impl Fn(&mut ClockRecord) -> Option<Bump>) -> Result<(), IndexError> {
        let id = due.id.clone();
        (&self.clocks, &self.due, &self.agg).transaction(|(clocks, dtree, agg)| {
            dtree.remove(due.key.as_slice())?;
            let Some(v) = clocks.get(id.as_bytes())? else {
                return Ok(());
            };
            let mut r: ClockRecord = bincode::deserialize(&v).map_err(|source| {
                ConflictableTransactionError::Abort(IndexError::Corrupt { id: id.clone(), source })
            })?;
            r.timers.retain(|t| t != &due.timer);
            let f = (due.timer.kind.tag(), due.timer.level);
            if !r.fired.contains(&f) {
                r.fired.push(f);
            }
            if let Some(b) = mark(&mut r) {
                bump(agg, &cell_key(&r), &[b])?;
            }
            let enc = bincode::serialize(&r).map_err(|e| ConflictableTransactionError::Abort(IndexError::Encode(e)))?;
            clocks.insert(id.as_bytes(), enc)?;
            Ok(())
        })?;
        Ok(())
    }

    /// Drop a timer whose record is gone (nothing to announce).
    pub fn drop_timer(&self, due: &DueTimer) -> Result<(), IndexError> {
        self.due.remove(due.key.as_slice())?;
        Ok(())
    }

    /// Every open clock (ops summary, reports); a corrupt record is reported
    /// as an error item, not skipped silently.
    pub fn records(&self) -> impl Iterator<Item = Result<(String, ClockRecord), IndexError>> + '_ {
        self.clocks.iter().map(|kv| {
            let (k, v) = kv?;
            let id = String::from_utf8_lossy(&k).into_owned();
            bincode::deserialize(&v)
                .map(|r| (id.clone(), r))
                .map_err(|source| IndexError::Corrupt { id, source })
        })
    }

    pub fn open_count(&self) -> usize {
        self.clocks.len()
    }

    pub fn pending_timers(&self) -> usize {
        self.due.len()
    }

    pub fn flush(&self) -> Result<(), IndexError> {
        self.db.flush()?;
        Ok(())
    }
}
