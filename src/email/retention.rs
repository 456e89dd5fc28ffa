//! Retention and a size quota for what the e-mail channel keeps on disk:
//! raw copies (`<gateway>/raw`) and attachments (`<gateway>/attachments`).
//! Without them mail alone fills the volume, and a full volume stops every
//! channel (sled cannot write).
//!
//! `[channels.email.storage]`:
//! - `raw_retention_days` (30), `attachment_retention_days` (365): a file
//!   not written or stored again for that long is deleted; 0 keeps forever;
//! - `max_bytes` (10 GiB): when raw copies and attachments together exceed
//!   it, the oldest files (of either kind) are deleted until they are below
//!   90 % of it; files younger than an hour are never deleted for the quota
//!   (a complaint that names them may still be on its way), so a quota too
//!   small for one hour of mail stays exceeded (`pintu_email_store_over_quota`);
//!   0 disables the quota;
//! - `sweep_interval_secs` (3600): how often; a write that passes the quota
//!   triggers a sweep at once.
//!
//! A sweep reads the directories twice and keeps only an hour-by-hour
//! histogram of sizes, so its memory does not grow with the number of files.
//!
//! Metrics: `pintu_email_store_bytes{kind}`, `pintu_email_store_files{kind}`,
//! `pintu_email_store_deleted_total{kind,reason}` (`retention` | `quota`),
//! `pintu_email_store_deleted_bytes_total{kind,reason}`,
//! `pintu_email_store_quota_bytes`, `pintu_email_store_over_quota`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::blobs::BlobStore;

/// Files younger than this are never deleted for the quota.
pub const MIN_AGE_FOR_QUOTA: Duration = Duration::from_secs(3600);
/// Leftover temporary files (a crash during a write) older than this go.
const TMP_MAX_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    #[serde(default = "default_raw_days")]
    pub raw_retention_days: u64,
    #[serde(default = "default_attachment_days")]
    pub attachment_retention_days: u64,
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    #[serde(default = "default_sweep_interval")]
    pub sweep_interval_secs: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            raw_retention_days: default_raw_days(),
            attachment_retention_days: default_attachment_days(),
            max_bytes: default_max_bytes(),
            sweep_interval_secs: default_sweep_interval(),
        }
    }
}

fn default_raw_days() -> u64 {
    30
}
fn default_attachment_days() -> u64 {
    365
}
fn default_max_bytes() -> u64 {
    10 << 30
}
fn default_sweep_interval() -> u64 {
    3600
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Raw,
    Attachment,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Raw => "raw",
            Kind::Attachment => "attachments",
        }
    }
}

/// What one sweep found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub raw_bytes: u64,
    pub raw_files: u64,
    pub attachment_bytes: u64,
    pub attachment_files: u64,
    pub deleted_retention: u64,
    pub deleted_quota: u64,
    pub deleted_bytes: u64,
    /// Still above the quota after the sweep (only files younger than an hour left).
    pub over_quota: bool,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Every regular file of a directory with its size and modification time.
fn files(dir: &Path) -> impl Iterator<Item = (std::path::PathBuf, u64, u64)> {
    fs::read_dir(dir).into_iter().flatten().flatten().filter_map(|e| {
        let m = e.metadata().ok()?;
        m.is_file()
            .then(|| (e.path(), m.len(), m.modified().map(secs).unwrap_or(0)))
    })
}

fn deleted(kind: Kind, reason: &'static str, bytes: u64, report: &mut SweepReport) {
    metrics::counter!("pintu_email_store_deleted_total", "kind" => kind.as_str(), "reason" => reason).increment(1);
    metrics::counter!("pintu_email_store_deleted_bytes_total", "kind" => kind.as_str(), "reason" => reason)
        .increment(bytes);
    report.deleted_bytes += bytes;
    match reason {
        "retention" => report.deleted_retention += 1,
        _ => report.deleted_quota += 1,
    }
}

/// One sweep at time `now`; see the module docs.
pub fn sweep(store: &BlobStore, cfg: &StorageConfig, now: SystemTime) -> io::Result<SweepReport> {
    let now_s = secs(now);
    let (raw_dir, att_dir, tmp_dir) = store.dirs();
    let mut report = SweepReport::default();
    for (path, _, mtime) in files(tmp_dir) {
        if mtime + TMP_MAX_AGE.as_secs() < now_s {
            let _ = fs::remove_file(path);
        }
    }
    // Pass 1: retention, and an hour-by-hour histogram of what stays.
    let mut by_hour: BTreeMap<u64, u64> = BTreeMap::new();
    for (kind, dir, days) in [
        (Kind::Raw, raw_dir, cfg.raw_retention_days),
        (Kind::Attachment, att_dir, cfg.attachment_retention_days),
    ] {
        for (path, len, mtime) in files(dir) {
            if days > 0 && mtime + days * 86_400 < now_s {
                if fs::remove_file(&path).is_ok() {
                    deleted(kind, "retention", len, &mut report);
                }
                continue;
            }
            *by_hour.entry(mtime / 3600).or_default() += len;
            match kind {
                Kind::Raw => {
                    report.raw_bytes += len;
                    report.raw_files += 1;
                }
                Kind::Attachment => {
                    report.attachment_bytes += len;
                    report.attachment_files += 1;
                }
            }
        }
    }
    // Pass 2: the quota, oldest hours first, never the last hour.
    let total = report.raw_bytes + report.attachment_bytes;
    if cfg.max_bytes > 0 && total > cfg.max_bytes {
        let target = cfg.max_bytes / 10 * 9;
        let youngest_deletable = now_s.saturating_sub(MIN_AGE_FOR_QUOTA.as_secs());
        let mut left = total;
        let mut cutoff: Option<u64> = None;
        for (&hour, &bytes) in &by_hour {
            if left <= target || (hour + 1) * 3600 > youngest_deletable {
                break;
            }
            left -= bytes;
            cutoff = Some(hour);
        }
        if let Some(cutoff) = cutoff {
            for (kind, dir) in [(Kind::Raw, raw_dir), (Kind::Attachment, att_dir)] {
                for (path, len, mtime) in files(dir) {
                    if mtime / 3600 <= cutoff && fs::remove_file(&path).is_ok() {
                        deleted(kind, "quota", len, &mut report);
                        match kind {
                            Kind::Raw => {
                                report.raw_bytes -= len.min(report.raw_bytes);
                                report.raw_files = report.raw_files.saturating_sub(1);
                            }
                            Kind::Attachment => {
                                report.attachment_bytes -= len.min(report.attachment_bytes);
                                report.attachment_files = report.attachment_files.saturating_sub(1);
                            }
                        }
                    }
                }
            }
        }
    }
    let total = report.raw_bytes + report.attachment_bytes;
    report.over_quota = cfg.max_bytes > 0 && total > cfg.max_bytes;
    let usage = store.usage();
    usage.bytes.store(total, Ordering::Relaxed);
    usage.quota.store(cfg.max_bytes, Ordering::Relaxed);
    metrics::gauge!("pintu_email_store_bytes", "kind" => "raw").set(report.raw_bytes as f64);
    metrics::gauge!("pintu_email_store_bytes", "kind" => "attachments").set(report.attachment_bytes as f64);
    metrics::gauge!("pintu_email_store_files", "kind" => "raw").set(report.raw_files as f64);
    metrics::gauge!("pintu_email_store_files", "kind" => "attachments").set(report.attachment_files as f64);
    metrics::gauge!("pintu_email_store_quota_bytes").set(cfg.max_bytes as f64);
    metrics::gauge!("pintu_email_store_over_quota").set(if report.over_quota { 1.0 } else { 0.0 });
    Ok(report)
}

/// Sweep at start, every `sweep_interval_secs`, and whenever a write passes
/// the quota, until shutdown.
pub async fn run(store: BlobStore, cfg: StorageConfig, shutdown: CancellationToken) {
    store.usage().quota.store(cfg.max_bytes, Ordering::Relaxed);
    let interval = Duration::from_secs(cfg.sweep_interval_secs.max(1));
    loop {
        let (s, c) = (store.clone(), cfg.clone());
        match tokio::task::spawn_blocking(move || sweep(&s, &c, SystemTime::now())).await {
            Ok(Ok(r)) => {
                if r.deleted_retention + r.deleted_quota > 0 {
                    info!(
                        retention = r.deleted_retention,
                        quota = r.deleted_quota,
                        bytes = r.deleted_bytes,
                        "e-mail files deleted"
                    );
                }
                if r.over_quota {
                    warn!(
                        bytes = r.raw_bytes + r.attachment_bytes,
                        quota = cfg.max_bytes,
                        "e-mail files above the quota even after deleting all older than an hour"
                    );
                }
            }
            Ok(Err(e)) => warn!(error = %e, "e-mail storage sweep failed"),
            Err(e) => warn!(error = %e, "e-mail storage sweep task failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
            _ = store.usage().over_quota.notified() => {
                // Many writes past the quota in a row need one sweep, not many.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, len: usize, age: Duration) {
        let p = dir.join(name);
        fs::write(&p, vec![b'x'; len]).unwrap();
        let t = SystemTime::now() - age;
        fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn retention_then_quota_oldest_first_never_the_last_hour() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let (raw, att, tmp) = store.dirs();
        let (raw, att, tmp) = (raw.to_path_buf(), att.to_path_buf(), tmp.to_path_buf());
        let h = |n: u64| Duration::from_secs(n * 3600);
        file(&raw, "r-old.eml", 100, h(24 * 40)); // past 30 days: retention
        file(&raw, "r-10h.eml", 400, h(10));
        file(&raw, "r-now.eml", 400, Duration::ZERO);
        file(&att, "a-100d", 100, h(24 * 100)); // within 365 days
        file(&att, "a-5h", 400, h(5));
        file(&tmp, "t-old", 10, h(2));
        let cfg = StorageConfig {
            max_bytes: 1000,
            ..StorageConfig::default()
        };
        let r = sweep(&store, &cfg, SystemTime::now()).unwrap();
        // 1300 bytes stay after retention; the quota (target 900) takes the
        // oldest hours: a-100d (100) and r-10h (400) → 800.
        assert_eq!(r.deleted_retention, 1);
        assert_eq!(r.deleted_quota, 2);
        assert_eq!(names(&raw), vec!["r-now.eml"]);
        assert_eq!(names(&att), vec!["a-5h"]);
        assert!(names(&tmp).is_empty());
        assert_eq!((r.raw_bytes, r.attachment_bytes), (400, 400));
        assert!(!r.over_quota);
        assert_eq!(store.usage().bytes.load(Ordering::Relaxed), 800);

        // A quota smaller than the last hour: the young file stays, flagged.
        let cfg = StorageConfig {
            max_bytes: 100,
            ..StorageConfig::default()
        };
        let r = sweep(&store, &cfg, SystemTime::now()).unwrap();
        assert_eq!(names(&raw), vec!["r-now.eml"]);
        assert!(names(&att).is_empty(), "5 h old: deletable");
        assert!(r.over_quota);

        // No quota, no retention: nothing goes.
        file(&att, "a-ancient", 10, h(24 * 1000));
        let cfg = StorageConfig {
            raw_retention_days: 0,
            attachment_retention_days: 0,
            max_bytes: 0,
            ..StorageConfig::default()
        };
        let r = sweep(&store, &cfg, SystemTime::now()).unwrap();
        assert_eq!(r.deleted_retention + r.deleted_quota, 0);
        assert_eq!(names(&att), vec!["a-ancient"]);
    }
}
