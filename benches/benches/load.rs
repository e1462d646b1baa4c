//! Loading 1,000,000 one-minute bars into `Candles` from Parquet (zstd), CSV
//! and Arrow IPC, validation included: what `bt data import`, `bt run` and the
//! workers do with a dataset.
//!
//! `cargo bench -p bt-benches --bench load`

use std::hint::black_box;

use bt_candles::{LoadOptions, TimeRange, load};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

// bt's binaries use mimalloc; measure what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BARS: usize = 1_000_000;

fn bench_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let fx = bt_benches::load_fixture(dir.path(), BARS).expect("fixture");
    let opts = LoadOptions::default();
    let mut g = c.benchmark_group("load_1m_bars");
    g.throughput(Throughput::Elements(BARS as u64));
    g.sample_size(20);
    g.bench_function("parquet", |b| {
        b.iter(|| black_box(load(&fx.parquet, &opts).expect("load").candles.len()))
    });
    g.bench_function("csv", |b| b.iter(|| black_box(load(&fx.csv, &opts).expect("load").candles.len())));
    g.bench_function("arrow_ipc", |b| {
        b.iter(|| black_box(load(&fx.ipc, &opts).expect("load").candles.len()))
    });
    // One day out of ~694, pushed into the Parquet scan.
    let day = TimeRange::new(
        Some(1_704_067_200_000 + 100 * 86_400_000),
        Some(1_704_067_200_000 + 101 * 86_400_000),
    );
    let ranged = LoadOptions::default().with_range(day);
    g.bench_function("parquet_one_day", |b| {
        b.iter(|| black_box(load(&fx.parquet, &ranged).expect("load").candles.len()))
    });
    g.finish();
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
