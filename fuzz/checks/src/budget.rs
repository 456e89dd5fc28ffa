//! Time bounds: an input of `n` bytes must be handled within
//! `base + per_kib * n / 1024`, i.e. linearly. A parser that is quadratic on
//! some input shape blows through the bound once the input is a few tens of
//! kilobytes, long before libFuzzer's own `-timeout` would notice.
//!
//! Time is the thread's CPU time, so a loaded machine that deschedules the
//! fuzzer does not count; an input that overruns is timed a second time and
//! only counts if it overruns again (its first run may have paid for a lazy
//! initialisation, such as a regex compiled on first use).
//! `PINTU_FUZZ_TIME_SCALE` (a factor) loosens every bound on a slower
//! machine; the default is 1 under cargo-fuzz (`cfg(fuzzing)`) and 20 in a
//! plain, unoptimised build.
//!
//! `PINTU_FUZZ_KNOWN` (a comma-separated list of stage names, e.g.
//! `html,quote,mask`) turns findings of those stages into no finding, for
//! long runs while a known issue in them is being fixed elsewhere (the
//! README's findings section). Without it every finding counts.

use std::sync::OnceLock;
use std::time::Duration;

/// A linear time budget.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub base_ms: u64,
    pub per_kib_us: u64,
}

impl Budget {
    pub const fn new(base_ms: u64, per_kib_us: u64) -> Budget {
        Budget { base_ms, per_kib_us }
    }

    /// The time allowed for an input of `len` bytes.
    pub fn limit(&self, len: usize) -> Duration {
        let us = self.base_ms as f64 * 1000.0 + self.per_kib_us as f64 * len as f64 / 1024.0;
        Duration::from_micros((us * scale()) as u64)
    }
}

/// The bounds are set for the optimised `cargo fuzz build -O`; a plain build
/// (the seed tests, the CI replay) is unoptimised and many times slower.
const PLAIN_BUILD_SCALE: f64 = 20.0;

fn scale() -> f64 {
    static S: OnceLock<f64> = OnceLock::new();
    *S.get_or_init(|| {
        std::env::var("PINTU_FUZZ_TIME_SCALE")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|f| f.is_finite() && *f > 0.0)
            .unwrap_or(if cfg!(fuzzing) { 1.0 } else { PLAIN_BUILD_SCALE })
    })
}

/// Whether findings in `stage` are a known issue to be skipped in this run.
pub fn known(stage: &str) -> bool {
    static K: OnceLock<Vec<String>> = OnceLock::new();
    K.get_or_init(|| {
        std::env::var("PINTU_FUZZ_KNOWN")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .iter()
    .any(|s| s == stage)
}

/// An input that took longer than its budget, twice.
#[derive(Debug, Clone, Copy)]
pub struct Overrun {
    pub took: Duration,
    pub limit: Duration,
    pub len: usize,
}

impl std::fmt::Display for Overrun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.1} ms for {} bytes, budget {:.1} ms",
            self.took.as_secs_f64() * 1000.0,
            self.len,
            self.limit.as_secs_f64() * 1000.0
        )
    }
}

/// CPU time consumed by the calling thread so far.
#[cfg(target_os = "linux")]
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // Linux always provides.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Elsewhere, wall time since the first call (descheduling then counts).
#[cfg(not(target_os = "linux"))]
fn thread_cpu() -> Duration {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// How long `f` ran, in CPU time of this thread.
pub fn cpu_time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = thread_cpu();
    let out = f();
    (out, thread_cpu().saturating_sub(start))
}

fn trace() -> bool {
    static T: OnceLock<bool> = OnceLock::new();
    *T.get_or_init(|| std::env::var_os("PINTU_FUZZ_TRACE").is_some())
}

/// Run `f` (an input of `len` bytes) and report an overrun of `budget`.
/// With `PINTU_FUZZ_TRACE` set, every timing is printed to stderr.
pub fn measure<T>(len: usize, budget: Budget, mut f: impl FnMut() -> T) -> (T, Option<Overrun>) {
    let limit = budget.limit(len);
    let (out, took) = cpu_time(&mut f);
    if trace() {
        eprintln!(
            "timing: {:.3} ms for {len} bytes (budget {:.1} ms)",
            took.as_secs_f64() * 1e3,
            limit.as_secs_f64() * 1e3
        );
    }
    if took <= limit {
        return (out, None);
    }
    // A lazy initialisation, or really slow? Only a second overrun counts.
    let ((), again) = cpu_time(|| drop(f()));
    let overrun = (again > limit).then_some(Overrun {
        took: took.min(again),
        limit,
        len,
    });
    (out, overrun)
}

/// [`measure`], panicking on an overrun unless `stage` is known slow.
pub fn within<T>(stage: &str, len: usize, budget: Budget, f: impl FnMut() -> T) -> T {
    let (out, overrun) = measure(len, budget, f);
    if let Some(o) = overrun {
        if !known(stage) {
            panic!("time bound exceeded in {stage}: {o}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_grows_linearly() {
        let b = Budget::new(10, 1000);
        assert_eq!(b.limit(2048).as_secs_f64() / b.limit(0).as_secs_f64(), 1.2);
    }

    #[test]
    fn overrun_is_reported() {
        let b = Budget::new(0, 0);
        let spin = || {
            let start = thread_cpu();
            while thread_cpu() - start < Duration::from_millis(2) {
                std::hint::black_box(0u64);
            }
        };
        let ((), o) = measure(1, b, spin);
        assert!(o.is_some());
        // Sleeping is not CPU time.
        let ((), o) = measure(1, Budget::new(1, 0), || std::thread::sleep(Duration::from_millis(5)));
        assert!(o.is_none());
        let (v, o) = measure(1, Budget::new(1000, 0), || 7);
        assert_eq!((v, o.is_none()), (7, true));
    }
}
