//! The sweep benchmark: 1,000,000 seeded one-minute bars through
//! (a) 100 SMA-cross pairs (fast 5..50 step 5, slow 60..240 step 20), fees 10 bps;
//! (b) the same x stop loss {1, 2, 5} % x take profit {2, 5, 10} % (900 variants).
//! Prints bars, variants, seconds, bar-variants per second and peak RSS, for
//! each thread count asked for.
//!
//! `cargo run --release -p bt-benches --bin sweep -- [--bars N] [--threads 1,2,4]`

use std::io::Write;
use std::time::Instant;

use bt_candles::{GenerateSpec, generate};
use bt_engine::bundle::{Bundle, Limits};
use bt_engine::sweep::{SweepControl, sweep};

// bt's binaries use mimalloc; measure what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CASE_A: &str = r#"
[datasets]
tickers = ["BENCH"]
timeframes = ["1m"]
[strategy]
kind = "sma_cross"
fast = { start = 5, stop = 50, step = 5 }
slow = { start = 60, stop = 240, step = 20 }
[costs]
fee_bps = 10
"#;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<f64>().ok()))
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut bars = 1_000_000usize;
    let mut threads: Vec<usize> = vec![std::thread::available_parallelism().map_or(1, |n| n.get())];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--bars" => bars = args.get(i + 1).ok_or("--bars N")?.parse()?,
            "--threads" => {
                threads = args
                    .get(i + 1)
                    .ok_or("--threads 1,2,4")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            // Ignore what `cargo test --benches` or criterion pass.
            _ => {}
        }
        i += if matches!(args[i].as_str(), "--bars" | "--threads") { 2 } else { 1 };
    }
    let candles =
        generate(&GenerateSpec { bars, seed: 42, start_price: 30_000.0, ..GenerateSpec::default() });
    let case_b = CASE_A.replace(
        "[costs]",
        "[money]\nstop_loss = [0.01, 0.02, 0.05]\ntake_profit = [0.02, 0.05, 0.10]\n[costs]",
    );
    let mut out = std::io::stdout().lock();
    writeln!(out, "case threads       bars variants  seconds  bar-variants/s  peak-RSS-MiB")?;
    for (name, text) in [("a", CASE_A.to_owned()), ("b", case_b)] {
        let bundle = Bundle::from_toml(&text, Limits::default())?;
        for &t in &threads {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build()?;
            let started = Instant::now();
            let results = pool
                .install(|| sweep(&bundle, 0, candles.view(), 0..bundle.count(), &SweepControl::default()))?;
            let secs = started.elapsed().as_secs_f64();
            let bv = bars as f64 * results.len() as f64;
            writeln!(
                out,
                "{name:>4} {t:>7} {bars:>10} {:>8} {secs:>8.3} {:>15.3e} {:>13.0}",
                results.len(),
                bv / secs,
                peak_rss_mib()
            )?;
        }
    }
    Ok(())
}
