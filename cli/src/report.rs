//! `bt report` and `bt run --report`: one self-contained HTML file of a
//! bundle's results (`bt_report::page`), from a local run, a results file
//! of `bt run --out`, or a bundle in the job store.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bt_candles::{Candles, Catalog};
use bt_engine::bundle::{Bundle, BundleSpec, Limits};
use bt_engine::metrics::{MetricName, Metrics, Value};
use bt_engine::sweep::{VariantResult, run_variant};
use bt_report::page::{DatasetInfo, Focus, Summary, best_variant, render};
use clap::Args;
use polars::prelude::*;
use uuid::Uuid;

use crate::output::write_atomic;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results file of `bt run --out` or `bt results --out` (.parquet,
    /// .csv or .json); needs --spec.
    results: Option<PathBuf>,
    /// The bundle spec the results file was run from (.toml or .json).
    #[arg(long, requires = "results")]
    spec: Option<PathBuf>,
    /// A bundle in the job store (DATABASE_URL) instead of a file.
    #[arg(long, conflicts_with_all = ["results", "spec"])]
    bundle: Option<Uuid>,
    /// Where to write the report.
    #[arg(long, short, default_value = "report.html")]
    out: PathBuf,
    /// The variant shown in detail [default: the best by --metric].
    #[arg(long)]
    variant: Option<u64>,
    /// The metric the page opens with, and that picks the best variant.
    #[arg(long, default_value = "sharpe", value_parser = crate::run::metric_arg)]
    metric: MetricName,
    /// Root of the dataset catalog (the variant in detail is recomputed on it).
    #[arg(long, env = "BT_CATALOG", default_value = "data")]
    catalog: PathBuf,
    /// PostgreSQL URL of the job store (with --bundle).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

/// What a report is made of, besides the results.
#[derive(Debug)]
pub(crate) struct Source<'a> {
    pub bundle: &'a Bundle,
    pub catalog: &'a Catalog,
    /// The datasets, when the caller has them in memory (`bt run`).
    pub loaded: Option<&'a [Candles]>,
    pub run_seconds: Option<f64>,
    /// `bt run examples/sma_cross.toml`, `bundle <id>`.
    pub label: String,
}

pub fn run(args: ReportArgs, out: &mut impl Write) -> Result<()> {
    let catalog = Catalog::new(&args.catalog);
    match (&args.results, args.bundle) {
        (Some(file), None) => {
            let Some(spec) = &args.spec else {
                bail!("{}: give the bundle spec it was run from (--spec)", file.display())
            };
            let bundle = crate::run::read_bundle(spec, Limits { max_variants: u64::MAX })?;
            let results = read_results(file, &bundle)?;
            let src = Source {
                bundle: &bundle,
                catalog: &catalog,
                loaded: None,
                run_seconds: None,
                label: format!("{} (spec {})", file.display(), spec.display()),
            };
            write(&args.out, &src, &results, args.metric, args.variant, out)
        }
        (None, Some(id)) => {
            let url = args.database_url.clone().context("--bundle needs DATABASE_URL (or --database-url)")?;
            let (bundle, results, seconds) = crate::service::runtime()?.block_on(async {
                let store = crate::service::connect(&url).await?;
                let spec =
                    store.bundle_spec(id).await?.with_context(|| format!("bundle {id} does not exist"))?;
                let spec: BundleSpec = serde_json::from_value(spec).context("the stored bundle spec")?;
                let bundle =
                    Bundle::new(spec, Limits { max_variants: u64::MAX }).context("the stored bundle spec")?;
                let st = store.bundle_status(id, None).await?.context("bundle status")?;
                let seconds = st
                    .started_at
                    .zip(st.finished_at)
                    .map(|(a, b)| (b - a).num_milliseconds() as f64 / 1000.0);
                let rows = crate::service::all_results(&store, id).await?;
                let results: Vec<VariantResult> = rows
                    .iter()
                    .map(|r| {
                        let (index, metrics) = bt_service::results::from_row(r);
                        VariantResult { index, metrics }
                    })
                    .collect();
                anyhow::Ok((bundle, results, seconds))
            })?;
            if results.is_empty() {
                bail!("bundle {id} has no results stored yet");
            }
            let src = Source {
                bundle: &bundle,
                catalog: &catalog,
                loaded: None,
                run_seconds: seconds,
                label: format!("bundle {id}"),
            };
            write(&args.out, &src, &results, args.metric, args.variant, out)
        }
        _ => bail!("give a results file of bt run --out with --spec SPEC, or --bundle ID"),
    }
}

/// Writes the report of `results` to `path`, with variant `variant` (or the
/// best by `metric`) recomputed in detail; prints where and how large.
pub(crate) fn write(
    path: &Path,
    src: &Source<'_>,
    results: &[VariantResult],
    metric: MetricName,
    variant: Option<u64>,
    out: &mut impl Write,
) -> Result<()> {
    let started = Instant::now();
    let bundle = src.bundle;
    if let Some(n) = variant
        && n >= bundle.count()
    {
        bail!("--variant {n}: the bundle has {} variants (0..{})", bundle.count(), bundle.count());
    }
    let load = |i: usize| -> Result<Candles> {
        let d = &bundle.datasets[i];
        Ok(src.catalog.load(&d.ticker, d.timeframe, bundle.range)?.candles)
    };
    let datasets: Vec<DatasetInfo> = bundle
        .datasets
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let info = |c: &Candles| DatasetInfo {
                ticker: d.ticker.clone(),
                timeframe: d.timeframe.as_str().to_owned(),
                bars: Some(c.len() as u64),
                first_ms: c.ts().first().copied(),
                last_ms: c.ts().last().copied(),
                annualization: annualization(bundle, i, c),
            };
            match src.loaded {
                Some(all) => info(&all[i]),
                // Without the data (moved, or another machine's catalog), the
                // report still draws everything but the variant's curves.
                None => load(i).map_or_else(
                    |_| DatasetInfo {
                        ticker: d.ticker.clone(),
                        timeframe: d.timeframe.as_str().to_owned(),
                        bars: None,
                        first_ms: None,
                        last_ms: None,
                        annualization: bundle.spec.annualization.as_text(),
                    },
                    |c| info(&c),
                ),
            }
        })
        .collect();
    let pick = variant.or_else(|| best_variant(results, metric));
    let why = match variant {
        Some(n) => format!("--variant {n}"),
        None => format!("the best {metric}"),
    };
    let detail = match pick {
        Some(n) => {
            let v = bundle.variant(n).context("variant")?;
            let candles = match src.loaded {
                Some(all) => all[v.dataset].clone(),
                None => load(v.dataset).with_context(|| format!("variant {n}'s dataset"))?,
            };
            let (m, d) = run_variant(bundle, n, candles.view()).context("variant")?;
            let ann = annualization(bundle, v.dataset, &candles);
            Some((n, m, d, candles, ann))
        }
        None => None,
    };
    let summary = Summary {
        bundle,
        results,
        datasets,
        run_seconds: src.run_seconds,
        source: src.label.clone(),
        metric,
    };
    let focus = detail.as_ref().map(|(n, m, d, c, a)| Focus {
        variant: *n,
        why: why.clone(),
        metrics: *m,
        detail: d,
        candles: c.view(),
        annualization: a.clone(),
    });
    let html = render(&summary, focus.as_ref());
    write_atomic(path, |f| {
        f.write_all(html.as_bytes())?;
        Ok(())
    })?;
    writeln!(
        out,
        "report -> {} ({} KiB, {} variants, variant {} in detail; {:.2} s)",
        path.display(),
        html.len() / 1024,
        results.len(),
        pick.map_or_else(|| "none".to_owned(), |n| n.to_string()),
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}

/// `auto -> crypto, 8760 bars/year; 0.06 years`, as `bt run` prints it.
fn annualization(bundle: &Bundle, dataset: usize, candles: &Candles) -> String {
    let p = bundle.period(dataset, candles.view());
    format!("{} -> {}; {:.2} years", bundle.spec.annualization, p.describe(), p.years())
}

/// The variants and metrics of a results file of `bt run --out` (by
/// extension: Parquet, CSV or the JSON array), checked against `bundle`.
pub fn read_results(path: &Path, bundle: &Bundle) -> Result<Vec<VariantResult>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let rows = match ext.as_str() {
        "json" => read_json(path)?,
        "parquet" | "csv" => read_frame(path, &ext)?,
        _ => bail!("{}: unknown results format (use .parquet, .csv or .json)", path.display()),
    };
    for (i, r) in rows.iter().enumerate() {
        if r.index >= bundle.count() {
            bail!(
                "{}: row {}: variant {} is not in the bundle ({} variants): is --spec the bundle it was run from?",
                path.display(),
                i + 1,
                r.index,
                bundle.count()
            );
        }
    }
    if rows.is_empty() {
        bail!("{}: no rows", path.display());
    }
    Ok(rows)
}

fn read_frame(path: &Path, ext: &str) -> Result<Vec<VariantResult>> {
    let p = PlRefPath::new(path.to_string_lossy().as_ref());
    let lf = if ext == "csv" {
        LazyCsvReader::new(p).with_has_header(true).finish()
    } else {
        LazyFrame::scan_parquet(p, ScanArgsParquet::default())
    };
    let df = lf
        .and_then(LazyFrame::collect)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let column = |name: &str, ty: DataType| -> Result<Series> {
        let c = df.column(name).map_err(|_| anyhow::anyhow!("{}: no column {name:?}", path.display()))?;
        c.as_materialized_series()
            .strict_cast(&ty)
            .map_err(|_| anyhow::anyhow!("{}: column {name:?} is not {ty}", path.display()))
    };
    let variant = column("variant", DataType::Int64)?;
    let variant = variant.i64()?;
    let mut metrics: Vec<(MetricName, Series)> = Vec::new();
    for &m in MetricName::ALL {
        let ty = if m.is_integer() { DataType::Int64 } else { DataType::Float64 };
        metrics.push((m, column(m.as_str(), ty)?));
    }
    let flag = |name: &str| -> Result<Vec<bool>> {
        Ok(column(name, DataType::Boolean)?.bool()?.iter().map(|b| b.unwrap_or(false)).collect())
    };
    let (open, liquidated) = (flag("open_position")?, flag("liquidated")?);
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let index = variant
            .get(i)
            .filter(|v| *v >= 0)
            .with_context(|| format!("{}: row {}: variant is empty or negative", path.display(), i + 1))?;
        let m = Metrics::try_from_values(
            |name| -> Result<Value> {
                let s = &metrics.iter().find(|(n, _)| *n == name).context("metric")?.1;
                Ok(if name.is_integer() {
                    Value::Int(s.i64()?.get(i).unwrap_or(0))
                } else {
                    Value::Float(s.f64()?.get(i).unwrap_or(f64::NAN))
                })
            },
            open[i],
            liquidated[i],
        )?;
        out.push(VariantResult { index: index as u64, metrics: m });
    }
    Ok(out)
}

fn read_json(path: &Path) -> Result<Vec<VariantResult>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON array of rows", path.display()))?;
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let at = || format!("{}: row {}", path.display(), i + 1);
            let index = r
                .get("variant")
                .and_then(serde_json::Value::as_u64)
                .with_context(|| format!("{}: no variant", at()))?;
            let flag = |k: &str| r.get(k).and_then(serde_json::Value::as_bool).unwrap_or(false);
            let m = Metrics::try_from_values(
                |name| -> Result<Value> {
                    let v = r.get(name.as_str()).with_context(|| format!("{}: no {name}", at()))?;
                    // Non-finite numbers are written as null.
                    Ok(if name.is_integer() {
                        Value::Int(v.as_i64().unwrap_or(0))
                    } else {
                        Value::Float(v.as_f64().unwrap_or(f64::NAN))
                    })
                },
                flag("open_position"),
                flag("liquidated"),
            )?;
            Ok(VariantResult { index, metrics: m })
        })
        .collect()
}
