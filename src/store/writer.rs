//! The intake writer: one thread commits the complaints of many concurrent
//! requests in one sled transaction, then one flush, then answers them all.
//!
//! sled 0.34 serialises transactions behind a global lock; a transaction per
//! request from many tokio workers spent most of its time in futex waits (and
//! blocked the runtime's threads). Batching keeps the contract — dedupe keys,
//! tracking-code counter and outbox entries of a complaint commit atomically, and
//! nothing is answered before it is on disk — at a fraction of the cost. Jobs
//! of one batch see each other's writes, so two copies of the same message in
//! one batch still dedupe.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional;
use tokio::sync::oneshot;

use super::codes::{decode_next, NEXT_KEY};
use super::dedupe::Record;
use super::outbox::{Committed, Envelope, Key};
use super::{Failure, Store, StoreError};

/// Largest number of complaints committed in one transaction.
const MAX_BATCH: usize = 512;

/// Everything one complaint writes, prepared by the caller.
pub struct Job {
    /// Provider key and sender+text key.
    pub dedupe_keys: Vec<Vec<u8>>,
    /// Encoded [`Record`] stored under each dedupe key.
    pub record: Vec<u8>,
    /// Records that expire before this do not count.
    pub now: u64,
    /// Number of the complaint's tracking code (see [`super::codes`]); none
    /// for a release, whose code was counted when it was held.
    pub code_number: Option<u64>,
    /// Outbox entries of the complaint (and its reply).
    pub outbox: Vec<Staged>,
    /// Set for [`Job::release`]: the key to take the held complaint from.
    pub release: Option<Key>,
    /// SMS parts (group key, part keys) consumed by this complaint.
    pub cleanup: Option<(Vec<u8>, Vec<Vec<u8>>)>,
    /// Flood control holds the complaint: (key, encoded
    /// [`super::held::Held`]) is written instead of outbox entries.
    pub hold: Option<(Key, Vec<u8>)>,
}

impl Job {
    /// A held complaint released by an operator: move it from the held tree
    /// to the outbox, and clear the held flag of its dedupe records.
    pub fn release(key: Key, held: &super::held::Held, with_reply: bool) -> Job {
        let mut outbox = vec![Staged::new(super::outbox::new_key(), held.complaint.clone())];
        if let (true, Some(reply)) = (with_reply, &held.reply) {
            outbox.push(Staged::new(super::outbox::new_key(), reply.clone()));
        }
        Job {
            dedupe_keys: held.dedupe_keys.clone(),
            record: Vec::new(),
            now: 0,
            code_number: None,
            outbox,
            cleanup: None,
            hold: None,
            release: Some(key),
        }
    }
}

/// One outbox entry, encoded for sled and kept whole for the relay's feed.
pub struct Staged {
    pub key: Key,
    pub bytes: Vec<u8>,
    pub envelope: Envelope,
}

impl Staged {
    pub fn new(key: Key, envelope: Envelope) -> Staged {
        Staged {
            key,
            bytes: envelope.encode(),
            envelope,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Inserted,
    Duplicate(Record),
    /// A release whose complaint is no longer held (released meanwhile).
    NotHeld,
}

/// Why a batch was not written.
#[derive(Debug, Clone)]
enum Refused {
    /// Checked before writing: nothing was written (see [`super::health`]).
    Full { free: u64, reserve: u64 },
    /// Anything else; shared by every waiter of the batch.
    Failed(Arc<StoreError>),
}

type Reply = oneshot::Sender<Result<Outcome, Refused>>;

pub struct Writer {
    tx: mpsc::Sender<(Job, Reply)>,
}

impl Writer {
    /// Start the writer thread; it hands what it committed to `feed`.
    pub fn start(store: &Store, feed: impl Committed) -> Writer {
        let (tx, rx) = mpsc::channel::<(Job, Reply)>();
        // A whole Store clone, not just trees: it keeps the group-commit thread
        // (whose exit signals "closed") alive until this thread let go of the db.
        let store = store.clone();
        let spawned = thread::Builder::new().name("intake-writer".into()).spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(j) => batch.push(j),
                        Err(_) => break,
                    }
                }
                metrics::histogram!("pintu_store_write_batch").record(batch.len() as f64);
                match commit(&store, &batch) {
                    Ok(outcomes) => {
                        for ((job, reply), outcome) in batch.into_iter().zip(outcomes) {
                            if matches!(outcome, Outcome::Inserted) {
                                // Durable: the relay may publish it from memory.
                                for e in job.outbox {
                                    feed.announce(e.key, e.envelope);
                                }
                            }
                            let _ = reply.send(Ok(outcome));
                        }
                    }
                    Err(e) => {
                        for (_, reply) in batch {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
            }
            drop(store);
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the intake writer");
        }
        Writer { tx }
    }

    /// Commit one complaint; resolves once it is durable (or a duplicate of one that is).
    pub async fn write(&self, job: Job) -> Result<Outcome, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((job, tx))
            .map_err(|_| StoreError::Flush(Failure::Gone("intake writer")))?;
        match rx.await {
            Ok(Ok(o)) => Ok(o),
            Ok(Err(Refused::Full { free, reserve })) => Err(StoreError::Full { free, reserve }),
            Ok(Err(Refused::Failed(e))) => Err(StoreError::Shared(e)),
            Err(_) => Err(StoreError::Flush(Failure::Gone("intake writer"))),
        }
    }
}

/// Commit one batch in one transaction and flush it.
fn commit(store: &Store, batch: &[(Job, Reply)]) -> Result<Vec<Outcome>, Refused> {
    // sled must never meet a full disk (it would refuse every write until
    // reopened): check the reserve first, and write nothing if it is short.
    match store.health.check() {
        Ok(()) => {}
        Err(StoreError::Full { free, reserve }) => return Err(Refused::Full { free, reserve }),
        Err(e) => return Err(Refused::Failed(Arc::new(e))),
    }
    // Counted before the entries become visible: the relay can only uncount
    // what it found in the tree, so the figure never needs to go below zero
    // (see `Backlog`). Undone below for what was not written.
    let staged: u64 = batch.iter().map(|(j, _)| j.outbox.len() as u64).sum();
    store.backlog.add(staged);
    let (dd, mt, ob, pt, pg, qt) = (
        &store.dedupe,
        &store.meta,
        &store.outbox,
        &store.parts,
        &store.part_groups,
        &store.flood_held,
    );
    let committed = (dd, mt, ob, pt, pg, qt).transaction(|(dd, mt, ob, pt, pg, qt)| {
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut next_code = None;
        for (job, _) in batch {
            let outcome = match job.release {
                Some(key) => release(job, key, dd, ob, qt)?,
                None => apply(job, dd, ob, pt, pg, qt)?,
            };
            if let (Outcome::Inserted, Some(n)) = (&outcome, job.code_number) {
                next_code = next_code.max(Some(n + 1));
            }
            outcomes.push(outcome);
        }
        // The code counter moves with the complaints that used it.
        if let Some(next) = next_code {
            let stored = match mt.get(NEXT_KEY)? {
                Some(v) => decode_next(&v).unwrap_or(0),
                None => 0,
            };
            if next > stored {
                mt.insert(NEXT_KEY, &next.to_be_bytes()[..])?;
            }
        }
        Ok::<_, ConflictableTransactionError<()>>(outcomes)
    });
    let outcomes = match committed {
        Ok(outcomes) => outcomes,
        Err(e) => {
            store.backlog.remove(staged);
            let e = match e {
                TransactionError::Storage(e) => {
                    store.health.note(&e);
                    StoreError::Sled(e)
                }
                TransactionError::Abort(()) => StoreError::Aborted,
            };
            return Err(Refused::Failed(Arc::new(e)));
        }
    };
    let written: u64 = batch
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, Outcome::Inserted))
        .map(|((j, _), _)| j.outbox.len() as u64)
        .sum();
    // Duplicates wrote nothing. A failed flush below leaves the rest
    // counted: it is in the tree either way.
    store.backlog.remove(staged - written);
    for ((job, _), outcome) in batch.iter().zip(&outcomes) {
        if matches!(outcome, Outcome::Inserted) {
            if job.hold.is_some() {
                store.held.fetch_add(1, Ordering::Relaxed);
            } else if job.release.is_some() {
                let _ = store
                    .held
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
            }
        }
    }
    if let Err(e) = store.db.flush() {
        // sled refuses every write from now on: the store must be reopened.
        store.health.fail(Failure::Sled(e.clone()));
        return Err(Refused::Failed(Arc::new(StoreError::Flush(Failure::Sled(e)))));
    }
    Ok(outcomes)
}

fn apply(
    job: &Job,
    dd: &TransactionalTree,
    ob: &TransactionalTree,
    pt: &TransactionalTree,
    pg: &TransactionalTree,
    qt: &TransactionalTree,
) -> Result<Outcome, UnabortableTransactionError> {
    for key in &job.dedupe_keys {
        if let Some(v) = dd.get(key)? {
            match Record::decode(&v) {
                Ok(r) if r.expires_at > job.now => return Ok(Outcome::Duplicate(r)),
                // Expired or unreadable: the key is free again.
                _ => {}
            }
        }
    }
    for key in &job.dedupe_keys {
        dd.insert(key.as_slice(), job.record.as_slice())?;
    }
    for e in &job.outbox {
        ob.insert(&e.key[..], e.bytes.as_slice())?;
    }
    if let Some((key, held)) = &job.hold {
        qt.insert(&key[..], held.as_slice())?;
    }
    if let Some((group, parts)) = &job.cleanup {
        pg.remove(group.as_slice())?;
        for p in parts {
            pt.remove(p.as_slice())?;
        }
    }
    Ok(Outcome::Inserted)
}

/// Move a held complaint to the outbox; its dedupe records (if still its
/// own) no longer say held, so a resend is answered with its code.
fn release(
    job: &Job,
    key: Key,
    dd: &TransactionalTree,
    ob: &TransactionalTree,
    qt: &TransactionalTree,
) -> Result<Outcome, UnabortableTransactionError> {
    if qt.remove(&key[..])?.is_none() {
        return Ok(Outcome::NotHeld);
    }
    let id = ulid::Ulid::from_bytes(key).to_string();
    for k in &job.dedupe_keys {
        if let Some(v) = dd.get(k)? {
            if let Ok(r) = Record::decode(&v) {
                if r.held && r.id == id {
                    dd.insert(k.as_slice(), Record { held: false, ..r }.encode())?;
                }
            }
        }
    }
    for e in &job.outbox {
        ob.insert(&e.key[..], e.bytes.as_slice())?;
    }
    Ok(Outcome::Inserted)
}
