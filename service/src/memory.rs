//! The memory budget (`BT_MEMORY_LIMIT`): sizes as people write them, the
//! default from the cgroup limit or the available memory, each job's share
//! of a worker's budget, and what one variant of a bundle needs at least.
//!
//! A worker splits its limit evenly between its concurrent jobs. Within a
//! job's share come first the candles, the results and what each thread
//! holds while it evaluates one strategy; what is left bounds the sweep's
//! expression cache ([`bt_engine::sweep::SweepOptions::cache_bytes`]), which
//! past its bound recomputes instead of keeping. A bundle one variant of
//! which cannot fit the whole limit is refused at submission.

use std::fmt;

use bt_candles::CandlesView;
use bt_engine::bundle::Bundle;
use bt_engine::sweep::{RESULT_BYTES, SweepOptions, strategy_bytes};

/// Fraction of the detected memory (cgroup limit or available memory) a
/// process takes as its limit when none is given: the rest is for the
/// allocator's slack, the stack, the runtime and the kernel's own use.
pub const SAFETY_FRACTION: f64 = 0.8;

/// Smallest limit accepted: below it nothing useful runs, and a plain number
/// this small is more likely megabytes written without a unit.
pub const MIN_LIMIT: u64 = 64 << 20;

/// The limit when nothing can be detected (not Linux, no /proc).
const FALLBACK: u64 = 2 << 30;

/// Bytes per bar of the candle columns every dataset has (time, OHLCV).
const CANDLE_BYTES: u64 = 6 * 8;

/// Where a memory limit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--memory-limit` / `BT_MEMORY_LIMIT`.
    Given,
    /// The cgroup's memory limit (a container's).
    Cgroup,
    /// `MemAvailable` of /proc/meminfo.
    Available,
    /// Nothing to read: a fixed 2 GiB.
    Fallback,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Given => "BT_MEMORY_LIMIT",
            Self::Cgroup => "cgroup limit",
            Self::Available => "available memory",
            Self::Fallback => "fallback",
        }
    }
}

/// A memory limit in bytes and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    pub bytes: u64,
    pub source: Source,
}

impl MemoryLimit {
    /// The limit given (`BT_MEMORY_LIMIT` text), or the detected default.
    /// An error is the reason, for the caller to prefix with the variable.
    pub fn resolve(given: Option<&str>) -> Result<Self, String> {
        match given.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => {
                let bytes = parse_size(s)?;
                if bytes < MIN_LIMIT {
                    return Err(format!("{s:?} is less than the least limit, {}", Bytes(MIN_LIMIT)));
                }
                Ok(Self { bytes, source: Source::Given })
            }
            None => Ok(Self::detect()),
        }
    }

    /// The cgroup limit if one is set, else the available memory, times
    /// [`SAFETY_FRACTION`].
    pub fn detect() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        detect_from(
            read("/sys/fs/cgroup/memory.max"),
            read("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
            read("/proc/meminfo"),
        )
    }
}

impl fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", Bytes(self.bytes), self.source.as_str())
    }
}

/// [`MemoryLimit::detect`] on the files' contents (cgroup v2 `memory.max`,
/// cgroup v1 `memory.limit_in_bytes`, `/proc/meminfo`).
fn detect_from(cgroup2: Option<String>, cgroup1: Option<String>, meminfo: Option<String>) -> MemoryLimit {
    // v1 says "no limit" with a huge number (a page-rounded i64::MAX).
    let limit =
        |s: Option<String>| s.and_then(|s| s.trim().parse::<u64>().ok()).filter(|&b| b > 0 && b < 1 << 60);
    let available = meminfo.and_then(|m| {
        m.lines().find_map(|l| {
            let kb = l.strip_prefix("MemAvailable:")?.trim().strip_suffix("kB")?.trim();
            kb.parse::<u64>().ok().map(|k| k * 1024)
        })
    });
    let (bytes, source) = match (limit(cgroup2).or_else(|| limit(cgroup1)), available) {
        (Some(b), _) => (b, Source::Cgroup),
        (None, Some(b)) => (b, Source::Available),
        (None, None) => return MemoryLimit { bytes: FALLBACK, source: Source::Fallback },
    };
    MemoryLimit { bytes: ((bytes as f64 * SAFETY_FRACTION) as u64).max(MIN_LIMIT), source }
}

/// A size: plain bytes, or a number (fractions allowed) with a unit, case
/// ignored: `k`/`kb`, `m`/`mb`, `g`/`gb`, `t`/`tb` are powers of 1000;
/// `kib`, `mib`, `gib`, `tib` (or `ki`...) powers of 1024. `1GB`, `512MiB`,
/// `2G`, `1073741824`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = (&s[..split], s[split..].trim());
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "{text:?} is not a size: unknown unit {unit:?} (use bytes, or KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
            ));
        }
    };
    let bad = || format!("{text:?} is not a size (a number of bytes, or e.g. 1GB, 512MiB, 2G)");
    let bytes = if num.contains('.') {
        let v: f64 = num.parse().map_err(|_| bad())?;
        let b = v * scale as f64;
        if !b.is_finite() || b >= u64::MAX as f64 {
            return Err(bad());
        }
        b.round() as u64
    } else {
        num.parse::<u64>().ok().and_then(|v| v.checked_mul(scale)).ok_or_else(bad)?
    };
    Ok(bytes)
}

/// Bytes for people: `1.5 GiB`, `300 MiB`, `512 B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut v = self.0 as f64 / 1024.0;
        let mut u = 0;
        while v >= 1024.0 && u + 1 < UNITS.len() {
            v /= 1024.0;
            u += 1;
        }
        if v >= 100.0 { write!(f, "{v:.0} {}", UNITS[u]) } else { write!(f, "{v:.1} {}", UNITS[u]) }
    }
}

/// Bytes of a dataset's candles: `bars` bars of time, OHLCV and `extras`
/// data columns.
pub fn dataset_bytes(bars: u64, extras: usize) -> u64 {
    bars * (CANDLE_BYTES + 8 * extras as u64)
}

/// Bytes of one variant's result in a worker: the sweep's, the stored row
/// and its encoding in the write.
pub fn result_bytes() -> u64 {
    RESULT_BYTES + 2 * size_of::<bt_queue::ResultRow>() as u64
}

/// How a job's share of the worker's memory is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobBudget {
    /// The worker's limit over its concurrent jobs.
    pub share: u64,
    pub dataset: u64,
    pub results: u64,
    /// Each thread evaluating one strategy.
    pub working: u64,
    /// What is left, for the expression cache (0 when nothing is).
    pub cache: u64,
}

/// The share of one of `max_concurrent` jobs of a worker with `limit`
/// bytes, running `variants` variants on a dataset of `dataset` bytes with
/// `threads` threads, each holding up to `strategy` bytes
/// ([`bt_engine::sweep::strategy_bytes`]).
pub fn job_budget(
    limit: u64,
    max_concurrent: usize,
    threads: usize,
    dataset: u64,
    variants: u64,
    strategy: u64,
) -> JobBudget {
    let share = limit / max_concurrent.max(1) as u64;
    let results = variants.saturating_mul(result_bytes());
    let working = strategy.saturating_mul(threads as u64);
    let cache = share.saturating_sub(dataset.saturating_add(results).saturating_add(working));
    JobBudget { share, dataset, results, working, cache }
}

/// A worker job's sweep options: its expression cache gets what is left of
/// its share (see [`job_budget`]) for `variants` variants of `bundle` on
/// `candles`.
pub fn job_options(
    limit: u64,
    max_concurrent: usize,
    threads: usize,
    bundle: &Bundle,
    candles: CandlesView<'_>,
    variants: u64,
) -> (SweepOptions, JobBudget) {
    let dataset = dataset_bytes(candles.len() as u64, candles.extra.len());
    let b =
        job_budget(limit, max_concurrent, threads, dataset, variants, strategy_bytes(bundle, candles.len()));
    (SweepOptions::default().with_cache_bytes(usize::try_from(b.cache).unwrap_or(usize::MAX)), b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_both_unit_systems() {
        let cases: [(&str, u64); 12] = [
            ("1GB", 1_000_000_000),
            ("1gb", 1_000_000_000),
            ("2G", 2_000_000_000),
            ("512MiB", 512 << 20),
            ("512 MiB", 512 << 20),
            ("1Gi", 1 << 30),
            ("1.5GiB", 3 << 29),
            ("1073741824", 1 << 30),
            ("100B", 100),
            ("64k", 64_000),
            ("3TiB", 3 << 40),
            (" 7 MB ", 7_000_000),
        ];
        for (text, bytes) in cases {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for bad in ["", "GB", "1XB", "-1GB", "1..5G", "1e9", "99999999999999999999", "20000000000TB"] {
            let e = parse_size(bad).expect_err(bad);
            assert!(e.starts_with(&format!("{bad:?} is not a size")), "{bad}: {e}");
        }
    }

    #[test]
    fn a_given_limit_wins_and_tiny_ones_are_refused() {
        assert_eq!(
            MemoryLimit::resolve(Some("1GB")),
            Ok(MemoryLimit { bytes: 1_000_000_000, source: Source::Given })
        );
        assert_eq!(
            MemoryLimit::resolve(Some("1024")),
            Err("\"1024\" is less than the least limit, 64.0 MiB".to_owned())
        );
        assert_ne!(MemoryLimit::resolve(None).map(|l| l.source), Ok(Source::Given));
    }

    #[test]
    fn the_default_is_the_cgroup_limit_else_available_memory_times_the_fraction() {
        let meminfo = Some("MemTotal: 16000000 kB\nMemFree: 1 kB\nMemAvailable:    8000000 kB\n".to_owned());
        let gib = Some(format!("{}\n", 1u64 << 30));
        // cgroup v2 with a limit.
        let l = detect_from(gib.clone(), None, meminfo.clone());
        assert_eq!(l, MemoryLimit { bytes: (0.8 * (1u64 << 30) as f64) as u64, source: Source::Cgroup });
        // v2 without one ("max"), v1 with one.
        assert_eq!(detect_from(Some("max\n".into()), gib.clone(), meminfo.clone()).source, Source::Cgroup);
        // v1's "no limit" is a huge number: the available memory counts.
        let l = detect_from(None, Some("9223372036854771712\n".into()), meminfo.clone());
        assert_eq!(l, MemoryLimit { bytes: (0.8 * 8_192_000_000.0) as u64, source: Source::Available });
        assert_eq!(detect_from(None, None, None), MemoryLimit { bytes: 2 << 30, source: Source::Fallback });
        assert_eq!(detect_from(None, None, Some("MemTotal: 1 kB\n".into())).source, Source::Fallback);
    }

    #[test]
    fn bytes_print_for_people() {
        let s = |b: u64| Bytes(b).to_string();
        assert_eq!(
            [s(512), s(1536), s(300 << 20), s(3 << 29), s(5 << 40)],
            ["512 B", "1.5 KiB", "300 MiB", "1.5 GiB", "5.0 TiB"]
        );
    }

    #[test]
    fn a_job_share_pays_for_candles_results_and_threads_before_the_cache() {
        let b = job_budget(1 << 30, 2, 4, 10 << 20, 1_000, 2 << 20);
        assert_eq!(b.share, 512 << 20);
        assert_eq!(b.results, 1_000 * result_bytes());
        assert_eq!(b.working, 8 << 20);
        assert_eq!(b.cache, (512 << 20) - (10 << 20) - b.results - (8 << 20));
        // Nothing left: the cache keeps nothing, the job still runs.
        assert_eq!(job_budget(1 << 30, 2, 4, 1 << 30, 1, 0).cache, 0);
    }
}
