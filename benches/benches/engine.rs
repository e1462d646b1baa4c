//! Indicator kernels and the simulator on 1,000,000 one-minute bars.
//!
//! `cargo bench -p bt-benches --bench engine`

use std::hint::black_box;

use bt_candles::{GenerateSpec, generate};
use bt_engine::bundle::{Bundle, Limits};
use bt_engine::indicators as ind;
use bt_engine::metrics::{Accumulator, Annualization, Period};
use bt_engine::rules::ExprCache;
use bt_engine::sim::{Direction, NoRecord, SimParams, simulate};
use bt_engine::sweep::{Kernel, SweepControl, sweep_with};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

// bt's binaries use mimalloc; measure what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BARS: usize = 1_000_000;

fn bench_indicators(c: &mut Criterion) {
    let k =
        generate(&GenerateSpec { bars: BARS, seed: 42, start_price: 30_000.0, ..GenerateSpec::default() });
    let (h, l, cl) = (k.high(), k.low(), k.close());
    let mut o = vec![0.0; BARS];
    let (mut o2, mut o3) = (vec![0.0; BARS], vec![0.0; BARS]);
    let mut g = c.benchmark_group("indicators_1m_bars");
    g.throughput(Throughput::Elements(BARS as u64));
    g.sample_size(20);
    g.bench_function("sma_20", |b| b.iter(|| ind::sma(black_box(cl), 20, &mut o)));
    g.bench_function("ema_20", |b| b.iter(|| ind::ema(black_box(cl), 20, &mut o)));
    g.bench_function("wma_20", |b| b.iter(|| ind::wma(black_box(cl), 20, &mut o)));
    g.bench_function("rsi_14", |b| b.iter(|| ind::rsi(black_box(cl), 14, &mut o)));
    g.bench_function("roc_10", |b| b.iter(|| ind::roc(black_box(cl), 10, &mut o)));
    g.bench_function("macd_12_26_9", |b| {
        b.iter(|| ind::macd(black_box(cl), 12, 26, 9, &mut o, &mut o2, &mut o3))
    });
    g.bench_function("bbands_20_2", |b| {
        b.iter(|| ind::bbands(black_box(cl), 20, 2.0, &mut o, &mut o2, &mut o3))
    });
    g.bench_function("atr_14", |b| b.iter(|| ind::atr(black_box(h), l, cl, 14, &mut o)));
    g.bench_function("stoch_14_3_3", |b| {
        b.iter(|| ind::stoch(black_box(h), l, cl, 14, 3, 3, &mut o, &mut o2))
    });
    g.bench_function("adx_14", |b| b.iter(|| ind::adx(black_box(h), l, cl, 14, &mut o, &mut o2, &mut o3)));
    g.bench_function("supertrend_10_3", |b| {
        b.iter(|| ind::supertrend(black_box(h), l, cl, 10, 3.0, &mut o, &mut o2))
    });
    g.bench_function("donchian_20", |b| {
        b.iter(|| ind::donchian(black_box(h), l, 20, &mut o, &mut o2, &mut o3))
    });
    g.finish();
}

fn bench_simulator(c: &mut Criterion) {
    let k =
        generate(&GenerateSpec { bars: BARS, seed: 42, start_price: 30_000.0, ..GenerateSpec::default() });
    let mut sig = vec![0u8; BARS];
    let spec = "[datasets]\ntickers = [\"B\"]\ntimeframes = [\"1m\"]\n[strategy]\nkind = \"sma_cross\"\nfast = 10\nslow = 100";
    let Ok(b) = Bundle::from_toml(spec, Limits::default()) else { return };
    if b.strategies.get(0).signals(k.view(), &ExprCache::default(), &mut sig).is_err() {
        return;
    }
    let p = SimParams {
        initial_balance: 10_000.0,
        direction: Direction::Both,
        size: 1.0,
        leverage: 2.0,
        stop_loss: Some(0.02),
        take_profit: Some(0.05),
        trailing_stop: None,
        max_bars: None,
        fee_bps: 10.0,
        slippage_bps: 1.0,
        execution: bt_engine::execution::Execution::BT,
    };
    let mut g = c.benchmark_group("simulator_1m_bars");
    g.throughput(Throughput::Elements(BARS as u64));
    g.sample_size(20);
    let period = Period::of(k.view().ts, 60_000, Annualization::Crypto);
    g.bench_function("one_variant_sl_tp_both", |b| {
        b.iter(|| {
            let mut acc = Accumulator::new(p.initial_balance);
            simulate(k.view(), black_box(&sig), &p, &mut acc, &mut NoRecord);
            black_box(acc.finish(&period, 0.0).final_equity)
        })
    });
    g.finish();
}

/// The sweep's kernels on one SMA pair x 3 stops x 3 targets (case (b) of the
/// `sweep` benchmark, one strategy) over 200,000 bars, one thread.
fn bench_sweep_kernels(c: &mut Criterion) {
    const N: usize = 200_000;
    let k = generate(&GenerateSpec { bars: N, seed: 42, start_price: 30_000.0, ..GenerateSpec::default() });
    let text = r#"
        [datasets]
        tickers = ["BENCH"]
        timeframes = ["1m"]
        [strategy]
        kind = "sma_cross"
        fast = 10
        slow = 100
        [money]
        stop_loss = [0.01, 0.02, 0.05]
        take_profit = [0.02, 0.05, 0.10]
        [costs]
        fee_bps = 10
    "#;
    let Ok(bundle) = Bundle::from_toml(text, Limits::default()) else { return };
    let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(1).build() else { return };
    let mut g = c.benchmark_group("sweep_kernel_200k_bars_9_variants");
    g.throughput(Throughput::Elements(N as u64 * bundle.count()));
    g.sample_size(20);
    for (name, kernel) in
        [("lanes_auto", Kernel::Auto), ("lanes_portable", Kernel::Portable), ("scalar", Kernel::Scalar)]
    {
        g.bench_function(name, |b| {
            b.iter(|| {
                pool.install(|| {
                    let ctl = SweepControl::default();
                    black_box(
                        sweep_with(&bundle, 0, k.view(), 0..bundle.count(), &ctl, kernel).map(|r| r.len()),
                    )
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_indicators, bench_simulator, bench_sweep_kernels);
criterion_main!(benches);
