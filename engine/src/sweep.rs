//! The parallel sweep: a range of one dataset's variants across the rayon pool.
//!
//! Each distinct indicator is computed once ([`IndicatorCache`]); each strategy
//! combination's signals once, by the first task that needs them; variants are
//! fanned out in chunks of money-management combinations, each simulated with
//! a fixed-size accumulator and no allocation in the bar loop. Results are
//! returned in variant order and do not depend on the number of threads.

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bt_candles::CandlesView;
use rayon::prelude::*;

use crate::bundle::Bundle;
use crate::cache::IndicatorCache;
use crate::metrics::{Accumulator, Metrics};
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
}

/// Money combinations per task.
const CHUNK: usize = 16;

fn buy_and_hold(c: CandlesView<'_>) -> f64 {
    match (c.close.first(), c.close.last()) {
        (Some(a), Some(b)) => b / a - 1.0,
        _ => 0.0,
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
    let per = bundle.per_dataset();
    let base = dataset as u64 * per;
    if dataset >= bundle.datasets.len()
        || range.start < base
        || range.end > base + per
        || range.start > range.end
    {
        return Err(SweepError::Range { start: range.start, end: range.end, dataset });
    }
    let m = bundle.money.len() as u64;
    let bar_ms = bundle.datasets[dataset].timeframe.duration_ms();
    let bh = buy_and_hold(candles);
    let cache = IndicatorCache::default();
    let (first_s, last_s) = ((range.start - base) / m, (range.end.max(range.start + 1) - 1 - base) / m);
    let signals: Vec<OnceLock<Vec<i8>>> = (first_s..=last_s).map(|_| OnceLock::new()).collect();
    // Tasks: (strategy index, money start, money end) covering the range.
    let mut tasks = Vec::new();
    for s in first_s..=last_s {
        let lo = if s == first_s { (range.start - base) % m } else { 0 };
        let hi = if s == last_s { range.end - base - s * m } else { m };
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
            let strategy = bundle.strategies[s as usize];
            let sig = signals[(s - first_s) as usize].get_or_init(|| {
                let mut v = vec![0i8; candles.len()];
                strategy.signals(candles, &cache, &mut v);
                v
            });
            let mut out = Vec::with_capacity((hi - lo) as usize);
            for mi in lo..hi {
                if ctl.cancel.load(Ordering::Relaxed) {
                    return Err(SweepError::Cancelled);
                }
                let p = bundle.sim_params(&bundle.money[mi as usize]);
                let mut acc = Accumulator::new(p.initial_balance);
                simulate(candles, sig, &p, &mut acc, &mut NoRecord);
                out.push(VariantResult { index: base + s * m + mi, metrics: acc.finish(bar_ms, bh) });
                ctl.done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(out)
        })
        .collect();
    let mut results = Vec::with_capacity((range.end - range.start) as usize);
    for c in chunks {
        results.extend(c?);
    }
    Ok(results)
}

/// One variant in detail: its metrics (equal to the sweep's), trades and
/// equity curve.
pub fn run_variant(bundle: &Bundle, index: u64, candles: CandlesView<'_>) -> Option<(Metrics, Detail)> {
    let v = bundle.variant(index)?;
    let cache = IndicatorCache::default();
    let mut sig = vec![0i8; candles.len()];
    v.strategy.signals(candles, &cache, &mut sig);
    let p = bundle.sim_params(&v.money);
    let mut acc = Accumulator::new(p.initial_balance);
    let mut detail = Detail::default();
    simulate(candles, &sig, &p, &mut acc, &mut detail);
    let bar_ms = bundle.datasets[v.dataset].timeframe.duration_ms();
    Some((acc.finish(bar_ms, buy_and_hold(candles)), detail))
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
            }
            assert!(traded > all.len() / 2, "{strategy}: only {traded} variants traded");
        }
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
