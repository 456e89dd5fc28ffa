//! Tracking codes: what a citizen reads off a cheap phone's screen and types back.
//!
//! `LPR-` and six characters from an alphabet without the look-alikes 0/O and
//! 1/I: 32^6 = 2^30 codes. Code number `n` is a keyed permutation of `n`
//! ([`Permutation`]), so codes issued from a counter are unique by construction
//! yet do not reveal how many complaints came before (see `store::codes`).
//!
//! The 30-bit number is partitioned by node ([`compose`]): its top
//! [`NODE_BITS`] bits are the id of the gateway node that issued it, the
//! other [`SEQ_BITS`] that node's own counter. Every node of a cluster uses
//! the same key, so two nodes never issue the same code: distinct numbers,
//! one bijection (docs/scale-out.md). Node 0's numbers are its counter
//! itself, so a single node's codes are what they were before partitioning.

use sha2::{Digest, Sha256};

pub const PREFIX: &str = "LPR-";
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const LEN: usize = 6;
/// How many codes exist.
pub const CODES: u64 = 1 << 30;
/// Bits of a code number that name the node that issued it.
pub const NODE_BITS: u32 = 4;
/// How many node ids exist (`node.id` is `0..NODES`).
pub const NODES: usize = 1 << NODE_BITS;
/// Bits of a node's own counter.
pub const SEQ_BITS: u32 = 30 - NODE_BITS;
/// Codes one node can issue: 2^26 = 67,108,864.
pub const PER_NODE: u64 = 1 << SEQ_BITS;

/// The code number of `node`'s `seq`-th code (`seq < PER_NODE`).
pub fn compose(node: u8, seq: u64) -> u32 {
    debug_assert!((node as usize) < NODES && seq < PER_NODE);
    (u32::from(node) & (NODES as u32 - 1)) << SEQ_BITS | (seq & (PER_NODE - 1)) as u32
}

/// The node and its counter value of a code number (inverse of [`compose`]).
pub fn decompose(n: u32) -> (u8, u64) {
    let n = n & (CODES as u32 - 1);
    ((n >> SEQ_BITS) as u8, u64::from(n) & (PER_NODE - 1))
}

/// A short public name of a tracking key (not the key: a hash of it), so
/// nodes and stores can tell whether they share one without showing it.
pub fn key_id(key: &[u8]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(b"pintu tracking key id\0");
    h.update(key);
    let d = h.finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(&d[..8]);
    id
}

/// A keyed bijection on 0..2^30: a four-round Feistel network on two 15-bit
/// halves with SHA-256 of (key, round, half) as the round function.
#[derive(Clone)]
pub struct Permutation {
    key: Vec<u8>,
}

const HALF: u32 = 15;
const HALF_MASK: u32 = (1 << HALF) - 1;
const ROUNDS: u8 = 4;

impl Permutation {
    pub fn new(key: &[u8]) -> Permutation {
        Permutation { key: key.to_vec() }
    }

    fn round(&self, i: u8, half: u32) -> u32 {
        let mut h = Sha256::new();
        h.update(&self.key);
        h.update([i]);
        h.update(half.to_be_bytes());
        let d = h.finalize();
        u32::from_be_bytes([d[0], d[1], d[2], d[3]]) & HALF_MASK
    }

    fn forward(&self, n: u32) -> u32 {
        let (mut l, mut r) = (n >> HALF & HALF_MASK, n & HALF_MASK);
        for i in 0..ROUNDS {
            let t = l ^ self.round(i, r);
            l = r;
            r = t;
        }
        l << HALF | r
    }

    fn backward(&self, p: u32) -> u32 {
        let (mut l, mut r) = (p >> HALF & HALF_MASK, p & HALF_MASK);
        for i in (0..ROUNDS).rev() {
            let t = r ^ self.round(i, l);
            r = l;
            l = t;
        }
        l << HALF | r
    }

    /// The code of number `n` (only the low 30 bits are used).
    pub fn code(&self, n: u32) -> String {
        unpack(self.forward(n & (CODES as u32 - 1)))
    }

    /// The number of a valid code.
    pub fn number(&self, code: &str) -> Option<u32> {
        pack(code).map(|p| self.backward(p))
    }

    /// Which node issued a valid code, and its counter value there.
    pub fn origin(&self, code: &str) -> Option<(u8, u64)> {
        self.number(code).map(decompose)
    }
}

/// The six characters of a code as a 30-bit number (5 bits each), so stores can
/// keep a code in 4 bytes; `None` for anything [`is_valid`] rejects.
pub fn pack(code: &str) -> Option<u32> {
    if !is_valid(code) {
        return None;
    }
    code[PREFIX.len()..].bytes().try_fold(0u32, |acc, b| {
        let digit = ALPHABET.iter().position(|&a| a == b)? as u32;
        Some(acc << 5 | digit)
    })
}

/// The code packed by [`pack`] (only the low 30 bits are read).
pub fn unpack(packed: u32) -> String {
    let mut s = String::with_capacity(PREFIX.len() + LEN);
    s.push_str(PREFIX);
    for i in (0..LEN).rev() {
        s.push(ALPHABET[(packed >> (5 * i) & 31) as usize] as char);
    }
    s
}

/// Find a tracking code in free text (`lpr 7k3q9x`, `LPR-7K3Q9X`, `Re: [LPR-…]`).
/// Look-alikes (0/O, 1/I) are not in the alphabet, so a mistyped code fails to
/// match instead of being guessed into someone else's complaint.
pub fn find_in(text: &str) -> Option<String> {
    let upper = text.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let mut i = 0;
    while let Some(pos) = upper[i..].find("LPR") {
        let start = i + pos;
        let mut j = start + 3;
        while j < bytes.len() && matches!(bytes[j], b'-' | b' ' | b'_' | b':') {
            j += 1;
        }
        let code: Vec<u8> = bytes[j..].iter().take(LEN).copied().collect();
        let boundary_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let end_ok = bytes.get(j + LEN).is_none_or(|b| !b.is_ascii_alphanumeric());
        if boundary_ok && end_ok && code.len() == LEN && code.iter().all(|c| ALPHABET.contains(c)) {
            return Some(format!("{PREFIX}{}", String::from_utf8_lossy(&code)));
        }
        i = start + 3;
    }
    None
}

pub fn is_valid(code: &str) -> bool {
    code.strip_prefix(PREFIX)
        .is_some_and(|c| c.len() == LEN && c.bytes().all(|b| ALPHABET.contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes as the gateway issues them, from a counter.
    fn issued(n: usize) -> impl Iterator<Item = String> {
        let p = Permutation::new(b"test-key");
        (0..n as u32).map(move |i| p.code(i))
    }

    #[test]
    fn generated_codes_are_valid_and_readable() {
        for c in issued(1000) {
            assert!(is_valid(&c), "{c}");
            assert!(!c[4..].contains(['0', 'O', '1', 'I']));
        }
    }

    #[test]
    fn permutation_is_a_keyed_bijection() {
        let p = Permutation::new(b"k1");
        let mut seen = std::collections::HashSet::new();
        for n in (0..20_000u32).chain([CODES as u32 - 1]) {
            let code = p.code(n);
            assert!(is_valid(&code), "{code}");
            assert_eq!(p.number(&code), Some(n));
            assert!(seen.insert(code));
        }
        // Consecutive numbers do not give neighbouring codes, and the key matters.
        assert_ne!(pack(&p.code(1)).unwrap(), pack(&p.code(0)).unwrap() + 1);
        assert_ne!(Permutation::new(b"k2").code(0), p.code(0));
        assert_eq!(p.number("LPR-0O1I23"), None);
    }

    #[test]
    fn node_partitions_never_overlap_and_round_trip() {
        let p = Permutation::new(b"cluster-key");
        let mut seen = std::collections::HashMap::new();
        // Every node's first numbers and its last ones: the edges of each
        // partition are where an off-by-one would make two nodes meet.
        for node in 0..NODES as u8 {
            for seq in (0..2000).chain(PER_NODE - 2000..PER_NODE) {
                let n = compose(node, seq);
                assert_eq!(decompose(n), (node, seq));
                let code = p.code(n);
                assert!(is_valid(&code), "{code}");
                assert_eq!(p.origin(&code), Some((node, seq)));
                if let Some(other) = seen.insert(code.clone(), (node, seq)) {
                    panic!("{code} issued by node {node} seq {seq} and by {other:?}");
                }
            }
        }
        assert_eq!(compose(15, PER_NODE - 1), CODES as u32 - 1);
    }

    #[test]
    fn node_zero_issues_the_codes_of_a_single_node() {
        // Before partitioning a gateway issued `code(n)` for its counter n;
        // node 0's seq-th code is the same code, so an existing store goes on
        // where it was and never repeats one it issued.
        let p = Permutation::new(&[7; 32]);
        for seq in (0..5000).chain([PER_NODE - 1]) {
            assert_eq!(p.code(compose(0, seq)), p.code(seq as u32));
        }
    }

    #[test]
    fn key_ids_name_keys_without_showing_them() {
        assert_eq!(key_id(b"k1"), key_id(b"k1"));
        assert_ne!(key_id(b"k1"), key_id(b"k2"));
        assert_ne!(&key_id(b"0123456789abcdef")[..], &b"01234567"[..]);
    }

    #[test]
    fn codes_pack_into_30_bits_and_back() {
        for c in issued(1000) {
            let p = pack(&c).unwrap();
            assert!(p < 1 << 30);
            assert_eq!(unpack(p), c);
        }
        assert_eq!(pack("LPR-222222"), Some(0));
        assert_eq!(unpack(0), "LPR-222222");
        assert_eq!(pack("LPR-ZZZZZZ"), Some((1 << 30) - 1));
        assert_eq!(pack("LPR-0O1I23"), None);
        assert_eq!(pack("LPR-22222"), None);
        assert_eq!(pack("XYZ-222222"), None);
    }

    #[test]
    fn finds_codes_in_text() {
        assert_eq!(
            find_in("Re: Laporan Anda [LPR-7K3Q9X] diterima").as_deref(),
            Some("LPR-7K3Q9X")
        );
        assert_eq!(
            find_in("lpr 7k3q9x masih belum ditangani").as_deref(),
            Some("LPR-7K3Q9X")
        );
        assert_eq!(find_in("LPR-7K3Q9XY"), None);
        assert_eq!(find_in("LPR-0O1I23"), None);
        assert_eq!(find_in("no code here"), None);
    }
}
