//! `bt run`: a bundle on the local catalog, no database.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bt_candles::{Candles, Catalog};
use bt_engine::bundle::{Bundle, Limits, Money};
use bt_engine::metrics::{DAY_MS, MetricName, Metrics};
use bt_engine::sim::Detail;
use bt_engine::strategy::Value;
use bt_engine::sweep::{
    SweepControl, SweepOptions, VariantResult, run_variant, strategy_bytes, sweep_with_options,
};
use bt_service::memory::{MemoryLimit, dataset_bytes, job_budget};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;

use crate::output::write_atomic;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Bundle spec (.toml or .json).
    bundle: PathBuf,
    /// Root of the dataset catalog.
    #[arg(long, env = "BT_CATALOG", default_value = "data")]
    catalog: PathBuf,
    /// Rows of the ranked table printed at the end.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Metric to rank by (sharpe, total_return, sortino, calmar, max_drawdown, sqn, ...).
    #[arg(long, default_value = "sharpe", value_parser = metric_arg)]
    sort: MetricName,
    /// Rank ascending instead of descending.
    #[arg(long)]
    ascending: bool,
    /// Write every variant's metrics here (.parquet, .csv or .json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, env = "BT_THREADS")]
    threads: Option<usize>,
    /// Run only this variant, in detail.
    #[arg(long)]
    variant: Option<u64>,
    /// With --variant: write its trades here (.csv).
    #[arg(long, requires = "variant")]
    trades: Option<PathBuf>,
    /// With --variant: write its equity curve here (.csv).
    #[arg(long, requires = "variant")]
    equity: Option<PathBuf>,
    /// With --variant: print the statistics under the names and units
    /// backtesting.py prints, beside the bt metric each comes from.
    #[arg(long, requires = "variant")]
    stats: bool,
    /// Write an HTML report of the run here: heatmaps, scatter, top
    /// variants and the best variant (or --variant N) in detail.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Most variants a bundle may expand to.
    #[arg(long, default_value_t = Limits::default().max_variants)]
    max_variants: u64,
    /// Memory the run may use, e.g. `4GB`, `512MiB` [default: the cgroup
    /// limit, else the available memory, times 0.8].
    #[arg(long, env = "BT_MEMORY_LIMIT")]
    memory_limit: Option<String>,
}

/// clap's parser for a metric name: exactly the declared names (bt-metrics);
/// another is refused with the list.
pub(crate) fn metric_arg(s: &str) -> Result<MetricName, String> {
    s.parse::<MetricName>().map_err(|e| e.to_string())
}

/// Reads and validates a bundle file.
pub fn read_bundle(path: &Path, limits: Limits) -> Result<Bundle> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let bundle = if json { Bundle::from_json(&text, limits) } else { Bundle::from_toml(&text, limits) };
    // A rule's error shows the rule with a caret under the position.
    bundle.map_err(|e| anyhow::anyhow!("{}: invalid bundle: {}", path.display(), e.render()))
}

fn load_datasets(bundle: &Bundle, catalog: &Catalog) -> Result<Vec<Candles>> {
    bundle
        .datasets
        .iter()
        .map(|d| {
            let l = catalog.load(&d.ticker, d.timeframe, bundle.range)?;
            if l.candles.len() < 2 {
                bail!(
                    "{}/{}: {} bars in the bundle's time range; need at least 2",
                    d.ticker,
                    d.timeframe,
                    l.candles.len()
                );
            }
            Ok(l.candles)
        })
        .collect()
}

pub fn run(args: RunArgs, out: &mut impl Write) -> Result<()> {
    let bundle = read_bundle(&args.bundle, Limits { max_variants: args.max_variants })?;
    let catalog = Catalog::new(&args.catalog);
    // A data column a rule reads and a dataset lacks: refused before any
    // candle is read, as a submission is.
    bt_service::submit::check_columns(&bundle, &catalog)?;
    let limit = MemoryLimit::resolve(args.memory_limit.as_deref())
        .map_err(|e| anyhow::anyhow!("BT_MEMORY_LIMIT: {e}"))?;
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(t) = args.threads {
        if t == 0 {
            bail!("--threads must be at least 1");
        }
        pool = pool.num_threads(t);
    }
    let pool = pool.build().context("cannot start the thread pool")?;

    // With --report, --variant picks the variant the report details.
    if let Some(n) = args.variant.filter(|_| args.report.is_none()) {
        if n >= bundle.count() {
            bail!("--variant {n}: the bundle has {} variants (0..{})", bundle.count(), bundle.count());
        }
        let v = bundle.variant(n).context("variant")?;
        let d = &bundle.datasets[v.dataset];
        let candles = catalog.load(&d.ticker, d.timeframe, bundle.range)?.candles;
        let (m, detail) = run_variant(&bundle, n, candles.view()).context("variant")?;
        writeln!(out, "variant {n}: {}/{} {} {}", d.ticker, d.timeframe, v.strategy, money_text(&v.money))?;
        for (rule, text) in v.strategy.rules() {
            writeln!(out, "  {rule:<12} {text}")?;
        }
        for &name in MetricName::ALL {
            writeln!(out, "  {:<26} {}", name.as_str(), fmt_num(m.get(name)))?;
        }
        writeln!(out, "  {:<26} {}", "open_position", m.open_position)?;
        writeln!(out, "  {:<26} {}", "liquidated", m.liquidated)?;
        writeln!(out, "  {:<26} {}", "annualization", annualization(&bundle, v.dataset, &candles))?;
        writeln!(out, "  {:<26} {}", "execution", bundle.spec.execution.resolve())?;
        if args.stats {
            print_stats(out, &m, &detail, &candles)?;
        }
        if let Some(p) = &args.trades {
            write_trades(p, &detail)?;
            writeln!(out, "{} trades -> {}", detail.trades.len(), p.display())?;
        }
        if let Some(p) = &args.equity {
            write_equity(p, &detail, &candles)?;
            writeln!(out, "{} equity points -> {}", detail.equity.len(), p.display())?;
        }
        return Ok(());
    }

    let datasets = load_datasets(&bundle, &catalog)?;
    // A variant that cannot fit is refused as a submission is, before any runs.
    let bars: Vec<u64> = datasets.iter().map(|c| c.len() as u64).collect();
    bt_service::submit::check_memory(&bundle, &catalog, &bars, limit.bytes)?;
    let total = bundle.count();
    let bar_variants: u64 = datasets.iter().map(|c| c.len() as u64 * bundle.per_dataset()).sum();
    let ctl = SweepControl::default();
    let bar = ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr_with_hz(4))
        .with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} variants, {msg}, eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    let started = Instant::now();
    let mut results: Vec<VariantResult> = Vec::with_capacity(total as usize);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| -> Result<()> {
        let watcher = s.spawn(|| {
            let bars_per_variant = bar_variants as f64 / total.max(1) as f64;
            while !done.load(Ordering::Relaxed) {
                let n = ctl.done.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64().max(1e-9);
                bar.set_position(n);
                bar.set_message(format!("{:.3e} bar-variants/s", n as f64 * bars_per_variant / secs));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let per = bundle.per_dataset();
        // The candles and every result are held to the end; the rest of the
        // limit bounds the expression cache.
        let candles: u64 = datasets.iter().map(|c| dataset_bytes(c.len() as u64, c.view().extra.len())).sum();
        let longest = datasets.iter().map(Candles::len).max().unwrap_or(0);
        let budget = job_budget(
            limit.bytes,
            1,
            pool.current_num_threads(),
            candles,
            total,
            strategy_bytes(&bundle, longest),
        );
        let opts = SweepOptions::default().with_cache_bytes(budget.cache as usize);
        tracing::debug!(limit = %limit, cache = budget.cache, "memory");
        let r = pool.install(|| -> Result<()> {
            for (i, c) in datasets.iter().enumerate() {
                let range = i as u64 * per..(i as u64 + 1) * per;
                results.extend(sweep_with_options(&bundle, i, c.view(), range, &ctl, opts)?);
            }
            Ok(())
        });
        done.store(true, Ordering::Relaxed);
        let _ = watcher.join();
        r
    })?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    writeln!(
        out,
        "{} variants on {} dataset(s), {} bar-variants in {:.2} s: {:.3e} bar-variants/s",
        total,
        datasets.len(),
        bar_variants,
        secs,
        bar_variants as f64 / secs.max(1e-9)
    )?;
    for (i, c) in datasets.iter().enumerate() {
        let d = &bundle.datasets[i];
        writeln!(out, "{}/{}: annualization {}", d.ticker, d.timeframe, annualization(&bundle, i, c))?;
    }
    if !bundle.spec.execution.is_default() {
        let e = &bundle.spec.execution;
        writeln!(out, "execution: profile {} ({})", e.profile.as_str(), e.resolve())?;
    }
    let mut order: Vec<usize> = (0..results.len()).collect();
    let key = |i: usize| results[i].metrics.get(args.sort);
    order.sort_by(|&a, &b| {
        let (x, y) = (key(a), key(b));
        let c = if args.ascending { x.total_cmp(&y) } else { y.total_cmp(&x) };
        // NaN last either way, then by variant index.
        x.is_nan().cmp(&y.is_nan()).then(c).then(results[a].index.cmp(&results[b].index))
    });
    if bundle.spec.strategy.kind.is_none() {
        for (rule, text) in bundle.spec.strategy.rule_text().all().iter().zip(bt_engine::rules::RULES) {
            if let Some(t) = rule {
                writeln!(out, "{text:<12} {t}")?;
            }
        }
    }
    print_table(out, &bundle, &results, &order[..args.top.min(order.len())])?;
    if let Some(p) = &args.out {
        write_results(p, &bundle, &results)?;
        writeln!(out, "{} rows -> {}", results.len(), p.display())?;
    }
    if let Some(p) = &args.report {
        let src = crate::report::Source {
            bundle: &bundle,
            catalog: &catalog,
            loaded: Some(&datasets),
            run_seconds: Some(secs),
            label: format!("bt run {}", args.bundle.display()),
        };
        crate::report::write(p, &src, &results, args.sort, args.variant, out)?;
    }
    Ok(())
}

/// The bundle's `annualization` as given, what it resolved to on a dataset's
/// bars, and the span CAGR counts: `auto -> equities, 252 bars/year; 8.23
/// years`.
fn annualization(bundle: &Bundle, dataset: usize, candles: &Candles) -> String {
    let p = bundle.period(dataset, candles.view());
    format!("{} -> {}; {:.2} years", bundle.spec.annualization, p.describe(), p.years())
}

/// The statistics table of `--stats`: backtesting.py's names and units
/// (percent, days rounded up, negative drawdown), bt's metric beside each.
/// Rows whose meaning differs from backtesting.py's (Sharpe, Sortino,
/// Calmar: per-bar returns; Buy & Hold: from the first bar) say so.
fn print_stats(out: &mut impl Write, m: &Metrics, d: &Detail, c: &Candles) -> Result<()> {
    let ts = c.view().ts;
    let (first, last) = (ts.first().copied().unwrap_or(0), ts.last().copied().unwrap_or(0));
    let day = DAY_MS as f64;
    let days = |ms: f64| format!("{:.0} days", (ms / day).ceil());
    let pct = |x: f64| format!("{:.6}", x * 100.0);
    let peak = d.equity.iter().copied().fold(f64::NAN, f64::max);
    let date = |t: i64| bt_candles::time::format_ms(t).get(..10).unwrap_or_default().to_owned();
    let rows: Vec<(&str, String, &str)> = vec![
        ("Start", date(first), ""),
        ("End", date(last), ""),
        ("Duration", days((last - first) as f64), ""),
        ("Exposure Time [%]", pct(m.exposure), "exposure"),
        ("Equity Final [$]", format!("{:.6}", m.final_equity), "final_equity"),
        ("Equity Peak [$]", format!("{peak:.6}"), "(equity curve)"),
        ("Commissions [$]", format!("{:.6}", m.fees), "fees"),
        ("Return [%]", pct(m.total_return), "total_return"),
        ("Buy & Hold Return [%]", pct(m.buy_and_hold_return), "buy_and_hold_return (from the first bar)"),
        ("CAGR [%]", pct(m.cagr), "cagr"),
        ("Sharpe Ratio", format!("{:.6}", m.sharpe), "sharpe (per-bar returns)"),
        ("Sortino Ratio", format!("{:.6}", m.sortino), "sortino (per-bar returns)"),
        ("Calmar Ratio", format!("{:.6}", m.calmar), "calmar (CAGR / max drawdown)"),
        ("Max. Drawdown [%]", pct(-m.max_drawdown), "max_drawdown"),
        ("Max. Drawdown Duration", days(m.max_drawdown_duration_ms as f64), "max_drawdown_duration_ms"),
        ("# Trades", m.trades.to_string(), "trades"),
        ("Win Rate [%]", pct(m.win_rate), "win_rate"),
        ("Best Trade [%]", pct(m.best_trade), "best_trade"),
        ("Worst Trade [%]", pct(m.worst_trade), "worst_trade"),
        ("Avg. Trade [%]", pct(m.avg_trade_geometric), "avg_trade_geometric"),
        ("Max. Trade Duration", days(m.max_trade_duration_ms as f64), "max_trade_duration_ms"),
        ("Avg. Trade Duration", days(m.avg_trade_duration_ms), "avg_trade_duration_ms"),
        ("Profit Factor", format!("{:.6}", m.profit_factor_pct), "profit_factor_pct"),
        ("Expectancy [%]", pct(m.expectancy_pct), "expectancy_pct"),
        ("SQN", format!("{:.6}", m.sqn), "sqn"),
        ("Kelly Criterion", format!("{:.6}", m.kelly), "kelly"),
    ];
    writeln!(out, "stats (backtesting.py's names and units; bt's metric):")?;
    for (name, value, metric) in rows {
        writeln!(out, "  {name:<24} {value:>22}  {metric}")?;
    }
    Ok(())
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.0}") } else { format!("{v:.6}") }
}

fn money_text(m: &Money) -> String {
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |x| format!("{}%", x * 100.0));
    let trail = m.trailing_stop.map_or_else(String::new, |x| format!(" trail={}%", x * 100.0));
    let bars = m.max_bars.map_or_else(String::new, |n| format!(" bars={n}"));
    format!(
        "sl={} tp={}{trail}{bars} lev={} size={} {}",
        pct(m.stop_loss),
        pct(m.take_profit),
        m.leverage,
        m.size,
        m.direction.as_str()
    )
}

pub(crate) fn print_table(
    out: &mut impl Write,
    bundle: &Bundle,
    results: &[VariantResult],
    rows: &[usize],
) -> Result<()> {
    writeln!(
        out,
        "{:>4} {:>9}  {:<16} {:<34} {:<34} {:>7} {:>10} {:>8} {:>8} {:>7}",
        "rank", "variant", "dataset", "strategy", "money", "trades", "return%", "sharpe", "maxdd%", "win%"
    )?;
    for (rank, &i) in rows.iter().enumerate() {
        let r = &results[i];
        let v = bundle.variant(r.index).context("variant")?;
        let d = &bundle.datasets[v.dataset];
        let m = &r.metrics;
        writeln!(
            out,
            "{:>4} {:>9}  {:<16} {:<34} {:<34} {:>7} {:>10.2} {:>8.3} {:>8.2} {:>7.1}",
            rank + 1,
            r.index,
            format!("{}/{}", d.ticker, d.timeframe),
            v.strategy.to_string(),
            money_text(&v.money),
            m.trades,
            m.total_return * 100.0,
            m.sharpe,
            m.max_drawdown * 100.0,
            m.win_rate * 100.0
        )?;
    }
    Ok(())
}

/// One column per parameter and metric, one row per variant.
fn results_frame(bundle: &Bundle, results: &[VariantResult]) -> Result<DataFrame> {
    let n = results.len();
    let variants: Vec<_> =
        results.iter().map(|r| bundle.variant(r.index).context("variant")).collect::<Result<_>>()?;
    let mut cols: Vec<Column> = vec![
        Column::new("variant".into(), results.iter().map(|r| r.index).collect::<Vec<u64>>()),
        Column::new(
            "ticker".into(),
            variants.iter().map(|v| bundle.datasets[v.dataset].ticker.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "timeframe".into(),
            variants.iter().map(|v| bundle.datasets[v.dataset].timeframe.as_str()).collect::<Vec<_>>(),
        ),
        Column::new("strategy".into(), variants.iter().map(|v| v.strategy.kind_name()).collect::<Vec<_>>()),
    ];
    if bundle.spec.strategy.kind.is_none() {
        cols.push(Column::new(
            "rules".into(),
            variants.iter().map(|v| v.strategy.rules_text()).collect::<Vec<String>>(),
        ));
    }
    for (k, (name, _)) in bundle.strategies.params.iter().enumerate() {
        let vals: Vec<&Value> = variants.iter().map(|v| &v.strategy.params[k].1).collect();
        let name = name.as_str().into();
        cols.push(if vals.iter().all(|v| matches!(v, Value::Int(_))) {
            Column::new(
                name,
                vals.iter().map(|v| if let Value::Int(x) = v { *x } else { 0 }).collect::<Vec<i64>>(),
            )
        } else if let Some(nums) = vals.iter().map(|v| v.as_f64()).collect::<Option<Vec<f64>>>() {
            Column::new(name, nums)
        } else {
            Column::new(name, vals.iter().map(|v| v.to_string()).collect::<Vec<String>>())
        });
    }
    let opt = |f: fn(&Money) -> Option<f64>| {
        variants.iter().map(|v| f(&v.money).unwrap_or(0.0)).collect::<Vec<f64>>()
    };
    cols.push(Column::new("stop_loss".into(), opt(|m| m.stop_loss)));
    cols.push(Column::new("take_profit".into(), opt(|m| m.take_profit)));
    cols.push(Column::new("trailing_stop".into(), opt(|m| m.trailing_stop)));
    cols.push(Column::new(
        "max_bars".into(),
        variants.iter().map(|v| v.money.max_bars.unwrap_or(0)).collect::<Vec<u32>>(),
    ));
    cols.push(Column::new(
        "leverage".into(),
        variants.iter().map(|v| v.money.leverage).collect::<Vec<f64>>(),
    ));
    cols.push(Column::new("size".into(), variants.iter().map(|v| v.money.size).collect::<Vec<f64>>()));
    cols.push(Column::new(
        "direction".into(),
        variants.iter().map(|v| v.money.direction.as_str()).collect::<Vec<_>>(),
    ));
    for &name in MetricName::ALL {
        let col = name.as_str().into();
        cols.push(if name.is_integer() {
            Column::new(
                col,
                results.iter().map(|r| r.metrics.value(name).as_f64() as i64).collect::<Vec<i64>>(),
            )
        } else {
            Column::new(col, results.iter().map(|r| r.metrics.get(name)).collect::<Vec<f64>>())
        });
    }
    cols.push(Column::new(
        "open_position".into(),
        results.iter().map(|r| r.metrics.open_position).collect::<Vec<bool>>(),
    ));
    cols.push(Column::new(
        "liquidated".into(),
        results.iter().map(|r| r.metrics.liquidated).collect::<Vec<bool>>(),
    ));
    Ok(DataFrame::new(n, cols)?)
}

pub(crate) fn write_results(path: &Path, bundle: &Bundle, results: &[VariantResult]) -> Result<()> {
    let mut df = results_frame(bundle, results)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "parquet" | "csv" => crate::output::write_frame(path, &mut df),
        "json" => write_atomic(path, |f| {
            let mut w = std::io::BufWriter::new(f);
            write_json(&mut w, &df)?;
            w.flush()?;
            Ok(())
        }),
        _ => bail!("{}: unknown output format (use .parquet, .csv or .json)", path.display()),
    }
}

/// A JSON array of row objects; non-finite numbers become null.
fn write_json(w: &mut impl Write, df: &DataFrame) -> Result<()> {
    let cols = df.columns();
    writeln!(w, "[")?;
    for i in 0..df.height() {
        let mut obj = serde_json::Map::new();
        for c in cols {
            let v = match c.get(i)? {
                AnyValue::Float64(x) => {
                    serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
                }
                AnyValue::UInt64(x) => x.into(),
                AnyValue::Int64(x) => x.into(),
                AnyValue::Boolean(b) => b.into(),
                AnyValue::String(s) => s.into(),
                other => other.to_string().into(),
            };
            obj.insert(c.name().to_string(), v);
        }
        let sep = if i + 1 < df.height() { "," } else { "" };
        writeln!(w, "  {}{sep}", serde_json::Value::Object(obj))?;
    }
    writeln!(w, "]")?;
    Ok(())
}

fn write_trades(path: &Path, d: &Detail) -> Result<()> {
    write_atomic(path, |f| {
        let mut w = std::io::BufWriter::new(f);
        bt_service::detail::write_trades_csv(&mut w, &d.trades)?;
        w.flush()?;
        Ok(())
    })
}

fn write_equity(path: &Path, d: &Detail, c: &Candles) -> Result<()> {
    write_atomic(path, |f| {
        let mut w = std::io::BufWriter::new(f);
        bt_service::detail::write_equity_csv(&mut w, c.ts(), c.close(), &d.equity)?;
        w.flush()?;
        Ok(())
    })
}
