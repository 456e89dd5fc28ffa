//! Dedupe keys and records.
//!
//! Two keys per complaint: `p|provider|external_id` (a provider's retry) and
//! `s|HMAC(sender)|fingerprint` (the same citizen sending the same text again).
//! Senders are hashed with a secret key, so this database is not a directory
//! of citizens' phone numbers.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub tracking: String,
    /// Unix seconds after which the record no longer counts.
    pub expires_at: u64,
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Record, StoreError> {
        bincode::deserialize(bytes).map_err(|e| StoreError::Corrupt {
            tree: "dedupe",
            reason: e.to_string(),
        })
    }
}

pub fn provider_key(provider: &str, external_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(3 + provider.len() + external_id.len());
    k.extend_from_slice(b"p|");
    k.extend_from_slice(provider.as_bytes());
    k.push(b'|');
    k.extend_from_slice(external_id.as_bytes());
    k
}

pub fn sender_key(hasher: &SenderHasher, sender: &str, fingerprint: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + 32 + 1 + fingerprint.len());
    k.extend_from_slice(b"s|");
    k.extend_from_slice(&hasher.hash(sender));
    k.push(b'|');
    k.extend_from_slice(fingerprint.as_bytes());
    k
}

/// `expires_at ++ key`: the expiry index entry.
pub fn expiry_key(expires_at: u64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + key.len());
    k.extend_from_slice(&expires_at.to_be_bytes());
    k.extend_from_slice(key);
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
        let path = dir.join("sender.key");
        let err = |reason: String| StoreError::Secret {
            path: path.display().to_string(),
            reason,
        };
        match fs::read(&path) {
            Ok(k) if k.len() >= 32 => return Ok(SenderHasher::new(&k)),
            Ok(_) => return Err(err("shorter than 32 bytes".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e.to_string())),
        }
        let key: [u8; 32] = rand::random();
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&path).map_err(|e| err(e.to_string()))?;
        f.write_all(&key)
            .and_then(|_| f.sync_all())
            .map_err(|e| err(e.to_string()))?;
        Ok(SenderHasher::new(&key))
    }

    pub fn hash(&self, sender: &str) -> [u8; 32] {
        pintu_channels::auth::hmac_sha256(&self.key, sender.as_bytes())
    }
}

/// Remove records that expired before `now`; returns how many.
pub fn sweep(dedupe: &sled::Tree, dedupe_exp: &sled::Tree, now: u64) -> Result<usize, StoreError> {
    let mut removed = 0;
    for entry in dedupe_exp.range(..now.to_be_bytes().to_vec()) {
        let (k, _) = entry?;
        if k.len() < 8 {
            dedupe_exp.remove(&k)?;
            continue;
        }
        let mut exp = [0u8; 8];
        exp.copy_from_slice(&k[..8]);
        let key = &k[8..];
        // A key re-used after expiry has a newer record: only drop the one this
        // index entry describes.
        if let Some(v) = dedupe.get(key)? {
            if Record::decode(&v)
                .map(|r| r.expires_at == u64::from_be_bytes(exp))
                .unwrap_or(true)
            {
                dedupe.remove(key)?;
            }
        }
        dedupe_exp.remove(&k)?;
        removed += 1;
    }
    Ok(removed)
}
