//! Can the gateway's store take writes? Free space and sled's own state.
//!
//! sled 0.34 treats the first failed write of its log (ENOSPC included) as
//! fatal for the open database: every later write fails with the same error
//! until the database is opened again, even after space was freed. So the
//! gateway never lets sled run out of space: before each batch the intake
//! writer checks that the data directory's file system keeps
//! `outbox.min_free_bytes` free, and refuses the batch otherwise (503,
//! nothing half-written). Writes resume by themselves as soon as space is
//! back, and a background probe keeps the state current without traffic, so
//! health checks turn green again and traffic returns.
//!
//! Should sled fail anyway (another process filled the disk between the check
//! and the write, an I/O error), the store is marked failed for good and
//! [`StoreHealth::failed`] fires: `serve` then reopens the store by restarting
//! the gateway in-process. `/healthz` and `/readyz` report both states.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::StoreError;

/// Why the store failed for good: sled's own error, or a thread the store
/// cannot write without. `Clone`: the state is read by every health check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Sled(#[source] sled::Error),
    #[error("{0} is gone")]
    Gone(&'static str),
}

/// What `/healthz` reports about the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Writable,
    /// Less free space than the reserve: writes are refused until there is more.
    Full {
        free: u64,
        reserve: u64,
    },
    /// sled reported a write error; the database must be reopened.
    Failed(Failure),
}

impl State {
    pub fn name(&self) -> &'static str {
        match self {
            State::Writable => "writable",
            State::Full { .. } => "full",
            State::Failed(_) => "failed",
        }
    }

    pub fn detail(&self) -> Option<String> {
        match self {
            State::Writable => None,
            State::Full { free, reserve } => Some(format!(
                "{} MiB free on the data directory's file system, {} MiB reserved",
                free >> 20,
                reserve >> 20
            )),
            State::Failed(e) => Some(format!("write failed, store will be reopened: {e}")),
        }
    }
}

pub struct StoreHealth {
    dir: PathBuf,
    /// Bytes that must stay free; 0 turns the check off.
    reserve: AtomicU64,
    state: Mutex<State>,
    failed: CancellationToken,
}

impl StoreHealth {
    /// Sound and unchecked until [`StoreHealth::set_reserve`] (`serve` sets
    /// `outbox.min_free_bytes`).
    pub fn new(dir: &Path) -> StoreHealth {
        metrics::gauge!("pintu_store_writable").set(1.0);
        StoreHealth {
            dir: dir.to_path_buf(),
            reserve: AtomicU64::new(0),
            state: Mutex::new(State::Writable),
            failed: CancellationToken::new(),
        }
    }

    /// Bytes that must stay free on the data directory's file system (0: no check).
    pub fn set_reserve(&self, bytes: u64) {
        self.reserve.store(bytes, Ordering::Relaxed);
    }

    pub fn state(&self) -> State {
        self.state.lock().clone()
    }

    pub fn writable(&self) -> bool {
        matches!(*self.state.lock(), State::Writable)
    }

    /// Check before writing: Ok while the store is sound and space remains.
    pub fn check(&self) -> Result<(), StoreError> {
        let reserve = self.reserve.load(Ordering::Relaxed);
        let next = match self.state() {
            State::Failed(e) => return Err(StoreError::Failed(e)),
            _ if reserve == 0 => State::Writable,
            _ => match free_bytes(&self.dir) {
                Ok(free) if free < reserve => State::Full { free, reserve },
                Ok(_) => State::Writable,
                // Cannot tell: let sled try (it reports real failures itself).
                Err(e) => {
                    warn!(error = %e, dir = %self.dir.display(), "cannot read free space of the data directory");
                    State::Writable
                }
            },
        };
        let result = match &next {
            State::Full { free, reserve } => Err(StoreError::Full {
                free: *free,
                reserve: *reserve,
            }),
            _ => Ok(()),
        };
        self.set(next);
        result
    }

    /// A write to sled failed: the database is unusable until reopened.
    pub fn fail(&self, e: Failure) {
        self.set(State::Failed(e));
        self.failed.cancel();
    }

    /// Note an error from sled; an I/O error means the database failed.
    pub fn note(&self, e: &sled::Error) {
        if matches!(e, sled::Error::Io(_)) {
            self.fail(Failure::Sled(e.clone()));
        }
    }

    /// Fires once when the store failed and has to be reopened.
    pub fn failed(&self) -> CancellationToken {
        self.failed.clone()
    }

    fn set(&self, next: State) {
        let mut state = self.state.lock();
        // Failed is final for this open database.
        if matches!(*state, State::Failed(_)) {
            return;
        }
        // A change of free space alone (Full → Full) is not worth a log line.
        if std::mem::discriminant(&*state) != std::mem::discriminant(&next) {
            match &next {
                State::Writable => info!("store writable again"),
                State::Full { .. } => warn!(detail = ?next.detail(), "store refuses writes: disk almost full"),
                State::Failed(e) => error!(error = %e, "store write failed; it will be reopened"),
            }
            let up = matches!(next, State::Writable);
            metrics::gauge!("pintu_store_writable").set(if up { 1.0 } else { 0.0 });
        }
        *state = next;
    }
}

/// Bytes available to this (unprivileged) process on `dir`'s file system.
fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `path` is a valid NUL-terminated string and `st` a properly
    // sized, writable statvfs struct; statvfs only writes into it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_larger_than_the_disk_refuses_and_failure_is_final() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        let h = StoreHealth::new(dir.path());
        h.set_reserve(u64::MAX);
        assert!(matches!(h.check(), Err(StoreError::Full { .. })));
        assert_eq!(h.state().name(), "full");
        h.set_reserve(1);
        assert!(h.check().is_ok(), "writable again once space is there");
        let off = StoreHealth::new(dir.path());
        assert!(off.check().is_ok());
        assert!(off.writable());
        off.fail(Failure::Gone("test thread"));
        assert!(off.failed().is_cancelled());
        assert!(matches!(off.check(), Err(StoreError::Failed(_))));
        off.set(State::Writable);
        assert_eq!(off.state().name(), "failed", "only reopening clears a failure");
    }

    #[test]
    fn a_failed_store_reports_sleds_own_error_as_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let h = StoreHealth::new(dir.path());
        h.note(&sled::Error::Io(std::io::Error::other("disk gone")));
        let e = h.check().unwrap_err();
        assert!(matches!(e, StoreError::Failed(_)), "{e}");
        let mut cause = std::error::Error::source(&e);
        let mut found = None;
        while let Some(c) = cause {
            found = found.or(c.downcast_ref::<sled::Error>());
            cause = c.source();
        }
        assert!(matches!(found, Some(sled::Error::Io(_))), "{e}");
        assert!(e.to_string().contains("disk gone"), "{e}");
    }
}
