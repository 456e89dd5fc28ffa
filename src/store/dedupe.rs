//! Dedupe keys and records.
//!
//! Two keys per complaint, both naming the sender: `q` + HMAC(provider,
//! external id) + HMAC(sender) (a provider's retry) and `s` + HMAC(sender,
//! text fingerprint) (the same citizen sending the same text again).
//! Expired records are swept by a periodic scan. Senders are hashed with a
//! secret key, so this database is not a directory of citizens' phone numbers.
//!
//! Provider ids are not unique across senders (a generic gateway numbering
//! from 1 after a restart, a hostile one reusing ids on purpose): keyed by
//! the id alone, a second citizen got the first one's tracking code and was
//! dropped. The sender part is the last four bytes of the key, so the
//! records of one provider id share a prefix and [`provider_id_reuse`] can
//! tell — for the log — that another sender used the id before.
//!
//! Records of earlier versions keyed by the id alone (`p` + SHA-256) are
//! still read: they cannot say whose they were, so a hit there is not taken
//! as a duplicate (the sender+text key still catches a true resend); it is
//! logged like a mismatch, and the message is ingested.

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
    /// The complaint is held by flood control (not published, no
    /// acknowledgement): a duplicate of it is answered without its code.
    pub held: bool,
}

/// Record layout: ULID (16 bytes) ++ tracking code packed in the low 30 bits
/// of 4 bytes, the top bit set for a held complaint ++ the window (2 bytes); the record expires that long after the time in the ULID.
/// The window is exact seconds below 2^15, else minutes (rounded up) above 2^15,
/// up to [`MAX_WINDOW_SECS`]. 22 bytes is the most sled keeps inline in a tree node: a longer
/// value is a separate allocation of 64 bytes per record, and a million
/// complaints hold two million records.
///
/// Records of the earlier layout — expires_at (8 bytes BE) ++ ULID ++ tracking
/// code as text — are still read, and written for a code that does not pack.
const COMPACT_LEN: usize = 22;
/// In the packed code: the complaint is held (see [`Record::held`]). Codes
/// use 30 bits, so earlier records never have it set.
const HELD_FLAG: u32 = 1 << 31;
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
            let flags = if self.held { HELD_FLAG } else { 0 };
            v.extend_from_slice(&(code | flags).to_be_bytes());
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
        let corrupt = |reason: &str| StoreError::corrupt("dedupe", reason);
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
                held: code & HELD_FLAG != 0,
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
            // The long layout is for codes that do not pack, which intake
            // never holds (held codes are its own).
            held: false,
        })
    }
}

/// The 16 bytes of a ULID string (all zero for a string that is not one; ids
/// are always ULIDs the gateway generated).
pub fn ulid_bytes(id: &str) -> [u8; 16] {
    ulid::Ulid::from_string(id).map(|u| u.to_bytes()).unwrap_or([0; 16])
}

/// Bytes of the provider-id part of a provider key, after the `q`.
const PROVIDER_ID_LEN: usize = 12;

/// `q` ++ 12 bytes of HMAC(provider, external id) ++ 4 bytes of HMAC(sender):
/// a provider's retry of this sender's message.
pub fn provider_key(hasher: &SenderHasher, provider: &str, sender: &str, external_id: &str) -> Vec<u8> {
    let mut k = provider_id_prefix(hasher, provider, external_id);
    k.extend_from_slice(&hasher.hash(sender)[..4]);
    k
}

/// The part of [`provider_key`] shared by every sender of one provider id.
fn provider_id_prefix(hasher: &SenderHasher, provider: &str, external_id: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(provider.len() + 1 + external_id.len());
    data.extend_from_slice(provider.as_bytes());
    data.push(0);
    data.extend_from_slice(external_id.as_bytes());
    let mac = pintu_channels::auth::hmac_sha256(&hasher.key, &data);
    let mut k = Vec::with_capacity(1 + PROVIDER_ID_LEN + 4);
    k.push(b'q');
    k.extend_from_slice(&mac[..PROVIDER_ID_LEN]);
    k
}

/// Why a provider id that is new for this sender was seen before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reuse {
    /// Another sender's message carried the same provider id.
    OtherSender { id: String },
    /// A record of an earlier version, keyed by the id alone: whose it was
    /// is unknown.
    Legacy { id: String },
}

/// Whether `external_id` of `provider` is on record, unexpired, for a sender
/// other than `sender` (or in a legacy record that names no sender). Reads
/// at most two records; the caller logs what it returns.
pub fn provider_id_reuse(
    dedupe: &sled::Tree,
    hasher: &SenderHasher,
    provider: &str,
    sender: &str,
    external_id: &str,
    now: u64,
    legacy: bool,
) -> Result<Option<Reuse>, sled::Error> {
    let own = provider_key(hasher, provider, sender, external_id);
    let prefix = &own[..1 + PROVIDER_ID_LEN];
    // Another sender's record, if any: the first of the prefix that is not ours.
    for entry in dedupe.scan_prefix(prefix).take(2) {
        let (k, v) = entry?;
        if k.as_ref() == own.as_slice() {
            continue;
        }
        if let Ok(r) = Record::decode(&v) {
            if r.expires_at > now {
                return Ok(Some(Reuse::OtherSender { id: r.id }));
            }
        }
    }
    if legacy {
        if let Some(v) = dedupe.get(legacy_provider_key(provider, external_id))? {
            if let Ok(r) = Record::decode(&v) {
                if r.expires_at > now {
                    return Ok(Some(Reuse::Legacy { id: r.id }));
                }
            }
        }
    }
    Ok(None)
}

/// Whether `dedupe` still holds records keyed by provider id alone.
pub fn has_legacy_provider_keys(dedupe: &sled::Tree) -> bool {
    dedupe.scan_prefix(b"p").next().is_some()
}

/// `p` ++ 16 bytes of SHA-256(provider, external id): how earlier versions
/// keyed a provider's retry, without the sender. Only read, never written.
pub fn legacy_provider_key(provider: &str, external_id: &str) -> Vec<u8> {
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
            held: false,
        };
        let bytes = r.encode();
        assert_eq!(bytes.len(), 22, "fits inline in a sled node");
        assert_eq!(Record::decode(&bytes).unwrap(), r);
        let held = Record {
            held: true,
            ..r.clone()
        };
        assert_eq!(held.encode().len(), 22);
        assert_eq!(Record::decode(&held.encode()).unwrap(), held, "the held flag survives");
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
        let h = SenderHasher::new(b"k");
        assert_eq!(provider_key(&h, "kannel", "+62811", "a").len(), 17);
        assert_ne!(
            provider_key(&h, "kannel", "+62811", "a"),
            provider_key(&h, "jasmin", "+62811", "a")
        );
        assert_ne!(
            provider_key(&h, "kannel", "+62811", "a"),
            provider_key(&h, "kannel", "+62812", "a"),
            "the sender is part of the key"
        );
        assert_eq!(legacy_provider_key("kannel", "a").len(), 17);
        assert_ne!(sender_key(&h, "+62811", "f1"), sender_key(&h, "+62811", "f2"));
        assert_ne!(
            sender_key(&h, "+62811", "f1"),
            sender_key(&SenderHasher::new(b"other"), "+62811", "f1")
        );
    }

    #[test]
    fn reuse_of_a_provider_id_by_another_sender_or_in_a_legacy_record() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let t = db.open_tree("d").unwrap();
        let h = SenderHasher::new(b"k");
        let rec = |id: u128, exp| {
            Record {
                id: ulid::Ulid::from(id).to_string(),
                tracking: "LPR-222222".into(),
                expires_at: exp,
                held: false,
            }
            .encode()
        };
        let check = |sender: &str, legacy| provider_id_reuse(&t, &h, "generic", sender, "7", 100, legacy).unwrap();
        assert_eq!(check("+62811", true), None);
        t.insert(provider_key(&h, "generic", "+62811", "7"), rec(1, 200))
            .unwrap();
        // The same sender: its own record is not a reuse (the writer dedupes it).
        assert_eq!(check("+62811", true), None);
        // Another sender with the same id.
        assert_eq!(
            check("+62822", true),
            Some(Reuse::OtherSender {
                id: ulid::Ulid::from(1u128).to_string()
            })
        );
        // Other ids and other providers are unaffected.
        assert_eq!(
            provider_id_reuse(&t, &h, "generic", "+62822", "8", 100, true).unwrap(),
            None
        );
        assert_eq!(
            provider_id_reuse(&t, &h, "kannel", "+62822", "7", 100, true).unwrap(),
            None
        );
        // Expired records do not count.
        assert_eq!(
            provider_id_reuse(&t, &h, "generic", "+62822", "7", 300, true).unwrap(),
            None
        );
        // A record of the earlier layout, keyed by the id alone.
        t.insert(legacy_provider_key("jasmin", "9"), rec(2, 200)).unwrap();
        assert!(has_legacy_provider_keys(&t));
        assert_eq!(
            provider_id_reuse(&t, &h, "jasmin", "+62811", "9", 100, true).unwrap(),
            Some(Reuse::Legacy {
                id: ulid::Ulid::from(2u128).to_string()
            })
        );
        assert_eq!(
            provider_id_reuse(&t, &h, "jasmin", "+62811", "9", 100, false).unwrap(),
            None
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
                held: false,
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
