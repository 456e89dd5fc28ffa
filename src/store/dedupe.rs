//! Dedupe keys and records.
//!
//! Two keys per complaint: `p` + hash(provider, external id) (a provider's
//! retry) and `s` + HMAC(sender, text fingerprint) (the same citizen sending
//! the same text again). Expired records are swept by a periodic scan.
//! Senders are hashed with a secret key, so this database is not a directory
//! of citizens' phone numbers.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub tracking: String,
    /// Unix seconds after which the record no longer counts.
    pub expires_at: u64,
}

/// Record layout: ULID (16 bytes) ++ tracking code packed in 4 bytes ++ the
/// window (2 bytes); the record expires that long after the time in the ULID.
/// The window is exact seconds below 2^15, else minutes (rounded up) above 2^15,
/// up to [`MAX_WINDOW_SECS`]. 22 bytes is the most sled keeps inline in a tree node: a longer
/// value is a separate allocation of 64 bytes per record, and a million
/// complaints hold two million records.
///
/// Records of the earlier layout — expires_at (8 bytes BE) ++ ULID ++ tracking
/// code as text — are still read, and written for a code that does not pack.
const COMPACT_LEN: usize = 22;
const MINUTES_FLAG: u16 = 1 << 15;
/// Longest dedupe window a record can carry: 32,767 minutes (22 days).
pub const MAX_WINDOW_SECS: u64 = (MINUTES_FLAG as u64 - 1) * 60;

fn encode_window(secs: u64) -> u16 {
    if secs < u64::from(MINUTES_FLAG) {
        secs as u16
    } else {
        MINUTES_FLAG | secs.div_ceil(60).min(u64::from(MINUTES_FLAG - 1)) as u16
    }
}

fn decode_window(w: u16) -> u64 {
    if w & MINUTES_FLAG == 0 {
        u64::from(w)
    } else {
        u64::from(w & !MINUTES_FLAG) * 60
    }
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let ulid = ulid::Ulid::from_string(&self.id).ok();
        let packed = crate::tracking::pack(&self.tracking);
        if let (Some(ulid), Some(code)) = (ulid, packed) {
            let window = encode_window(self.expires_at.saturating_sub(ulid.timestamp_ms() / 1000));
            let mut v = Vec::with_capacity(COMPACT_LEN);
            v.extend_from_slice(&ulid.to_bytes());
            v.extend_from_slice(&code.to_be_bytes());
            v.extend_from_slice(&window.to_be_bytes());
            return v;
        }
        let mut v = Vec::with_capacity(8 + 16 + self.tracking.len());
        v.extend_from_slice(&self.expires_at.to_be_bytes());
        v.extend_from_slice(&ulid_bytes(&self.id));
        v.extend_from_slice(self.tracking.as_bytes());
        v
    }

    pub fn decode(bytes: &[u8]) -> Result<Record, StoreError> {
        let corrupt = |reason: &str| StoreError::Corrupt {
            tree: "dedupe",
            reason: reason.to_string(),
        };
        if bytes.len() == COMPACT_LEN {
            let mut id = [0u8; 16];
            id.copy_from_slice(&bytes[..16]);
            let ulid = ulid::Ulid::from_bytes(id);
            let code = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
            let window = decode_window(u16::from_be_bytes([bytes[20], bytes[21]]));
            return Ok(Record {
                id: ulid.to_string(),
                tracking: crate::tracking::unpack(code),
                expires_at: ulid.timestamp_ms() / 1000 + window,
            });
        }
        if bytes.len() < 24 {
            return Err(corrupt("record shorter than 24 bytes and not 22"));
        }
        let mut exp = [0u8; 8];
        exp.copy_from_slice(&bytes[..8]);
        let mut id = [0u8; 16];
        id.copy_from_slice(&bytes[8..24]);
        let tracking = std::str::from_utf8(&bytes[24..]).map_err(|_| corrupt("tracking code is not UTF-8"))?;
        Ok(Record {
            id: ulid::Ulid::from_bytes(id).to_string(),
            tracking: tracking.to_string(),
            expires_at: u64::from_be_bytes(exp),
        })
    }
}

/// The 16 bytes of a ULID string (all zero for a string that is not one; ids
/// are always ULIDs the gateway generated).
pub fn ulid_bytes(id: &str) -> [u8; 16] {
    ulid::Ulid::from_string(id).map(|u| u.to_bytes()).unwrap_or([0; 16])
}

/// `p` ++ 16 bytes of SHA-256(provider, external id): a provider's retry.
pub fn provider_key(provider: &str, external_id: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(provider.as_bytes());
    h.update([0u8]);
    h.update(external_id.as_bytes());
    let d = h.finalize();
    let mut k = Vec::with_capacity(17);
    k.push(b'p');
    k.extend_from_slice(&d[..16]);
    k
}

/// `s` ++ 16 bytes of HMAC(secret, sender, text fingerprint): the same citizen
/// sending the same text again. Keyed, so the database is not a phone book.
pub fn sender_key(hasher: &SenderHasher, sender: &str, fingerprint: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(sender.len() + 1 + fingerprint.len());
    data.extend_from_slice(sender.as_bytes());
    data.push(0);
    data.extend_from_slice(fingerprint.as_bytes());
    let mac = pintu_channels::auth::hmac_sha256(&hasher.key, &data);
    let mut k = Vec::with_capacity(17);
    k.push(b's');
    k.extend_from_slice(&mac[..16]);
    k
}

/// Keyed hash of sender addresses.
#[derive(Clone)]
pub struct SenderHasher {
    key: Vec<u8>,
}

impl SenderHasher {
    pub fn new(key: &[u8]) -> SenderHasher {
        SenderHasher { key: key.to_vec() }
    }

    /// Use the configured secret, or the one kept in `dir/sender.key` (created
    /// with 0600 permissions on first start).
    pub fn load_or_create(configured: Option<&str>, dir: &Path) -> Result<SenderHasher, StoreError> {
        if let Some(s) = configured.filter(|s| !s.is_empty()) {
            return Ok(SenderHasher::new(s.as_bytes()));
        }
        Ok(SenderHasher::new(&super::key_file(&dir.join("sender.key"))?))
    }

    pub fn hash(&self, sender: &str) -> [u8; 32] {
        pintu_channels::auth::hmac_sha256(&self.key, sender.as_bytes())
    }
}

/// Remove records that expired before `now` (and unreadable ones); returns
/// how many. A full scan: run it every few minutes, not per request.
pub fn sweep(dedupe: &sled::Tree, now: u64) -> Result<usize, StoreError> {
    let mut removed = 0;
    for entry in dedupe.iter() {
        let (k, v) = entry?;
        let expired = Record::decode(&v).map(|r| r.expires_at <= now).unwrap_or(true);
        // compare_and_swap: a record re-written meanwhile (same key, new
        // complaint after expiry) is left alone.
        if expired && dedupe.compare_and_swap(&k, Some(&v), None as Option<&[u8]>)?.is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_and_keys() {
        let accepted = 1_800_000_000u64;
        let r = Record {
            id: ulid::Ulid::from_parts(accepted * 1000 + 250, 42).to_string(),
            tracking: "LPR-7K3Q9X".into(),
            expires_at: accepted + 86_400,
        };
        let bytes = r.encode();
        assert_eq!(bytes.len(), 22, "fits inline in a sled node");
        assert_eq!(Record::decode(&bytes).unwrap(), r);
        // Windows under 2^15 s are exact; longer ones are rounded up to minutes,
        // never down, and capped at MAX_WINDOW_SECS.
        for (window, kept) in [
            (1, 1),
            (90, 90),
            (32_767, 32_767),
            (32_768, 32_820),
            (7 * 86_400, 7 * 86_400),
            (MAX_WINDOW_SECS, MAX_WINDOW_SECS),
            (MAX_WINDOW_SECS + 600, MAX_WINDOW_SECS),
        ] {
            let rec = Record {
                expires_at: accepted + window,
                ..r.clone()
            };
            assert_eq!(
                Record::decode(&rec.encode()).unwrap().expires_at,
                accepted + kept,
                "{window}"
            );
        }
        // The earlier layout is still read, and used for codes that do not pack.
        let mut old = (accepted + 10).to_be_bytes().to_vec();
        old.extend_from_slice(&ulid_bytes(&r.id));
        old.extend_from_slice(b"LPR-7K3Q9X");
        let decoded = Record::decode(&old).unwrap();
        assert_eq!(
            (decoded.id.as_str(), decoded.expires_at),
            (r.id.as_str(), accepted + 10)
        );
        let foreign = Record {
            tracking: "X-1".into(),
            ..r.clone()
        };
        assert_eq!(Record::decode(&foreign.encode()).unwrap(), foreign);
        assert!(Record::decode(&[1, 2, 3]).is_err());
        assert_eq!(provider_key("kannel", "a").len(), 17);
        assert_ne!(provider_key("kannel", "a"), provider_key("jasmin", "a"));
        let h = SenderHasher::new(b"k");
        assert_ne!(sender_key(&h, "+62811", "f1"), sender_key(&h, "+62811", "f2"));
        assert_ne!(
            sender_key(&h, "+62811", "f1"),
            sender_key(&SenderHasher::new(b"other"), "+62811", "f1")
        );
    }

    #[test]
    fn sweep_removes_only_expired() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let t = db.open_tree("d").unwrap();
        let rec = |exp| {
            Record {
                id: ulid::Ulid::from_parts(0, 1).to_string(),
                tracking: "LPR-222222".into(),
                expires_at: exp,
            }
            .encode()
        };
        t.insert("old", rec(100)).unwrap();
        t.insert("new", rec(300)).unwrap();
        t.insert("bad", &b"x"[..]).unwrap();
        assert_eq!(sweep(&t, 200).unwrap(), 2);
        assert!(t.get("new").unwrap().is_some());
        assert_eq!(t.len(), 1);
    }
}
