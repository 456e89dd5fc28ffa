//! The arithmetic of code reservations, and what of it this store keeps.
//!
//! A node issues tracking-code numbers only below a *ceiling* it reserved
//! first, in blocks of [`BLOCK`]: written to this store (flushed) and, while
//! the broker is reachable, published to it with a publisher confirm
//! (`crate::node`). The broker's copy outlives the node's volume, so a node
//! restored from an old snapshot, or a new node replacing a lost one, starts
//! above every number the node may have issued ([`resume_point`]).
//!
//! While the broker is unreachable the node goes on reserving on its own
//! disk (intake must accept complaints without the broker, docs/design.md);
//! a start without the broker skips [`UNCONFIRMED_GAP`] numbers on top, so
//! a snapshot restored while the broker is down repeats no code unless it
//! is more than that many codes old (docs/scale-out.md has the procedure).

use crate::tracking::{NODES, PER_NODE};

use super::codes::decode_u64;
use super::StoreError;

/// Numbers reserved at once. A start wastes at most one block (it resumes
/// above the last ceiling): 2^26 / 4096 = 16,384 restarts per node.
pub const BLOCK: u64 = 4096;

/// The next block is reserved when fewer than this many numbers are left:
/// 2,048 complaints of runway (~140 ms at the 14,400/s measured intake).
pub const LOW_WATER: u64 = BLOCK / 2;

/// Numbers skipped by a start that cannot ask the broker: 65,536, about
/// thirteen days of a node taking 5,000 complaints a day.
pub const UNCONFIRMED_GAP: u64 = 1 << 16;

/// Key of the highest ceiling this store reserved (u64 BE), in `meta`.
pub const CEILING_KEY: &[u8] = b"tracking.ceiling";
/// Key of every node's ceiling as last heard (16 × u64 BE), in `meta`.
pub const KNOWN_KEY: &[u8] = b"tracking.known";

/// Where a node resumes after a start: above its stored counter, above the
/// highest ceiling this store reserved (numbers below it may have been issued
/// before a crash), above the ceiling the broker confirmed (this store may be
/// an old snapshot). Without the broker's answer, [`UNCONFIRMED_GAP`] higher.
pub fn resume_point(next: u64, stored_ceiling: u64, broker: Option<u64>) -> u64 {
    let local = next.max(stored_ceiling);
    let from = match broker {
        Some(b) => local.max(b),
        None => local.saturating_add(UNCONFIRMED_GAP),
    };
    from.min(PER_NODE)
}

/// The ceiling one block above `from`, within the node's code space.
pub fn next_ceiling(from: u64) -> u64 {
    from.saturating_add(BLOCK).min(PER_NODE)
}

pub fn stored_ceiling(meta: &sled::Tree) -> Result<u64, StoreError> {
    match meta.get(CEILING_KEY)? {
        Some(v) => decode_u64(&v),
        None => Ok(0),
    }
}

/// Write `ceiling` (callers flush before issuing below it).
pub fn store_ceiling(meta: &sled::Tree, ceiling: u64) -> Result<(), StoreError> {
    meta.fetch_and_update(CEILING_KEY, |old| {
        let old = old.and_then(|v| decode_u64(v).ok()).unwrap_or(0);
        Some(old.max(ceiling).to_be_bytes().to_vec())
    })?;
    Ok(())
}

pub fn stored_known(meta: &sled::Tree) -> Result<[u64; NODES], StoreError> {
    let mut known = [0u64; NODES];
    if let Some(v) = meta.get(KNOWN_KEY)? {
        if v.len() != NODES * 8 {
            return Err(StoreError::corrupt("meta", "known ceilings are not 16 numbers"));
        }
        for (slot, chunk) in known.iter_mut().zip(v.chunks_exact(8)) {
            *slot = decode_u64(chunk)?;
        }
    }
    Ok(known)
}

/// Remember what was heard of the other nodes (no flush: it only decides
/// which follow-ups are linked, and is heard again within a minute).
pub fn store_known(meta: &sled::Tree, known: &[u64; NODES]) -> Result<(), StoreError> {
    let bytes: Vec<u8> = known.iter().flat_map(|c| c.to_be_bytes()).collect();
    meta.insert(KNOWN_KEY, bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codes::Issuer;
    use crate::tracking::Permutation;

    #[test]
    fn a_start_resumes_above_everything_it_may_have_issued() {
        // Normal restart: the broker confirmed the stored ceiling.
        assert_eq!(resume_point(1000, BLOCK, Some(BLOCK)), BLOCK);
        // Restored from an old snapshot: the broker knows a higher ceiling.
        assert_eq!(resume_point(1000, BLOCK, Some(10 * BLOCK)), 10 * BLOCK);
        // The store reserved a block the broker never confirmed (it was away).
        assert_eq!(resume_point(1000, 3 * BLOCK, Some(2 * BLOCK)), 3 * BLOCK);
        // A store from before reservations: only the counter.
        assert_eq!(resume_point(1000, 0, None), 1000 + UNCONFIRMED_GAP);
        // The broker cannot be asked: the gap on top of what the store knows.
        assert_eq!(resume_point(1000, BLOCK, None), BLOCK + UNCONFIRMED_GAP);
        // Never beyond the node's code space.
        assert_eq!(resume_point(PER_NODE - 1, 0, None), PER_NODE);
        assert_eq!(next_ceiling(PER_NODE - 10), PER_NODE);
    }

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Reserve and issue like the gateway does (store first, then grant).
    async fn run_node(meta: &sled::Tree, legacy: &sled::Tree, broker: &mut Option<u64>, n: usize) -> Vec<String> {
        let issuer = Issuer::open(0, &[3; 32], None, meta, legacy.clone()).unwrap();
        let from = resume_point(issuer.next(), issuer.reserved(), *broker);
        issuer.manage(from);
        let mut codes = Vec::new();
        let mut ceiling = from;
        for _ in 0..n {
            if issuer.running_low() {
                ceiling = next_ceiling(ceiling);
                store_ceiling(meta, ceiling).unwrap();
                issuer.reserved_up_to(ceiling);
                *broker = Some(ceiling);
                issuer.grant(ceiling);
            }
            let (seq, code) = issuer.issue().await.unwrap();
            // The writer's part: the counter moves with each complaint.
            meta.insert(super::super::codes::NEXT_KEY, &(seq + 1).to_be_bytes())
                .unwrap();
            codes.push(code);
        }
        codes
    }

    #[test]
    fn a_node_restored_from_an_old_snapshot_repeats_no_code() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let (meta, legacy) = (db.open_tree("meta").unwrap(), db.open_tree("legacy").unwrap());
        let seq_of = |c: &String| Permutation::new(&[3; 32]).origin(c).unwrap().1;
        // Reachable, and nothing reserved yet.
        let mut broker = Some(0);
        block_on(async {
            let mut all: Vec<String> = run_node(&meta, &legacy, &mut broker, 3000).await;
            // The volume snapshot: the node's meta as it is now.
            let snapshot: Vec<_> = meta.iter().map(|e| e.unwrap()).collect();
            // The node goes on for several blocks (and restarts), then its
            // volume is lost and the snapshot restored.
            all.extend(run_node(&meta, &legacy, &mut broker, 2 * BLOCK as usize).await);
            all.extend(run_node(&meta, &legacy, &mut broker, BLOCK as usize).await);
            meta.clear().unwrap();
            for (k, v) in snapshot {
                meta.insert(k, v).unwrap();
            }
            let highest = all.iter().map(seq_of).max().unwrap();
            let restored = Issuer::open(0, &[3; 32], None, &meta, legacy.clone()).unwrap();
            assert!(restored.next() <= 3000, "the snapshot's counter is old");
            // Without the broker only the gap protects: it covers this
            // restore (fewer than 65,536 codes since the snapshot).
            assert!(resume_point(restored.next(), restored.reserved(), None) > highest);
            drop(restored);
            // With the broker's ceiling: above everything issued since.
            let after = run_node(&meta, &legacy, &mut broker, 5000).await;
            let mut seen = std::collections::HashSet::new();
            for c in all.iter().chain(&after) {
                assert!(seen.insert(c.clone()), "{c} issued twice");
            }
            assert!(after.iter().map(seq_of).min().unwrap() > highest);
        });
    }

    #[test]
    fn known_ceilings_round_trip() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let meta = db.open_tree("meta").unwrap();
        assert_eq!(stored_known(&meta).unwrap(), [0; NODES]);
        let mut k = [0u64; NODES];
        k[3] = 4096;
        k[15] = PER_NODE;
        store_known(&meta, &k).unwrap();
        assert_eq!(stored_known(&meta).unwrap(), k);
        store_ceiling(&meta, 8192).unwrap();
        store_ceiling(&meta, 4096).unwrap();
        assert_eq!(
            stored_ceiling(&meta).unwrap(),
            8192,
            "the stored ceiling never goes down"
        );
    }
}
