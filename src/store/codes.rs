//! Tracking codes issued from a durable counter, partitioned by node and
//! issued only inside a reservation.
//!
//! Code number `n` is a keyed permutation of `n` over the 2^30 codes (see
//! [`crate::tracking::Permutation`]), and `n` is this node's id in the top
//! bits and its own counter (`seq`) below ([`crate::tracking::compose`]): with
//! one key in the cluster, codes are unique across nodes by construction and
//! look random to citizens, and "did we issue this code?" is `seq < counter`
//! for our own codes. No table of issued codes: a million complaints used to
//! leave a million entries in sled (memory, and a lookup plus an insert per
//! complaint).
//!
//! Intake takes numbers from an in-memory counter; the intake writer stores
//! the highest number it committed, in the same transaction as the complaint.
//! After a crash the counter resumes after the last committed number: numbers
//! taken but never committed are simply issued again, which is safe because
//! nothing carrying them was acknowledged.
//!
//! A restored volume snapshot would resume from an old counter and issue
//! again what was issued since. So once the gateway manages this issuer
//! (`crate::node`), numbers are issued only below a *ceiling* reserved first
//! — written to this store and published to the broker, which outlives the
//! node's volume — and a start resumes above the highest ceiling either
//! knows ([`super::reservation`]). The store remembers which node and which
//! key issued its codes and refuses to open as another.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::tracking::{compose, key_id, Permutation, NODES, PER_NODE};

use super::reservation;
use super::StoreError;

/// Key of the counter in the `meta` tree: the next number to issue (u64 BE).
pub const NEXT_KEY: &[u8] = b"tracking.next";
/// The node id this store issues codes as (one byte).
pub const NODE_KEY: &[u8] = b"tracking.node";
/// [`key_id`] of the key this store issues codes with (8 bytes).
pub const KEY_ID_KEY: &[u8] = b"tracking.key_id";

/// `ceiling` while no reservation agent manages the issuer: a store opened
/// by a tool or a test issues as before reservations existed.
const UNMANAGED: u64 = u64::MAX;

/// How long intake waits for a reservation before answering 503.
const RESERVE_WAIT: Duration = Duration::from_secs(5);

pub struct Issuer {
    perm: Permutation,
    node: u8,
    key_id: [u8; 8],
    /// This node's next `seq`.
    next: AtomicU64,
    /// Numbers below this are never issued: taken before a skip (an
    /// earlier life of this node may have issued them), they are retaken.
    floor: AtomicU64,
    /// Numbers below this may be issued (see the module docs).
    ceiling: AtomicU64,
    /// The highest ceiling written to this store (never below `ceiling`).
    reserved: AtomicU64,
    /// The ceiling of every node as last heard (this node's: its own).
    known: Mutex<[u64; NODES]>,
    /// Why nothing may be issued now (this node's id is claimed elsewhere);
    /// `is_blocked` says whether there is a reason without taking the lock.
    blocked: Mutex<Option<String>>,
    is_blocked: AtomicBool,
    granted: Notify,
    wanted: Notify,
    /// Random codes issued by earlier versions; new codes must not repeat them.
    legacy: sled::Tree,
    has_legacy: bool,
}

impl Issuer {
    /// Open as `node` with `key`. `history_key` is the key of `tracking.key`
    /// when a key is configured: a store from before key ids were recorded
    /// issued its codes with that file's key, and must go on with it.
    pub fn open(
        node: u8,
        key: &[u8],
        history_key: Option<&[u8]>,
        meta: &sled::Tree,
        legacy: sled::Tree,
    ) -> Result<Issuer, StoreError> {
        let next = match meta.get(NEXT_KEY)? {
            Some(v) => decode_u64(&v)?,
            None => 0,
        };
        let has_legacy = !legacy.is_empty();
        let id = key_id(key);
        check_history(meta, node, id, history_key, next > 0 || has_legacy)?;
        if next > PER_NODE {
            return Err(StoreError::CodesExhausted);
        }
        let reserved = reservation::stored_ceiling(meta)?;
        let mut known = reservation::stored_known(meta)?;
        known[node as usize] = known[node as usize].max(reserved);
        Ok(Issuer {
            perm: Permutation::new(key),
            node,
            key_id: id,
            next: AtomicU64::new(next),
            floor: AtomicU64::new(0),
            ceiling: AtomicU64::new(UNMANAGED),
            reserved: AtomicU64::new(reserved),
            known: Mutex::new(known),
            blocked: Mutex::new(None),
            is_blocked: AtomicBool::new(false),
            granted: Notify::new(),
            wanted: Notify::new(),
            has_legacy,
            legacy,
        })
    }

    pub fn node(&self) -> u8 {
        self.node
    }

    pub fn key_id(&self) -> [u8; 8] {
        self.key_id
    }

    /// The next `seq` this node would issue.
    pub fn next(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }

    /// The highest ceiling this store has written.
    pub fn reserved(&self) -> u64 {
        self.reserved.load(Ordering::Relaxed)
    }

    /// Whether this store never issued a code nor reserved any (a new data
    /// directory, or a lost one's replacement).
    pub fn is_fresh(&self) -> bool {
        self.next() == 0 && self.reserved() == 0 && !self.has_legacy
    }

    /// The ceiling intake issues below (`None`: unmanaged).
    pub fn ceiling(&self) -> Option<u64> {
        Some(self.ceiling.load(Ordering::Relaxed)).filter(|&c| c != UNMANAGED)
    }

    /// A fresh code and its `seq` (store the `seq` with the complaint). Waits
    /// (up to [`RESERVE_WAIT`]) while the number is above the reservation.
    pub async fn issue(&self) -> Result<(u64, String), StoreError> {
        loop {
            if self.is_blocked.load(Ordering::Acquire) {
                if let Some(why) = self.blocked.lock().clone() {
                    return Err(StoreError::NodeBlocked(why));
                }
            }
            let seq = self.next.fetch_add(1, Ordering::Relaxed);
            if seq >= PER_NODE {
                return Err(StoreError::CodesExhausted);
            }
            if !self.wait_reserved(seq).await? {
                continue;
            }
            let code = self.perm.code(compose(self.node, seq));
            if self.has_legacy && self.legacy.contains_key(code.as_bytes())? {
                continue;
            }
            return Ok((seq, code));
        }
    }

    /// Wait until `seq` may be issued; false when it must not be (it is
    /// below a skip that happened meanwhile: take another). The common case
    /// takes no lock: only a number above the grant waits.
    async fn wait_reserved(&self, seq: u64) -> Result<bool, StoreError> {
        let deadline = tokio::time::Instant::now() + RESERVE_WAIT;
        loop {
            if let Some(ready) = self.reserved_now(seq) {
                return Ok(ready);
            }
            let granted = self.granted.notified();
            tokio::pin!(granted);
            granted.as_mut().enable();
            // Again now that a grant cannot slip by unnoticed.
            if let Some(ready) = self.reserved_now(seq) {
                return Ok(ready);
            }
            if tokio::time::timeout_at(deadline, granted).await.is_err() {
                return Err(StoreError::NotReserved);
            }
        }
    }

    /// `Some(true)`: issue `seq`; `Some(false)`: take another; `None`: wait.
    fn reserved_now(&self, seq: u64) -> Option<bool> {
        let ceiling = self.ceiling.load(Ordering::Acquire);
        if ceiling == UNMANAGED {
            return Some(true);
        }
        if seq < self.floor.load(Ordering::Acquire) {
            return Some(false);
        }
        if seq + reservation::LOW_WATER >= ceiling {
            // Running low (or out): the reservation agent takes the next block.
            self.wanted.notify_one();
        }
        (seq < ceiling).then_some(true)
    }

    /// Whether the cluster issued `code`, as far as this node can tell (to
    /// link a citizen's follow-up): this node's codes below its counter,
    /// another node's below the last ceiling heard from it. A code of a node
    /// never heard of is not linked: a false link would show the citizen a
    /// stranger's code as theirs.
    pub fn issued(&self, code: &str) -> bool {
        if self.has_legacy && matches!(self.legacy.contains_key(code.as_bytes()), Ok(true)) {
            return true;
        }
        let Some((node, seq)) = self.perm.origin(code) else {
            return false;
        };
        if node == self.node {
            seq < self.next()
        } else {
            seq < self.known.lock()[node as usize]
        }
    }

    /// Which node issued `code` (to route what concerns it to that node).
    pub fn origin(&self, code: &str) -> Option<u8> {
        self.perm.origin(code).map(|(node, _)| node)
    }

    // --- for the reservation agent (`crate::node`) ---

    /// Take over: from now on issue only below granted ceilings, starting at
    /// `from` (numbers below it may have been issued by this node before).
    pub fn manage(&self, from: u64) {
        self.skip_to(from);
        let _ = self
            .ceiling
            .compare_exchange(UNMANAGED, 0, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// Skip to `from`: an earlier life of this node issued numbers up to it
    /// (this store is older than what the cluster knows of the node).
    pub fn skip_to(&self, from: u64) {
        // The floor first: a number taken below it from now on is retaken.
        self.floor.fetch_max(from, Ordering::AcqRel);
        self.next.fetch_max(from, Ordering::AcqRel);
        self.granted.notify_waiters();
    }

    /// `ceiling` is written to this store (flushed): remember it.
    pub fn reserved_up_to(&self, ceiling: u64) {
        self.reserved.fetch_max(ceiling, Ordering::Relaxed);
        self.learn(self.node, ceiling);
    }

    /// Numbers below `ceiling` may be issued (written to the store first).
    pub fn grant(&self, ceiling: u64) {
        debug_assert!(ceiling <= self.reserved());
        self.ceiling.fetch_max(ceiling, Ordering::AcqRel);
        self.granted.notify_waiters();
    }

    /// Whether fewer than [`reservation::LOW_WATER`] numbers are left.
    pub fn running_low(&self) -> bool {
        match self.ceiling() {
            Some(c) => self.next() + reservation::LOW_WATER >= c,
            None => false,
        }
    }

    /// Resolves when intake runs low (check [`Issuer::running_low`] too:
    /// a wake-up may have come before this was awaited).
    pub async fn wanted(&self) {
        self.wanted.notified().await
    }

    /// Stop issuing (`Some(why)`) or go on (`None`).
    pub fn block(&self, why: Option<String>) {
        let mut blocked = self.blocked.lock();
        self.is_blocked.store(why.is_some(), Ordering::Release);
        *blocked = why;
    }

    /// Record `node`'s ceiling as heard; true when it is news.
    pub fn learn(&self, node: u8, ceiling: u64) -> bool {
        let mut known = self.known.lock();
        let slot = &mut known[node as usize % NODES];
        let news = ceiling > *slot;
        *slot = (*slot).max(ceiling);
        news
    }

    /// Every node's ceiling as heard.
    pub fn known(&self) -> [u64; NODES] {
        *self.known.lock()
    }
}

/// The node and key this store issued codes as must be the ones it opens
/// with; a store that has not recorded them yet records them now.
fn check_history(
    meta: &sled::Tree,
    node: u8,
    id: [u8; 8],
    history_key: Option<&[u8]>,
    issued_any: bool,
) -> Result<(), StoreError> {
    let stored_node = match meta.get(NODE_KEY)? {
        Some(v) => Some(*v.first().ok_or_else(|| corrupt("tracking node id is empty"))?),
        // Before node ids a store was a single node: node 0's code space.
        None if issued_any => Some(0),
        None => None,
    };
    if let Some(stored) = stored_node.filter(|&s| s != node) {
        return Err(StoreError::TrackingNode {
            stored,
            configured: node,
        });
    }
    let stored_key = match meta.get(KEY_ID_KEY)? {
        Some(v) => Some(<[u8; 8]>::try_from(&v[..]).map_err(|_| corrupt("tracking key id is not 8 bytes"))?),
        None if issued_any => history_key.map(key_id),
        None => None,
    };
    if stored_key.is_some_and(|k| k != id) {
        return Err(StoreError::TrackingKey);
    }
    meta.insert(NODE_KEY, &[node])?;
    meta.insert(KEY_ID_KEY, &id)?;
    Ok(())
}

fn corrupt(reason: &str) -> StoreError {
    StoreError::corrupt("meta", reason)
}

pub fn decode_next(v: &[u8]) -> Result<u64, StoreError> {
    decode_u64(v)
}

pub(super) fn decode_u64(v: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(v)
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt("tracking counter is not 8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::decompose;

    fn trees(db: &sled::Db, name: &str) -> (sled::Tree, sled::Tree) {
        (
            db.open_tree(format!("meta-{name}")).unwrap(),
            db.open_tree(format!("legacy-{name}")).unwrap(),
        )
    }

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn codes_are_unique_known_and_resume_after_the_stored_counter() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let (meta, legacy) = trees(&db, "a");
        let issuer = Issuer::open(0, &[7; 32], None, &meta, legacy.clone()).unwrap();
        let mut seen = std::collections::HashSet::new();
        block_on(async {
            for i in 0..2000 {
                let (n, code) = issuer.issue().await.unwrap();
                assert_eq!(n, i);
                assert!(crate::tracking::is_valid(&code), "{code}");
                assert!(issuer.issued(&code));
                assert!(seen.insert(code));
            }
        });
        // A code this gateway has not issued yet is not known.
        let unissued = Permutation::new(&[7; 32]).code(5000);
        assert!(!issuer.issued(&unissued));
        assert!(!issuer.issued("LPR-0O1I"));
        // The writer stored 1500 as the next number: a restart resumes there and
        // issues again what was never committed.
        meta.insert(NEXT_KEY, &1500u64.to_be_bytes()).unwrap();
        // A random code from an earlier version, equal to the next new one.
        let clash = Permutation::new(&[7; 32]).code(1500);
        legacy.insert(clash.as_bytes(), &[0u8; 16]).unwrap();
        drop(issuer);
        let again = Issuer::open(0, &[7; 32], None, &meta, legacy).unwrap();
        let (n, code) = block_on(again.issue()).unwrap();
        assert_eq!(n, 1501, "the number whose code an earlier version issued is skipped");
        assert_ne!(code, clash);
        assert!(again.issued(&clash));
    }

    #[test]
    fn a_store_opens_only_as_the_node_and_key_that_issued_its_codes() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        // A store of a single node from before node ids: a counter, no ids.
        let (meta, legacy) = trees(&db, "old");
        meta.insert(NEXT_KEY, &42u64.to_be_bytes()).unwrap();
        let err = Issuer::open(1, &[7; 32], None, &meta, legacy.clone()).err().unwrap();
        assert!(
            matches!(
                err,
                StoreError::TrackingNode {
                    stored: 0,
                    configured: 1
                }
            ),
            "{err}"
        );
        // Its codes were made with tracking.key: a configured key must be that one.
        let err = Issuer::open(0, &[8; 32], Some(&[7; 32]), &meta, legacy.clone())
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::TrackingKey), "{err}");
        let issuer = Issuer::open(0, &[7; 32], Some(&[7; 32]), &meta, legacy.clone()).unwrap();
        assert_eq!(issuer.next(), 42, "node 0 goes on where the single node was");
        drop(issuer);
        // Now recorded: another key or node is refused even without the file.
        assert!(matches!(
            Issuer::open(0, &[8; 32], None, &meta, legacy.clone()),
            Err(StoreError::TrackingKey)
        ));
        assert!(matches!(
            Issuer::open(2, &[7; 32], None, &meta, legacy),
            Err(StoreError::TrackingNode {
                stored: 0,
                configured: 2
            })
        ));
        // A fresh store takes whatever it is given.
        let (meta, legacy) = trees(&db, "fresh");
        let node3 = Issuer::open(3, &[9; 32], Some(&[1; 32]), &meta, legacy).unwrap();
        let (seq, code) = block_on(node3.issue()).unwrap();
        let origin = Permutation::new(&[9; 32]).origin(&code).unwrap();
        assert_eq!(origin, (3, seq), "node 3's code carries node 3");
        assert_eq!(node3.origin(&code), Some(3));
    }

    #[test]
    fn nodes_sharing_a_key_never_issue_the_same_code_and_link_each_others() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let key = [5u8; 32];
        let nodes: Vec<Issuer> = (0..3u8)
            .map(|i| {
                let (meta, legacy) = trees(&db, &format!("n{i}"));
                Issuer::open(i, &key, None, &meta, legacy).unwrap()
            })
            .collect();
        let mut seen = std::collections::HashMap::new();
        let mut last = Vec::new();
        block_on(async {
            for (i, node) in nodes.iter().enumerate() {
                for _ in 0..3000 {
                    let (_, code) = node.issue().await.unwrap();
                    if let Some(other) = seen.insert(code.clone(), i) {
                        panic!("{code} issued by node {i} and node {other}");
                    }
                    last.push((i, code));
                }
            }
        });
        // Node 0 has heard nothing of node 1 yet: its codes are not linked
        // (never a false link); once it knows node 1's ceiling, they are.
        let (_, code1) = last.iter().find(|(i, _)| *i == 1).unwrap().clone();
        assert!(nodes[1].issued(&code1));
        assert!(!nodes[0].issued(&code1));
        assert!(nodes[0].learn(1, 4096));
        assert!(nodes[0].issued(&code1));
        assert!(!nodes[0].learn(1, 100), "ceilings only grow");
        let unissued = Permutation::new(&key).code(compose(1, 5000));
        assert!(!nodes[0].issued(&unissued), "above node 1's ceiling");
        assert_eq!(decompose(Permutation::new(&key).number(&code1).unwrap()).0, 1);
    }

    #[test]
    fn a_managed_issuer_issues_only_below_its_grant() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let (meta, legacy) = trees(&db, "m");
        let issuer = std::sync::Arc::new(Issuer::open(0, &[7; 32], None, &meta, legacy).unwrap());
        issuer.manage(100);
        block_on(async {
            // Nothing granted: intake waits, then gives up (503).
            tokio::time::pause();
            assert!(matches!(issuer.issue().await, Err(StoreError::NotReserved)));
            tokio::time::resume();
            let waiting = tokio::spawn({
                let issuer = issuer.clone();
                async move { issuer.issue().await }
            });
            tokio::task::yield_now().await;
            assert!(issuer.running_low());
            issuer.reserved_up_to(110);
            issuer.grant(110);
            let (seq, _) = waiting.await.unwrap().unwrap();
            assert!((100..110).contains(&seq), "{seq}");
            while issuer.next() < 110 {
                issuer.issue().await.unwrap();
            }
            tokio::time::pause();
            assert!(
                matches!(issuer.issue().await, Err(StoreError::NotReserved)),
                "nothing above 110"
            );
            issuer.block(Some("node id 0 is claimed by another gateway".into()));
            assert!(matches!(issuer.issue().await, Err(StoreError::NodeBlocked(_))));
        });
        assert_eq!(issuer.known()[0], 110);
    }

    #[test]
    fn a_number_taken_before_a_skip_is_never_issued() {
        // A new store waits for the broker; a request takes number 0 and
        // waits; the broker says the node reserved up to 4096 before: the
        // waiting request must not issue 0 (an earlier life's code).
        let db = sled::Config::new().temporary(true).open().unwrap();
        let (meta, legacy) = trees(&db, "s");
        let issuer = std::sync::Arc::new(Issuer::open(0, &[7; 32], None, &meta, legacy).unwrap());
        issuer.manage(0);
        block_on(async {
            let waiting = tokio::spawn({
                let issuer = issuer.clone();
                async move { issuer.issue().await }
            });
            while issuer.next() == 0 {
                tokio::task::yield_now().await;
            }
            issuer.skip_to(4096);
            issuer.reserved_up_to(8192);
            issuer.grant(8192);
            let (seq, _) = waiting.await.unwrap().unwrap();
            assert!(seq >= 4096, "issued {seq}, below the skip");
        });
    }
}
