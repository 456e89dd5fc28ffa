//! Tracking codes issued from a durable counter.
//!
//! Code number `n` is a keyed permutation of `n` over the 2^30 codes (see
//! [`crate::tracking::Permutation`]), so codes are unique by construction and
//! look random to citizens, and "did we issue this code?" is `n < counter`.
//! No table of issued codes: a million complaints used to leave a million
//! entries in sled (memory, and a lookup plus an insert per complaint).
//!
//! Intake takes numbers from an in-memory counter; the intake writer stores
//! the highest number it committed, in the same transaction as the complaint.
//! After a crash the counter resumes after the last committed number: numbers
//! taken but never committed are simply issued again, which is safe because
//! nothing carrying them was acknowledged.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::tracking::{Permutation, CODES};

use super::StoreError;

/// Key of the counter in the `meta` tree: the next number to issue (u64 BE).
pub const NEXT_KEY: &[u8] = b"tracking.next";

pub struct Issuer {
    perm: Permutation,
    next: AtomicU64,
    /// Random codes issued by earlier versions; new codes must not repeat them.
    legacy: sled::Tree,
    has_legacy: bool,
}

impl Issuer {
    pub fn open(key: &[u8], meta: &sled::Tree, legacy: sled::Tree) -> Result<Issuer, StoreError> {
        let next = match meta.get(NEXT_KEY)? {
            Some(v) => decode_next(&v)?,
            None => 0,
        };
        Ok(Issuer {
            perm: Permutation::new(key),
            next: AtomicU64::new(next),
            has_legacy: !legacy.is_empty(),
            legacy,
        })
    }

    /// A fresh code and its number (store the number with the complaint).
    pub fn issue(&self) -> Result<(u64, String), StoreError> {
        loop {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            if n >= CODES {
                return Err(StoreError::CodesExhausted);
            }
            let code = self.perm.code(n as u32);
            if self.has_legacy && self.legacy.contains_key(code.as_bytes())? {
                continue;
            }
            return Ok((n, code));
        }
    }

    /// Whether this gateway issued `code` (to link a citizen's follow-up).
    pub fn issued(&self, code: &str) -> bool {
        if self.has_legacy && matches!(self.legacy.contains_key(code.as_bytes()), Ok(true)) {
            return true;
        }
        self.perm
            .number(code)
            .is_some_and(|n| u64::from(n) < self.next.load(Ordering::Relaxed))
    }
}

pub fn decode_next(v: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(v)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt {
            tree: "meta",
            reason: "tracking counter is not 8 bytes".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_known_and_resume_after_the_stored_counter() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let meta = db.open_tree("meta").unwrap();
        let legacy = db.open_tree("tracking").unwrap();
        let issuer = Issuer::open(&[7; 32], &meta, legacy.clone()).unwrap();
        let mut seen = std::collections::HashSet::new();
        for i in 0..2000 {
            let (n, code) = issuer.issue().unwrap();
            assert_eq!(n, i);
            assert!(crate::tracking::is_valid(&code), "{code}");
            assert!(issuer.issued(&code));
            assert!(seen.insert(code));
        }
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
        let again = Issuer::open(&[7; 32], &meta, legacy).unwrap();
        let (n, code) = again.issue().unwrap();
        assert_eq!(n, 1501, "the number whose code an earlier version issued is skipped");
        assert_ne!(code, clash);
        assert!(again.issued(&clash));
        // Another key is another permutation.
        let other = Issuer::open(&[8; 32], &db.open_tree("m2").unwrap(), db.open_tree("l2").unwrap()).unwrap();
        assert_ne!(other.issue().unwrap().1, Permutation::new(&[7; 32]).code(0));
    }
}
