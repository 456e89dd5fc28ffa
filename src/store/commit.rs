//! Group commit: many concurrent requests share one `fsync`.
//!
//! sled 0.34.7's `flush_async` deadlocks when several tasks call it at once
//! (spacejam/sled#1308), so one dedicated thread runs the blocking `flush()`
//! and wakes every request that was waiting when the flush started. A request
//! that arrives during a flush waits for the next one, because its write may
//! not be covered by the flush in progress.

use std::sync::mpsc;
use std::thread;

use tokio::sync::oneshot;

use super::{Failure, StoreError};

/// sled's error is `Clone`: every waiter of a flush gets the error itself.
type Waiter = oneshot::Sender<Result<(), sled::Error>>;

pub struct GroupCommit {
    tx: mpsc::Sender<Waiter>,
}

/// Fires when the commit thread has dropped its handle on the database, i.e.
/// when the last [`GroupCommit`] is gone; sled releases its directory lock then.
pub struct Closed(mpsc::Receiver<()>);

impl Closed {
    /// Wait (blocking) up to `timeout`; true when the thread is gone.
    pub fn wait(self, timeout: std::time::Duration) -> bool {
        !matches!(self.0.recv_timeout(timeout), Err(mpsc::RecvTimeoutError::Timeout))
    }
}

impl GroupCommit {
    pub fn start(db: sled::Db) -> (GroupCommit, Closed) {
        let (tx, rx) = mpsc::channel::<Waiter>();
        let (closed_tx, closed_rx) = mpsc::channel::<()>();
        let spawned = thread::Builder::new().name("sled-group-commit".into()).spawn(move || {
            let _closed = closed_tx;
            while let Ok(first) = rx.recv() {
                let mut waiters = vec![first];
                waiters.extend(rx.try_iter());
                let result = db.flush().map(|_| ());
                metrics::counter!("pintu_store_flushes_total").increment(1);
                metrics::histogram!("pintu_store_flush_batch").record(waiters.len() as f64);
                for w in waiters {
                    let _ = w.send(result.clone());
                }
            }
            // Release the database before signalling (captures drop only after
            // the body, i.e. after `_closed`).
            drop(db);
        });
        if let Err(e) = spawned {
            // Without the thread every flush() below reports an error, so intake
            // answers 503 instead of acknowledging what is not durable.
            tracing::error!(error = %e, "cannot start the group-commit thread");
        }
        (GroupCommit { tx }, Closed(closed_rx))
    }

    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(tx)
            .map_err(|_| StoreError::Flush(Failure::Gone("group-commit thread")))?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Flush(Failure::Sled(e))),
            Err(_) => Err(StoreError::Flush(Failure::Gone("group-commit thread"))),
        }
    }
}
