//! The parallel sweep: a range of one dataset's variants across the rayon pool.
//!
//! Each distinct sub-expression shared by strategies (an indicator, a cross,
//! a comparison) is computed once ([`ExprCache`]) while the cache's memory
//! bound ([`SweepOptions::cache_bytes`]) allows, and dropped as soon as no
//! strategy still to come in the range reads it: every strategy's program is
//! compiled up front to count the users of each column. Each strategy
//! combination's signals are computed once, by the first task that needs
//! them, kept as a sparse list of fill events until the last of its variants
//! in the range is done. Memory thus follows the strategies in flight, not
//! the size of the range. Variants, in index order, are packed into
//! groups of four that advance together through the bar loop (the lane
//! kernel, `lanes.rs`); tasks of a few groups go to the rayon pool and
//! walk the bars in tiles so the columns they read stay in cache. Results are
//! returned in variant order and do not depend on the number of threads.
//!
//! The scalar path ([`Kernel::Scalar`]: [`simulate`] per variant) is the
//! reference: the lane kernel gives bit-identical metrics, and the sweep falls
//! back to the scalar path on bars the kernel does not take (no bars,
//! non-finite prices, decreasing timestamps).

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bt_candles::CandlesView;
use rayon::prelude::*;

use crate::bundle::Bundle;
use crate::execution::Execution;
use crate::lanes::{self, Columns, Event, Group, Isa, W};
use crate::metrics::{Accumulator, Metrics};
use crate::rules::{CACHE_BYTES, ExprCache, UserCounts};
use crate::sim::{Detail, NoRecord, simulate};

/// Shared between the sweep and whoever watches it: variants done (read it
/// from any thread) and a cancellation flag (checked before every variant,
/// i.e. every few milliseconds even on a million bars).
#[derive(Debug, Default)]
pub struct SweepControl {
    pub done: AtomicU64,
    pub cancel: AtomicBool,
}

/// One variant's metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VariantResult {
    pub index: u64,
    pub metrics: Metrics,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SweepError {
    #[error("cancelled")]
    Cancelled,
    #[error("variants {start}..{end} are not all in dataset {dataset} of the bundle")]
    Range { start: u64, end: u64, dataset: usize },
    /// A strategy combination whose rules do not compile (one of a grid too
    /// large to check every combination up front).
    #[error("{0}")]
    Strategy(String),
}

/// Money combinations per task of the scalar path.
const CHUNK: usize = 16;

/// Most lane groups per task of the lane kernel.
const GROUPS_PER_TASK: usize = 8;

/// Bars per tile: the high, low, close and time columns of a tile (32 bytes a
/// bar) stay in a 512 KiB L2 while a task's groups pass over them.
const TILE: usize = 4096;

thread_local! {
    /// A strategy's signals before they become fill events.
    static SIGNALS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How the sweep simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernel {
    /// The lane kernel with the widest instructions the CPU has (AVX), chosen
    /// at run time.
    #[default]
    Auto,
    /// The lane kernel on plain arrays (what a CPU without AVX runs).
    Portable,
    /// The reference: [`simulate`] per variant.
    Scalar,
}

fn buy_and_hold(c: CandlesView<'_>) -> f64 {
    match (c.close.first(), c.close.last()) {
        (Some(a), Some(b)) => b / a - 1.0,
        _ => 0.0,
    }
}

/// How a sweep runs: its kernel and the memory its expression cache may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepOptions {
    pub kernel: Kernel,
    /// Most bytes of columns shared between strategies kept at once
    /// ([`ExprCache`]); past it, columns are computed again when needed.
    pub cache_bytes: usize,
}

impl Default for SweepOptions {
    fn default() -> Self {
        Self { kernel: Kernel::Auto, cache_bytes: CACHE_BYTES }
    }
}

impl SweepOptions {
    pub fn with_kernel(self, kernel: Kernel) -> Self {
        Self { kernel, ..self }
    }

    pub fn with_cache_bytes(self, cache_bytes: usize) -> Self {
        Self { cache_bytes, ..self }
    }
}

/// Runs variants `range` (all of dataset `dataset`) on `candles`, that
/// dataset's bars, on the current rayon pool.
pub fn sweep(
    bundle: &Bundle,
    dataset: usize,
    candles: CandlesView<'_>,
    range: Range<u64>,
    ctl: &SweepControl,
) -> Result<Vec<VariantResult>, SweepError> {
    sweep_with_options(bundle, dataset, candles, range, ctl, SweepOptions::default())
}

/// [`sweep`] with a chosen kernel (benchmarks and tests compare them).
pub fn sweep_with(
    bundle: &Bundle,
    dataset: usize,
    candles: CandlesView<'_>,
    range: Range<u64>,
    ctl: &SweepControl,
    kernel: Kernel,
) -> Result<Vec<VariantResult>, SweepError> {
    sweep_with_options(bundle, dataset, candles, range, ctl, SweepOptions::default().with_kernel(kernel))
}

/// [`sweep`] with [`SweepOptions`].
pub fn sweep_with_options(
    bundle: &Bundle,
    dataset: usize,
    candles: CandlesView<'_>,
    range: Range<u64>,
    ctl: &SweepControl,
    opts: SweepOptions,
) -> Result<Vec<VariantResult>, SweepError> {
    let per = bundle.per_dataset();
    let base = dataset as u64 * per;
    if dataset >= bundle.datasets.len()
        || range.start < base
        || range.end > base + per
        || range.start > range.end
    {
        return Err(SweepError::Range { start: range.start, end: range.end, dataset });
    }
    if range.is_empty() {
        return Ok(Vec::new());
    }
    // The lane kernel runs bt's execution conventions; another profile's
    // sizing, stops and end-of-data close run the scalar simulator.
    if bundle.spec.execution.resolve() != Execution::BT {
        return sweep_scalar(bundle, dataset, candles, range, ctl, opts);
    }
    let isa = match opts.kernel {
        Kernel::Auto => Isa::Best,
        Kernel::Portable => Isa::Portable,
        Kernel::Scalar => return sweep_scalar(bundle, dataset, candles, range, ctl, opts),
    };
    match Columns::new(candles) {
        Some(cols) => sweep_lanes(bundle, dataset, candles, &cols, range, ctl, isa, opts),
        None => sweep_scalar(bundle, dataset, candles, range, ctl, opts),
    }
}

/// One strategy's signals as a path keeps them, or why they failed.
type Signals<T> = Arc<Result<T, String>>;

/// The strategies of a variant range: each one's signals computed once, by
/// the first task that needs them, and dropped once the last of its
/// variants in the range is done. Strategies are evaluated through one
/// [`ExprCache`] that knows which of them use each column, so a column is
/// dropped once no strategy still to come reads it.
struct Strategies<'a, T> {
    bundle: &'a Bundle,
    candles: CandlesView<'a>,
    base: u64,
    /// First strategy of the range.
    first: u64,
    slots: Vec<Mutex<Option<Signals<T>>>>,
    /// Variants of each strategy in the range not yet done.
    left: Vec<AtomicU64>,
    cache: ExprCache,
}

impl<'a, T> Strategies<'a, T> {
    /// The strategies of `range` (not empty, all of `dataset`).
    fn new(
        bundle: &'a Bundle,
        dataset: usize,
        candles: CandlesView<'a>,
        range: &Range<u64>,
        cache_bytes: usize,
    ) -> Self {
        let base = dataset as u64 * bundle.per_dataset();
        let m = bundle.money.len() as u64;
        let (first, last) = ((range.start - base) / m, (range.end - 1 - base) / m);
        // Compiled once up front to count each column's users (not kept:
        // compiling is cheap next to evaluating, holding every program is not).
        let counts = (first..=last)
            .into_par_iter()
            .fold(UserCounts::default, |mut c, s| {
                if let Ok(p) = bundle.strategies.get(s as usize).program() {
                    c.add(&p);
                }
                c
            })
            .reduce(UserCounts::default, UserCounts::merge);
        let left = (first..=last)
            .map(|s| {
                let (lo, hi) = (base + s * m, base + (s + 1) * m);
                AtomicU64::new(range.end.min(hi) - range.start.max(lo))
            })
            .collect();
        Self {
            bundle,
            candles,
            base,
            first,
            slots: (first..=last).map(|_| Mutex::new(None)).collect(),
            left,
            cache: ExprCache::with_counts(cache_bytes, counts),
        }
    }

    /// Strategy `s`'s signals, made into `T` by `make` from the per-bar flags.
    fn get(&self, s: u64, make: impl FnOnce(&[u8]) -> T) -> Signals<T> {
        let mut slot = self.slots[(s - self.first) as usize].lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sig) = &*slot {
            return Arc::clone(sig);
        }
        let n = self.candles.len();
        let sig = Arc::new(self.bundle.strategies.get(s as usize).program().and_then(|p| {
            // One signal buffer per thread: fresh pages cost a fault each.
            let r = SIGNALS.with_borrow_mut(|sig| {
                sig.resize(n, 0);
                p.signals(self.candles, &self.cache, sig).map(|()| make(sig))
            });
            self.cache.release(&p);
            r
        }));
        *slot = Some(Arc::clone(&sig));
        sig
    }

    /// `k` variants of strategy `s` are done; after its last, its signals go.
    fn done(&self, s: u64, k: u64) {
        let i = (s - self.first) as usize;
        if self.left[i].fetch_sub(k, Ordering::Relaxed) == k {
            *self.slots[i].lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// The strategies of variants `v` (a sub-range of the sweep's), each
    /// with how many of its variants `v` holds.
    fn of(&self, v: Range<u64>) -> impl Iterator<Item = (u64, u64)> {
        let m = self.bundle.money.len() as u64;
        let (base, first, last) = (self.base, (v.start - self.base) / m, (v.end - 1 - self.base) / m);
        (first..=last).map(move |s| (s, v.end.min(base + (s + 1) * m) - v.start.max(base + s * m)))
    }
}

/// The lane kernel over a validated, non-empty range.
#[allow(clippy::too_many_arguments)]
fn sweep_lanes(
    bundle: &Bundle,
    dataset: usize,
    candles: CandlesView<'_>,
    cols: &Columns<'_>,
    range: Range<u64>,
    ctl: &SweepControl,
    isa: Isa,
    opts: SweepOptions,
) -> Result<Vec<VariantResult>, SweepError> {
    let base = dataset as u64 * bundle.per_dataset();
    let m = bundle.money.len() as u64;
    let period = bundle.period(dataset, candles);
    let bh = buy_and_hold(candles);
    let count = (range.end - range.start) as usize;
    let strategies: Strategies<'_, Vec<Event>> =
        Strategies::new(bundle, dataset, candles, &range, opts.cache_bytes);
    // Tasks of whole groups, enough of them to keep every thread busy.
    let groups = count.div_ceil(W);
    let threads = rayon::current_num_threads().max(1);
    let per_task = groups.div_ceil(4 * threads).clamp(1, GROUPS_PER_TASK) * W;
    let chunks: Vec<Result<Vec<VariantResult>, SweepError>> = (0..count.div_ceil(per_task))
        .into_par_iter()
        .map(|t| {
            if ctl.cancel.load(Ordering::Relaxed) {
                return Err(SweepError::Cancelled);
            }
            let v0 = range.start + (t * per_task) as u64;
            let v1 = (v0 + per_task as u64).min(range.end);
            // The task's strategies, held while its groups run.
            let s0 = (v0 - base) / m;
            let held: Vec<Signals<Vec<Event>>> =
                strategies.of(v0..v1).map(|(s, _)| strategies.get(s, lanes::events)).collect();
            let lane = |v: u64| {
                let (s, mi) = ((v - base) / m, (v - base) % m);
                match &*held[(s - s0) as usize] {
                    Ok(ev) => Ok((bundle.sim_params(&bundle.money[mi as usize]), ev.as_slice())),
                    Err(e) => Err(SweepError::Strategy(e.clone())),
                }
            };
            let mut gs: Vec<Group<'_>> = Vec::with_capacity(per_task / W);
            let mut v = v0;
            while v < v1 {
                let w = (v1 - v).min(W as u64);
                let mut ls = Vec::with_capacity(W);
                for k in 0..w {
                    ls.push(lane(v + k)?);
                }
                gs.push(Group::new(&ls, cols));
                v += w;
            }
            if !lanes::run_groups(&mut gs, cols, TILE, &ctl.cancel, isa) {
                return Err(SweepError::Cancelled);
            }
            let out: Vec<VariantResult> = gs
                .iter()
                .flat_map(|g| g.finish(cols))
                .zip(v0..v1)
                .map(|(acc, index)| VariantResult { index, metrics: acc.finish(&period, bh) })
                .collect();
            for (s, k) in strategies.of(v0..v1) {
                strategies.done(s, k);
            }
            ctl.done.fetch_add(out.len() as u64, Ordering::Relaxed);
            Ok(out)
        })
        .collect();
    let mut results = Vec::with_capacity(count);
    for c in chunks {
        results.extend(c?);
    }
    Ok(results)
}

/// The reference path: [`simulate`] per variant, in tasks of [`CHUNK`] money
/// combinations.
fn sweep_scalar(
    bundle: &Bundle,
    dataset: usize,
    candles: CandlesView<'_>,
    range: Range<u64>,
    ctl: &SweepControl,
    opts: SweepOptions,
) -> Result<Vec<VariantResult>, SweepError> {
    let base = dataset as u64 * bundle.per_dataset();
    let m = bundle.money.len() as u64;
    let period = bundle.period(dataset, candles);
    let bh = buy_and_hold(candles);
    let strategies: Strategies<'_, Vec<u8>> =
        Strategies::new(bundle, dataset, candles, &range, opts.cache_bytes);
    // Tasks: (strategy index, money start, money end) covering the range.
    let mut tasks = Vec::new();
    for (s, _) in strategies.of(range.clone()) {
        let lo = range.start.max(base + s * m) - (base + s * m);
        let hi = range.end.min(base + (s + 1) * m) - (base + s * m);
        let mut a = lo;
        while a < hi {
            let b = (a + CHUNK as u64).min(hi);
            tasks.push((s, a, b));
            a = b;
        }
    }
    let chunks: Vec<Result<Vec<VariantResult>, SweepError>> = tasks
        .par_iter()
        .map(|&(s, lo, hi)| {
            let sig = strategies.get(s, <[u8]>::to_vec);
            let sig = sig.as_ref().as_ref().map_err(|e| SweepError::Strategy(e.clone()))?;
            let mut out = Vec::with_capacity((hi - lo) as usize);
            for mi in lo..hi {
                if ctl.cancel.load(Ordering::Relaxed) {
                    return Err(SweepError::Cancelled);
                }
                let p = bundle.sim_params(&bundle.money[mi as usize]);
                let mut acc = Accumulator::new(p.initial_balance);
                simulate(candles, sig, &p, &mut acc, &mut NoRecord);
                out.push(VariantResult { index: base + s * m + mi, metrics: acc.finish(&period, bh) });
                ctl.done.fetch_add(1, Ordering::Relaxed);
            }
            strategies.done(s, hi - lo);
            Ok(out)
        })
        .collect();
    let mut results = Vec::with_capacity((range.end - range.start) as usize);
    for c in chunks {
        results.extend(c?);
    }
    Ok(results)
}

/// Bytes one strategy's evaluation holds at most on `bars` bars, the
/// largest of up to 64 of the bundle's strategy combinations spread over
/// its grid: every column its program computes, its signal bytes and its
/// fill events at one a bar. What each thread of a sweep needs besides the
/// candles, the cache and the results.
pub fn strategy_bytes(bundle: &Bundle, bars: usize) -> u64 {
    let n = bundle.strategies.len();
    let samples = n.min(64);
    let columns = (0..samples)
        .map(|k| if samples > 1 { k * (n - 1) / (samples - 1) } else { 0 })
        .filter_map(|i| bundle.strategies.get(i).program().ok())
        .map(|p| p.column_bytes(bars))
        .max()
        .unwrap_or(0);
    (columns + bars * (1 + size_of::<Event>())) as u64
}

/// Bytes of one variant's result while a sweep returns it.
pub const RESULT_BYTES: u64 = size_of::<VariantResult>() as u64;

/// One variant in detail: its metrics (equal to the sweep's), trades and
/// equity curve.
pub fn run_variant(bundle: &Bundle, index: u64, candles: CandlesView<'_>) -> Option<(Metrics, Detail)> {
    let v = bundle.variant(index)?;
    let cache = ExprCache::default();
    let mut sig = vec![0u8; candles.len()];
    v.strategy.signals(candles, &cache, &mut sig).ok()?;
    let p = bundle.sim_params(&v.money);
    let mut acc = Accumulator::new(p.initial_balance);
    let mut detail = Detail::default();
    simulate(candles, &sig, &p, &mut acc, &mut detail);
    Some((acc.finish(&bundle.period(v.dataset, candles), buy_and_hold(candles)), detail))
}

#[cfg(test)]
mod tests {
    use bt_candles::{GenerateSpec, generate};

    use super::*;
    use crate::bundle::Limits;

    fn bundle(strategy: &str) -> Bundle {
        let text = format!(
            r#"
            [datasets]
            tickers = ["A"]
            timeframes = ["1m"]
            [strategy]
            {strategy}
            [money]
            stop_loss = [0, 0.01, 0.03]
            take_profit = [0, 0.02]
            trailing_stop = [0, 0.01]
            max_bars = [0, 40]
            leverage = [1, 5]
            direction = ["long", "short", "both"]
            [costs]
            fee_bps = 10
            slippage_bps = 2
            "#
        );
        Bundle::from_toml(&text, Limits::default()).expect("bundle")
    }

    const KINDS: [&str; 7] = [
        "kind = \"sma_cross\"\nfast = [5, 10]\nslow = [30, 60]",
        "kind = \"ema_cross\"\nfast = 8\nslow = 21",
        "kind = \"rsi\"\nperiod = [7, 14]\nlower = 30\nupper = 70",
        "kind = \"macd_cross\"\nfast = 12\nslow = 26\nsignal = 9",
        "kind = \"bollinger\"\nperiod = 20\nk = 2\nmode = [\"breakout\", \"reversion\"]",
        "kind = \"supertrend\"\nperiod = 10\nmultiplier = [2, 3]",
        "kind = \"donchian\"\nperiod = [20, 55]",
    ];

    #[test]
    fn sweep_equals_detail_path_bit_for_bit_on_random_variants() {
        let mut reasons = std::collections::BTreeSet::new();
        for (k, strategy) in KINDS.iter().enumerate() {
            let b = bundle(strategy);
            let c = generate(&GenerateSpec { bars: 6_000, seed: 100 + k as u64, ..GenerateSpec::default() });
            let ctl = SweepControl::default();
            let all = sweep(&b, 0, c.view(), 0..b.count(), &ctl).expect("sweep");
            assert_eq!(all.len() as u64, b.count());
            assert_eq!(ctl.done.load(Ordering::Relaxed), b.count());
            let mut traded = 0;
            for r in &all {
                let (m, d) = run_variant(&b, r.index, c.view()).expect("variant");
                // Metrics are bit-identical: compare their debug forms (NaN-safe).
                assert_eq!(format!("{:?}", r.metrics), format!("{m:?}"), "{strategy} variant {}", r.index);
                assert_eq!(
                    d.trades.iter().filter(|t| t.reason != crate::sim::ExitReason::Open).count() as u64,
                    m.trades
                );
                assert_eq!(d.equity.len(), c.len());
                assert_eq!(*d.equity.last().expect("equity"), m.final_equity);
                traded += usize::from(m.trades > 0);
                reasons.extend(d.trades.iter().map(|t| t.reason.as_str()));
            }
            assert!(traded > all.len() / 2, "{strategy}: only {traded} variants traded");
        }
        // Every way out was compared.
        for reason in ["signal", "stop_loss", "take_profit", "trailing_stop", "max_bars"] {
            assert!(reasons.contains(reason), "no {reason} exit in {reasons:?}");
        }
    }

    /// SplitMix64, for reproducible random bundles.
    struct Rng(bt_candles::SplitMix64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0.next_u64()
        }
        fn pick<T: Copy>(&mut self, v: &[T]) -> T {
            v[(self.next() % v.len() as u64) as usize]
        }
        /// 1 to `max` distinct values of `v`, as a TOML list.
        fn list(&mut self, v: &[&str], max: usize) -> String {
            let k = 1 + (self.next() % max as u64) as usize;
            let mut out: Vec<&str> = Vec::new();
            while out.len() < k.min(v.len()) {
                let x = self.pick(v);
                if !out.contains(&x) {
                    out.push(x);
                }
            }
            format!("[{}]", out.join(", "))
        }
    }

    #[test]
    fn lane_kernels_equal_the_scalar_path_on_random_data_and_variants() {
        let mut rng = Rng(bt_candles::SplitMix64(0x5EED));
        for case in 0..28 {
            let text = format!(
                r#"
                [datasets]
                tickers = ["A"]
                timeframes = ["1m"]
                [strategy]
                {}
                [money]
                stop_loss = {}
                take_profit = {}
                trailing_stop = {}
                max_bars = {}
                leverage = {}
                size = {}
                direction = {}
                [costs]
                fee_bps = {}
                slippage_bps = {}
                "#,
                KINDS[case % KINDS.len()],
                rng.list(&["0", "0.002", "0.005", "0.01", "0.02", "0.05"], 3),
                rng.list(&["0", "0.003", "0.01", "0.02", "0.1"], 3),
                rng.list(&["0", "0.005", "0.02", "0.05"], 2),
                rng.list(&["0", "1", "5", "30"], 2),
                rng.list(&["1", "2", "5", "20", "50"], 2),
                rng.list(&["0.3", "1"], 2),
                rng.list(&["\"long\"", "\"short\"", "\"both\""], 3),
                rng.pick(&[0.0, 5.0, 10.0]),
                rng.pick(&[0.0, 1.0, 5.0]),
            );
            let b = Bundle::from_toml(&text, Limits::default()).expect("bundle");
            let spec = GenerateSpec {
                bars: 300 + (rng.next() % 6_000) as usize,
                seed: rng.next(),
                volatility: Some(rng.pick(&[0.0005, 0.002, 0.01, 0.03])),
                tick: rng.pick(&[0.01, 1e-6]),
                ..GenerateSpec::default()
            };
            let c = generate(&spec);
            let run = |kernel: Kernel, range: Range<u64>| {
                let ctl = SweepControl::default();
                let r = sweep_with(&b, 0, c.view(), range.clone(), &ctl, kernel).expect("sweep");
                assert_eq!(ctl.done.load(Ordering::Relaxed), range.end - range.start);
                format!("{r:?}")
            };
            let all = 0..b.count();
            let scalar = run(Kernel::Scalar, all.clone());
            assert_eq!(run(Kernel::Auto, all.clone()), scalar, "case {case}: {text}");
            assert_eq!(run(Kernel::Portable, all), scalar, "case {case}: {text}");
            let a = rng.next() % b.count();
            let part = a..a + 1 + rng.next() % (b.count() - a);
            assert_eq!(run(Kernel::Auto, part.clone()), run(Kernel::Scalar, part), "case {case}");
        }
    }

    #[test]
    fn every_path_counts_calendar_years_on_weekday_daily_bars() {
        // Daily bars Monday to Friday from 2004-08-19: 2,148 of them span
        // 8.23 calendar years.
        let all = generate(&GenerateSpec {
            bars: 3_100,
            seed: 11,
            timeframe: bt_candles::Timeframe::D1,
            start_ms: 1_092_873_600_000,
            ..GenerateSpec::default()
        });
        let v = all.view();
        let mut c = bt_candles::Columns::default();
        for i in (0..v.len()).filter(|&i| (v.ts[i].div_euclid(86_400_000) + 3).rem_euclid(7) < 5).take(2_148)
        {
            c.push(v.ts[i], v.open[i], v.high[i], v.low[i], v.close[i], v.volume[i]);
        }
        let text = format!(
            "{}\n[datasets]\ntickers = [\"A\"]\ntimeframes = [\"1d\"]\n[strategy]\n{}\n[money]\nstop_loss = [0, 0.03]",
            "", KINDS[0]
        );
        let years = (c.ts[2_147] - c.ts[0]) as f64 / (365.25 * 86_400_000.0);
        assert!((8.2..8.3).contains(&years), "{years}");
        for (option, bars_per_year) in [("auto", 252.0), ("crypto", 365.0), ("1000", 1000.0)] {
            let annual = if option == "1000" { option.to_owned() } else { format!("{option:?}") };
            let b = Bundle::from_toml(&format!("annualization = {annual}{text}"), Limits::default())
                .expect("bundle");
            assert_eq!(b.period(0, c.view()).bars_per_year, bars_per_year);
            let lanes = sweep(&b, 0, c.view(), 0..b.count(), &SweepControl::default()).expect("sweep");
            let scalar = sweep_with(&b, 0, c.view(), 0..b.count(), &SweepControl::default(), Kernel::Scalar)
                .expect("scalar");
            assert_eq!(format!("{lanes:?}"), format!("{scalar:?}"));
            let mut traded = 0;
            for r in &lanes {
                let m = r.metrics;
                assert_eq!(
                    format!("{m:?}"),
                    format!("{:?}", run_variant(&b, r.index, c.view()).expect("variant").0)
                );
                let want = (m.final_equity / 10_000.0).powf(1.0 / years) - 1.0;
                assert!((m.cagr - want).abs() < 1e-12, "{option} variant {}: {} vs {want}", r.index, m.cagr);
                traded += usize::from(m.trades > 0 && m.total_return.abs() > 1e-3);
            }
            assert!(traded > 0);
        }
    }

    #[test]
    fn bars_the_lanes_do_not_take_run_on_the_scalar_path() {
        let b = bundle(KINDS[0]);
        let c = generate(&GenerateSpec { bars: 2_000, seed: 3, ..GenerateSpec::default() });
        let ok = sweep_with(&b, 0, c.view(), 0..b.count(), &SweepControl::default(), Kernel::Scalar);
        assert_eq!(sweep(&b, 0, c.view(), 0..b.count(), &SweepControl::default()), ok);
        // Decreasing timestamps: not the lanes' (flat stretches assume order).
        let mut ts = c.view().ts.to_vec();
        ts.swap(10, 11);
        let v = CandlesView { ts: &ts, ..c.view() };
        assert!(Columns::new(v).is_none());
        assert_eq!(
            sweep(&b, 0, v, 0..b.count(), &SweepControl::default()),
            sweep_with(&b, 0, v, 0..b.count(), &SweepControl::default(), Kernel::Scalar)
        );
    }

    #[test]
    fn results_do_not_depend_on_thread_count_or_range_split() {
        let b = bundle(KINDS[0]);
        let c = generate(&GenerateSpec { bars: 5_000, seed: 7, ..GenerateSpec::default() });
        let run = |threads: usize, range: Range<u64>| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
            pool.install(|| sweep(&b, 0, c.view(), range, &SweepControl::default()).expect("sweep"))
        };
        let one = run(1, 0..b.count());
        assert_eq!(format!("{:?}", run(2, 0..b.count())), format!("{one:?}"));
        assert_eq!(format!("{:?}", run(4, 0..b.count())), format!("{one:?}"));
        // A range that starts and ends mid-strategy gives the same rows.
        let part = run(2, 37..101);
        assert_eq!(format!("{part:?}"), format!("{:?}", &one[37..101]));
    }

    #[test]
    fn a_small_cache_gives_the_same_results_bit_for_bit() {
        let b = bundle("kind = \"sma_cross\"\nfast = [5, 10, 15]\nslow = [30, 60]");
        let c = generate(&GenerateSpec { bars: 3_000, seed: 11, ..GenerateSpec::default() });
        let all =
            format!("{:?}", sweep(&b, 0, c.view(), 0..b.count(), &SweepControl::default()).expect("sweep"));
        // Nothing kept; one average; everything.
        for cache_bytes in [0, 3_000 * 8, usize::MAX] {
            for kernel in [Kernel::Auto, Kernel::Scalar] {
                let opts = SweepOptions { kernel, cache_bytes };
                let ctl = SweepControl::default();
                let r = sweep_with_options(&b, 0, c.view(), 0..b.count(), &ctl, opts).expect("sweep");
                assert_eq!(format!("{r:?}"), all, "{opts:?}");
                // A range that starts and ends mid-strategy.
                let part = sweep_with_options(&b, 0, c.view(), 100..500, &ctl, opts).expect("sweep");
                assert_eq!(format!("{part:?}"), format!("{:?}", &r[100..500]), "{opts:?}");
            }
        }
    }

    #[test]
    fn the_cache_stays_within_its_bound_and_empties_as_strategies_finish() {
        let b = bundle("kind = \"sma_cross\"\nfast = [5, 10, 15]\nslow = [30, 60]");
        let n = 3_000;
        let c = generate(&GenerateSpec { bars: n, seed: 12, ..GenerateSpec::default() });
        let m = b.money.len() as u64;
        // Room for two of the five averages.
        let limit = 2 * 8 * n;
        let range = 0..b.count();
        let s: Strategies<'_, Vec<u8>> = Strategies::new(&b, 0, c.view(), &range, limit);
        for k in 0..b.strategies.len() as u64 {
            let sig = s.get(k, <[u8]>::to_vec);
            let mut want = vec![0u8; n];
            b.strategies
                .get(k as usize)
                .signals(c.view(), &ExprCache::default(), &mut want)
                .expect("signals");
            assert_eq!(sig.as_ref().as_ref().expect("signals"), &want);
            assert!(s.cache.bytes() <= limit, "strategy {k}: {} bytes", s.cache.bytes());
            s.done(k, m);
            // Its signals are dropped with its last variant.
            assert!(s.slots[k as usize].lock().expect("slot").is_none());
        }
        assert_eq!(s.cache.peak(), limit);
        assert_eq!((s.cache.bytes(), s.cache.len()), (0, 0));
    }

    #[test]
    fn columns_only_one_strategy_reads_are_never_kept() {
        // The 166-byte bundle of issue 13, smaller: one donchian period per
        // strategy, so no column but the close is read twice. Every column
        // used to stay until the end of the job (5.9 GB at 4,629 periods).
        let b = bundle("kind = \"donchian\"\nperiod = { start = 1, stop = 60, step = 1 }");
        let c = generate(&GenerateSpec { bars: 2_000, seed: 13, ..GenerateSpec::default() });
        let range = 0..b.count();
        let s: Strategies<'_, Vec<u8>> = Strategies::new(&b, 0, c.view(), &range, usize::MAX);
        for k in 0..b.strategies.len() as u64 {
            let _ = s.get(k, <[u8]>::to_vec);
            // Only the close, read by every strategy and held without a copy.
            let kept = if k + 1 < b.strategies.len() as u64 { vec!["close".to_owned()] } else { vec![] };
            assert_eq!((s.cache.bytes(), s.cache.keys()), (0, kept));
        }
        assert_eq!(s.cache.peak(), 0);
    }

    #[test]
    fn strategy_bytes_is_the_largest_program_and_its_signals() {
        // sma_cross: two averages (8 bytes a bar) and two crosses (1 byte);
        // then a signal byte and up to 16 bytes of events a bar.
        let b = bundle(KINDS[0]);
        assert_eq!(strategy_bytes(&b, 1_000), 1_000 * (16 + 2 + 1 + 16));
        // donchian: three outputs and two shifted series of 8 bytes, two comparisons.
        let b = bundle(KINDS[6]);
        assert_eq!(strategy_bytes(&b, 1_000), 1_000 * (24 + 16 + 2 + 1 + 16));
    }

    #[test]
    fn cancel_and_bad_ranges() {
        let b = bundle(KINDS[0]);
        let c = generate(&GenerateSpec { bars: 500, ..GenerateSpec::default() });
        let ctl = SweepControl::default();
        ctl.cancel.store(true, Ordering::Relaxed);
        assert_eq!(sweep(&b, 0, c.view(), 0..10, &ctl), Err(SweepError::Cancelled));
        let ok = SweepControl::default();
        assert_eq!(
            sweep(&b, 0, c.view(), 0..b.count() + 1, &ok),
            Err(SweepError::Range { start: 0, end: b.count() + 1, dataset: 0 })
        );
        assert_eq!(
            sweep(&b, 1, c.view(), 0..1, &ok),
            Err(SweepError::Range { start: 0, end: 1, dataset: 1 })
        );
        assert_eq!(sweep(&b, 0, c.view(), 5..5, &ok), Ok(vec![]));
    }
}
