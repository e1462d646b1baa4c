//! The sweep benchmark: 1,000,000 seeded one-minute bars through
//! (a) 100 SMA-cross pairs (fast 5..50 step 5, slow 60..240 step 20), fees 10 bps;
//! (b) the same x stop loss {1, 2, 5} % x take profit {2, 5, 10} % (900 variants);
//! (a-rules), (b-rules): (a) and (b) written as rules (`entry_long` the cross
//! up, `exit_long` the cross down: the same trades as the preset, long only);
//! (c) rules: an SMA cross up while RSI(14) < `rsi_max` and ADX(14) > 20,
//! out on the cross down or after 500 bars; fast 5..50 step 5 x slow
//! {100, 150, 200, 250} x rsi_max {50, 60, 70, 80, 90} x stop loss
//! {1, 2, 3, 5, 10} % (1,000 variants).
//! Prints bars, variants, seconds, bar-variants per second, CPU seconds and
//! bar-variants per CPU second (fair when other work shares the cores), and
//! peak RSS (the process's high-water mark so far), for each thread count
//! asked for: the
//! best of `--repeat` runs of the sweep (indicators and signals included), then
//! one run of the scalar reference path at the largest thread count and the
//! speed-up over it (`--no-scalar` skips it).
//!
//! `cargo run --release -p bt-benches --bin sweep -- [--bars N] [--threads 1,2,4] [--repeat 3] [--no-scalar] [--cases a,b,a-rules,b-rules,c]`

use std::io::Write;
use std::time::Instant;

use bt_candles::{GenerateSpec, generate};
use bt_engine::bundle::{Bundle, Limits};
use bt_engine::sweep::{Kernel, SweepControl, sweep_with};

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

const RULES_A: &str = r#"
[datasets]
tickers = ["BENCH"]
timeframes = ["1m"]
[strategy]
entry_long = "cross_above(sma(close, $fast), sma(close, $slow))"
exit_long = "cross_below(sma(close, $fast), sma(close, $slow))"
[strategy.params]
fast = { start = 5, stop = 50, step = 5 }
slow = { start = 60, stop = 240, step = 20 }
[costs]
fee_bps = 10
"#;

const CASE_C: &str = r#"
[datasets]
tickers = ["BENCH"]
timeframes = ["1m"]
[strategy]
entry_long = "cross_above(sma(close, $fast), sma(close, $slow)) and rsi(close, 14) < $rsi_max and adx(14) > 20"
exit_long = "cross_below(sma(close, $fast), sma(close, $slow))"
[strategy.params]
fast = { start = 5, stop = 50, step = 5 }
slow = [100, 150, 200, 250]
rsi_max = [50, 60, 70, 80, 90]
[money]
stop_loss = [0.01, 0.02, 0.03, 0.05, 0.1]
max_bars = 500
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

/// CPU seconds (user + system) this process has used, from /proc (Linux
/// clock ticks of 1/100 s); NaN elsewhere. Bar-variants per CPU second stay
/// meaningful when other work shares the cores.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name: state is field 3,
            // utime 14 and stime 15.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut bars = 1_000_000usize;
    let mut threads: Vec<usize> = vec![std::thread::available_parallelism().map_or(1, |n| n.get())];
    let mut repeat = 3usize;
    let mut scalar = true;
    let mut cases: Vec<String> = ["a", "b", "a-rules", "b-rules", "c"].map(String::from).to_vec();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--bars" => bars = args.get(i + 1).ok_or("--bars N")?.parse()?,
            "--repeat" => repeat = args.get(i + 1).ok_or("--repeat N")?.parse::<usize>()?.max(1),
            "--threads" => {
                threads = args
                    .get(i + 1)
                    .ok_or("--threads 1,2,4")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--no-scalar" => scalar = false,
            "--cases" => {
                cases = args.get(i + 1).ok_or("--cases a,b,c")?.split(',').map(String::from).collect()
            }
            // Ignore what `cargo test --benches` or criterion pass.
            _ => {}
        }
        i += if matches!(args[i].as_str(), "--bars" | "--threads" | "--repeat" | "--cases") { 2 } else { 1 };
    }
    let candles =
        generate(&GenerateSpec { bars, seed: 42, start_price: 30_000.0, ..GenerateSpec::default() });
    let with_stops = |t: &str| {
        t.replace(
            "[costs]",
            "[money]\nstop_loss = [0.01, 0.02, 0.05]\ntake_profit = [0.02, 0.05, 0.10]\n[costs]",
        )
    };
    let all = [
        ("a", CASE_A.to_owned()),
        ("b", with_stops(CASE_A)),
        ("a-rules", RULES_A.to_owned()),
        ("b-rules", with_stops(RULES_A)),
        ("c", CASE_C.to_owned()),
    ];
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "   case kernel  threads       bars variants  seconds  bar-variants/s  speed-up    cpu-s  per-cpu-s  peak-RSS-MiB"
    )?;
    for (name, text) in all.iter().filter(|(n, _)| cases.iter().any(|c| c == n)) {
        let bundle = Bundle::from_toml(text, Limits::default())?;
        let bv = bars as f64 * bundle.count() as f64;
        // Wall and CPU seconds of one sweep.
        let run = |kernel: Kernel, t: usize| -> Result<(f64, f64), Box<dyn std::error::Error>> {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build()?;
            let (started, cpu0) = (Instant::now(), cpu_seconds());
            pool.install(|| {
                sweep_with(&bundle, 0, candles.view(), 0..bundle.count(), &SweepControl::default(), kernel)
            })?;
            Ok((started.elapsed().as_secs_f64(), cpu_seconds() - cpu0))
        };
        let variants = bundle.count();
        let mut row = |kernel: &str, t: usize, secs: f64, cpu: f64, speed_up: String| {
            writeln!(
                out,
                "{name:>7} {kernel:<7} {t:>7} {bars:>10} {variants:>8} {secs:>8.3} {:>15.3e} {speed_up:>9} {cpu:>8.2} {:>10.3e} {:>13.0}",
                bv / secs,
                bv / cpu,
                peak_rss_mib()
            )
        };
        let mut fast = Vec::new();
        for &t in &threads {
            // The best of `repeat` runs, by wall time; the CPU time is that run's.
            let mut best = (f64::INFINITY, f64::NAN);
            for _ in 0..repeat {
                let r = run(Kernel::Auto, t)?;
                if r.0 < best.0 {
                    best = r;
                }
            }
            fast.push(best.0);
            row("lanes", t, best.0, best.1, String::new())?;
        }
        if scalar && let Some((k, &t)) = threads.iter().enumerate().max_by_key(|&(_, t)| *t) {
            let (secs, cpu) = run(Kernel::Scalar, t)?;
            row("scalar", t, secs, cpu, format!("{:.1}x", secs / fast[k]))?;
        }
    }
    Ok(())
}
