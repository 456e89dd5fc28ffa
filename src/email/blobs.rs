//! Content-addressed files: attachments (`<gateway>/attachments/<sha256>`)
//! and the raw copy of every message (`<gateway>/raw/<sha256>.eml`).
//!
//! Content addressing makes writes idempotent: a message read twice (after a
//! crash before the IMAP flag) writes the same names, and identical photos
//! sent by many citizens are stored once. Files are written to a temporary
//! name and renamed, so a reader never sees half a file; [`BlobStore::sync`]
//! makes a whole batch durable with one filesystem sync before the complaints
//! that reference them are accepted.
//!
//! Files are kept for a configurable time and within a size quota (see
//! [`super::retention`]). Storing content that is already there refreshes the
//! file's modification time: retention counts from the last message that
//! carried it, not the first. Clones share one [`Usage`], so every poller's
//! writes count against the same quota.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

/// Bytes stored (raw copies and attachments), as last measured plus what was
/// written since, and the quota; a write past the quota wakes the retention task.
#[derive(Debug, Default)]
pub struct Usage {
    pub bytes: AtomicU64,
    /// 0: no quota.
    pub quota: AtomicU64,
    pub over_quota: tokio::sync::Notify,
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    attachments: PathBuf,
    raw: PathBuf,
    tmp: PathBuf,
    usage: Arc<Usage>,
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl BlobStore {
    pub fn open(gateway_dir: &Path) -> io::Result<BlobStore> {
        let s = BlobStore {
            attachments: gateway_dir.join("attachments"),
            raw: gateway_dir.join("raw"),
            tmp: gateway_dir.join("tmp"),
            usage: Arc::default(),
        };
        for d in [&s.attachments, &s.raw, &s.tmp] {
            fs::create_dir_all(d)?;
        }
        Ok(s)
    }

    pub fn usage(&self) -> &Arc<Usage> {
        &self.usage
    }

    /// The directories of raw copies, attachments and temporary files.
    pub fn dirs(&self) -> (&Path, &Path, &Path) {
        (&self.raw, &self.attachments, &self.tmp)
    }

    /// Wake the retention task when the quota is exceeded.
    pub fn check_quota(&self) {
        let quota = self.usage.quota.load(Ordering::Relaxed);
        if quota > 0 && self.usage.bytes.load(Ordering::Relaxed) > quota {
            self.usage.over_quota.notify_one();
        }
    }

    pub fn attachment_path(&self, sha256: &str) -> PathBuf {
        self.attachments.join(sha256)
    }

    pub fn raw_path(&self, sha256: &str) -> PathBuf {
        self.raw.join(format!("{sha256}.eml"))
    }

    /// Store an attachment; returns true when a new file was written.
    pub fn put_attachment(&self, sha256: &str, bytes: &[u8]) -> io::Result<bool> {
        self.put(self.attachment_path(sha256), sha256, bytes)
    }

    /// Store a raw message; returns true when a new file was written.
    pub fn put_raw(&self, sha256: &str, bytes: &[u8]) -> io::Result<bool> {
        self.put(self.raw_path(sha256), sha256, bytes)
    }

    fn put(&self, path: PathBuf, sha256: &str, bytes: &[u8]) -> io::Result<bool> {
        // The name comes from our own hash, but a path is a path: refuse
        // anything that is not a plain hex digest.
        if !is_sha256_hex(sha256) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a sha256 hex digest"));
        }
        // A file of the right size is the same content (we named it by its
        // hash); a short one is the remains of a crash and is rewritten.
        if fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            // Referenced again: retention starts over.
            let touched = fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(SystemTime::now()));
            if let Err(e) = touched {
                tracing::debug!(error = %e, "could not refresh a stored file's time");
            }
            return Ok(false);
        }
        let tmp = self.tmp.join(format!("{sha256}.{}", ulid::Ulid::new()));
        let mut f = fs::File::create(&tmp)?;
        if let Err(e) = f.write_all(bytes) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        drop(f);
        fs::rename(&tmp, &path)?;
        self.usage.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(true)
    }

    /// Make everything written so far durable (data and directory entries).
    pub fn sync(&self) -> io::Result<()> {
        // One syncfs for the whole batch instead of an fsync per file (and per
        // directory): the batch is ~100 files, and ingest speed is bounded by syncs.
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let dir = fs::File::open(&self.raw)?;
            // SAFETY: syncfs only reads the descriptor, which stays open for the call.
            let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }
        #[cfg(not(target_os = "linux"))]
        {
            for d in [&self.attachments, &self.raw] {
                fs::File::open(d)?.sync_all()?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotent_and_repairs_short_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::open(dir.path()).unwrap();
        let sha = pintu_channels::email::parse::sha256_hex(b"foto");
        assert!(s.put_attachment(&sha, b"foto").unwrap());
        assert!(!s.put_attachment(&sha, b"foto").unwrap());
        fs::write(s.attachment_path(&sha), b"fo").unwrap();
        assert!(s.put_attachment(&sha, b"foto").unwrap());
        assert_eq!(fs::read(s.attachment_path(&sha)).unwrap(), b"foto");
        assert!(s.put_raw("../../etc/passwd", b"x").is_err());
        // Stored again much later: the file's time is refreshed.
        let old = SystemTime::now() - std::time::Duration::from_secs(86_400);
        fs::File::options()
            .write(true)
            .open(s.attachment_path(&sha))
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(!s.put_attachment(&sha, b"foto").unwrap());
        let mtime = fs::metadata(s.attachment_path(&sha)).unwrap().modified().unwrap();
        assert!(mtime > old + std::time::Duration::from_secs(3600));
        s.sync().unwrap();
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
