//! Turning a validated bundle into job rows: each dataset's bar count is
//! estimated from the catalog's metadata (no candle is read), and the
//! bundle's variants are cut into jobs of about `job_bar_variants` bars x
//! variants each (at most `max_job_variants`). A bundle one variant of which
//! cannot fit the memory limit is refused.

use bt_candles::{Catalog, DatasetInfo, TimeRange, Timeframe};
use bt_engine::bundle::Bundle;
use bt_queue::{Execution, MAX_JOB_VARIANTS, NewBundle, job_variants, plan_jobs};
use uuid::Uuid;

use crate::memory::{Bytes, dataset_bytes, result_bytes};

/// Bars x variants per job by default: about a second of one core at the
/// sweep's speed, so progress, rescue and sharing among workers stay fine-grained.
pub const DEFAULT_JOB_BAR_VARIANTS: u64 = 200_000_000;

/// Jobs a bundle may become at most (the API refuses larger ones).
pub const MAX_JOBS: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(
        "dataset {ticker}/{timeframe} is not in the catalog at {root} (nor a shorter timeframe to resample)"
    )]
    MissingDataset { ticker: String, timeframe: Timeframe, root: String },
    #[error("dataset {ticker}/{timeframe} has no bars in the bundle's time range")]
    EmptyRange { ticker: String, timeframe: Timeframe },
    #[error(
        "the rules read col({column:?}), which {ticker}/{timeframe} does not have (its data columns: {have}){hint}"
    )]
    MissingColumn { ticker: String, timeframe: Timeframe, column: String, have: String, hint: String },
    #[error("the bundle would be {jobs} jobs, more than {max}: raise the job size")]
    TooManyJobs { jobs: usize, max: usize },
    #[error(
        "one variant on {ticker}/{timeframe} needs about {} ({bars} bars: {} of candles, {} of indicators \
         and signals), more than the memory limit of {}: use a shorter time range or a longer timeframe",
        Bytes(*needed), Bytes(*candles), Bytes(*strategy), Bytes(*limit)
    )]
    TooLarge {
        ticker: String,
        timeframe: Timeframe,
        bars: u64,
        candles: u64,
        strategy: u64,
        needed: u64,
        limit: u64,
    },
    #[error(transparent)]
    Catalog(#[from] bt_candles::Error),
    #[error("cannot store the bundle spec: {0}")]
    Spec(#[from] serde_json::Error),
}

/// Options of one submission.
#[derive(Debug, Clone)]
pub struct SubmitOptions {
    pub owner: String,
    pub priority: i32,
    pub max_attempts: i32,
    pub job_bar_variants: u64,
    /// Most variants per job.
    pub max_job_variants: u64,
    /// Memory a worker may use (`BT_MEMORY_LIMIT`): a bundle one variant of
    /// which needs more is refused. `None`: not checked.
    pub memory_limit: Option<u64>,
    pub execution: Execution,
}

impl Default for SubmitOptions {
    fn default() -> Self {
        Self {
            owner: "local".into(),
            priority: 0,
            max_attempts: 3,
            job_bar_variants: DEFAULT_JOB_BAR_VARIANTS,
            max_job_variants: MAX_JOB_VARIANTS,
            memory_limit: None,
            execution: Execution::Queue,
        }
    }
}

/// Bars of a dataset with `rows` bars from `first` to `last` (open times)
/// that fall in `range`, assuming they are spread evenly.
fn bars_in_range(rows: usize, first: i64, last: i64, bar_ms: i64, range: TimeRange) -> u64 {
    let end = last + bar_ms;
    let lo = range.start.map_or(first, |s| s.max(first));
    let hi = range.end.map_or(end, |e| e.min(end));
    if hi <= lo || rows == 0 {
        return 0;
    }
    let frac = (hi - lo) as f64 / (end - first).max(1) as f64;
    ((rows as f64 * frac).round() as u64).max(1)
}

/// A timeframe's bar length for estimates: `1M` 365 / 12 days; `irregular`
/// (never resampled) 0, so its bars are counted over first to last.
fn nominal_ms(tf: Timeframe) -> i64 {
    tf.nominal_ms().unwrap_or(0)
}

/// Estimated bars of every dataset of `bundle` (in bundle order).
pub fn estimate_bars(bundle: &Bundle, catalog: &Catalog) -> Result<Vec<u64>, SubmitError> {
    let listed = catalog.list()?;
    let find = |t: &str, tf: Timeframe| -> Option<&DatasetInfo> {
        listed.iter().find(|d| d.ticker == t && d.timeframe == tf)
    };
    bundle
        .datasets
        .iter()
        .map(|d| {
            let (info, scale) = match find(&d.ticker, d.timeframe) {
                Some(i) => (i, 1.0),
                None => {
                    let src = catalog.resample_source(&d.ticker, d.timeframe)?;
                    match src.and_then(|s| find(&d.ticker, s)) {
                        Some(i) => (i, nominal_ms(i.timeframe) as f64 / nominal_ms(d.timeframe) as f64),
                        None => {
                            return Err(SubmitError::MissingDataset {
                                ticker: d.ticker.clone(),
                                timeframe: d.timeframe,
                                root: catalog.root().display().to_string(),
                            });
                        }
                    }
                }
            };
            let (Some(first), Some(last)) = (info.first_ms, info.last_ms) else {
                return Err(SubmitError::EmptyRange { ticker: d.ticker.clone(), timeframe: d.timeframe });
            };
            let bars = bars_in_range(info.rows, first, last, nominal_ms(info.timeframe), bundle.range);
            let bars = (bars as f64 * scale).round() as u64;
            if bars == 0 {
                return Err(SubmitError::EmptyRange { ticker: d.ticker.clone(), timeframe: d.timeframe });
            }
            Ok(bars)
        })
        .collect()
}

/// Refuses a bundle whose rules read a data column that one of its datasets
/// lacks (read from the files' schemas, no candle is read).
pub fn check_columns(bundle: &Bundle, catalog: &Catalog) -> Result<(), SubmitError> {
    if bundle.columns.is_empty() {
        return Ok(());
    }
    for d in &bundle.datasets {
        let have = catalog.columns(&d.ticker, d.timeframe)?;
        for column in &bundle.columns {
            if !have.contains(column) {
                let hint = bt_engine::rules::closest(column, have.iter().map(String::as_str))
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                return Err(SubmitError::MissingColumn {
                    ticker: d.ticker.clone(),
                    timeframe: d.timeframe,
                    column: column.clone(),
                    have: if have.is_empty() { "none".into() } else { have.join(", ") },
                    hint,
                });
            }
        }
    }
    Ok(())
}

/// Refuses a bundle one variant of which needs more than `limit` bytes: the
/// candles of its largest dataset (by `bars`, in bundle order), with their
/// data columns, and what one strategy's evaluation holds on them (every
/// column of its program, its signals and fill events).
pub fn check_memory(bundle: &Bundle, catalog: &Catalog, bars: &[u64], limit: u64) -> Result<(), SubmitError> {
    let Some((i, &b)) = bars.iter().enumerate().max_by_key(|&(i, b)| (*b, std::cmp::Reverse(i))) else {
        return Ok(());
    };
    let d = &bundle.datasets[i];
    let candles = dataset_bytes(b, catalog.columns(&d.ticker, d.timeframe)?.len());
    let strategy = bt_engine::sweep::strategy_bytes(bundle, b as usize);
    let needed = candles + strategy + result_bytes();
    if needed > limit {
        return Err(SubmitError::TooLarge {
            ticker: d.ticker.clone(),
            timeframe: d.timeframe,
            bars: b,
            candles,
            strategy,
            needed,
            limit,
        });
    }
    Ok(())
}

/// The bundle and its jobs, ready for [`bt_queue::Store::enqueue_bundle`].
pub fn plan(bundle: &Bundle, catalog: &Catalog, opts: &SubmitOptions) -> Result<NewBundle, SubmitError> {
    let bars = estimate_bars(bundle, catalog)?;
    check_columns(bundle, catalog)?;
    if let Some(limit) = opts.memory_limit {
        check_memory(bundle, catalog, &bars, limit)?;
    }
    let datasets: Vec<(String, String, u64)> = bundle
        .datasets
        .iter()
        .zip(&bars)
        .map(|(d, b)| (d.ticker.clone(), d.timeframe.as_str().to_owned(), *b))
        .collect();
    let per = bundle.per_dataset();
    // Check the job count before building the rows.
    let jobs_needed: u64 = bars
        .iter()
        .map(|b| per.div_ceil(job_variants(*b, opts.job_bar_variants, opts.max_job_variants)))
        .sum();
    if jobs_needed > MAX_JOBS as u64 {
        return Err(SubmitError::TooManyJobs { jobs: jobs_needed as usize, max: MAX_JOBS });
    }
    let jobs = plan_jobs(&datasets, per, opts.job_bar_variants, opts.max_job_variants);
    Ok(NewBundle {
        id: Uuid::new_v4(),
        owner: opts.owner.clone(),
        name: bundle.spec.name.clone(),
        spec: serde_json::to_value(&bundle.spec)?,
        variant_count: bundle.count() as i64,
        priority: opts.priority,
        max_attempts: opts.max_attempts,
        execution: opts.execution,
        jobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_candles::{GenerateSpec, generate};
    use bt_engine::bundle::{BundleSpec, Limits};

    const SPEC: &str = r#"
name = "t"
[datasets]
tickers = ["AAA"]
timeframes = ["1m", "1h"]
[strategy]
kind = "sma_cross"
fast = { start = 5, stop = 10, step = 5 }
slow = { start = 20, stop = 40, step = 20 }
[money]
stop_loss = [0.01, 0.02]
"#;

    fn catalog() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().expect("tmp");
        let c = Catalog::new(dir.path());
        let candles = generate(&GenerateSpec { bars: 6_000, seed: 3, ..GenerateSpec::default() });
        c.write("AAA", Timeframe::M1, candles.view()).expect("write");
        (dir, c)
    }

    #[test]
    fn estimates_stored_and_resampled_datasets() {
        let (_d, c) = catalog();
        let b = Bundle::from_toml(SPEC, Limits::default()).expect("bundle");
        assert_eq!(estimate_bars(&b, &c).expect("bars"), vec![6_000, 100]);
    }

    #[test]
    fn plans_jobs_and_keeps_the_spec() {
        let (_d, c) = catalog();
        let b = Bundle::from_toml(SPEC, Limits::default()).expect("bundle");
        let opts = SubmitOptions { job_bar_variants: 12_000, priority: 5, ..SubmitOptions::default() };
        let nb = plan(&b, &c, &opts).expect("plan");
        assert_eq!(nb.variant_count, 16);
        assert_eq!(nb.priority, 5);
        assert_eq!(nb.name, "t");
        // 1m: 2 variants per job (12,000 / 6,000) -> 4 jobs; 1h: all 8 in one job.
        let ranges: Vec<(i64, i64)> = nb.jobs.iter().map(|j| (j.variant_start, j.variant_end)).collect();
        assert_eq!(ranges, vec![(0, 2), (2, 4), (4, 6), (6, 8), (8, 16)]);
        let back: BundleSpec = serde_json::from_value(nb.spec).expect("spec");
        assert_eq!(back, b.spec);
    }

    #[test]
    fn a_missing_dataset_or_range_is_named() {
        let (_d, c) = catalog();
        let b = Bundle::from_toml(&SPEC.replace("AAA", "ZZZ"), Limits::default()).expect("bundle");
        let e = plan(&b, &c, &SubmitOptions::default()).expect_err("missing");
        assert!(e.to_string().starts_with("dataset ZZZ/1m is not in the catalog"), "{e}");
        let late =
            SPEC.replace("timeframes = [\"1m\", \"1h\"]", "timeframes = [\"1m\"]\nfrom = \"2030-01-01\"");
        let b = Bundle::from_toml(&late, Limits::default()).expect("bundle");
        let e = plan(&b, &c, &SubmitOptions::default()).expect_err("empty");
        assert_eq!(e.to_string(), "dataset AAA/1m has no bars in the bundle's time range");
    }

    #[test]
    fn jobs_are_capped_by_variants() {
        let (_d, c) = catalog();
        let b = Bundle::from_toml(SPEC, Limits::default()).expect("bundle");
        let opts =
            SubmitOptions { job_bar_variants: 12_000, max_job_variants: 3, ..SubmitOptions::default() };
        let nb = plan(&b, &c, &opts).expect("plan");
        // 1m: 2 variants per job (under the cap); 1h: 120 by bars, 3 by the cap.
        let ranges: Vec<(i64, i64)> = nb.jobs.iter().map(|j| (j.variant_start, j.variant_end)).collect();
        assert_eq!(ranges, vec![(0, 2), (2, 4), (4, 6), (6, 8), (8, 11), (11, 14), (14, 16)]);
    }

    #[test]
    fn a_bundle_one_variant_of_which_cannot_fit_the_memory_limit_is_refused_with_the_numbers() {
        let (_d, c) = catalog();
        let b = Bundle::from_toml(SPEC, Limits::default()).expect("bundle");
        // The 1m dataset (6,000 bars) is the larger: 48 bytes a bar of candles;
        // sma_cross computes two averages (8 bytes a bar each) and two
        // crosses (1 byte each), then 1 signal byte and up to 16 bytes of
        // fill events a bar.
        let (candles, strategy) = (6_000 * 48, 6_000 * (16 + 2 + 1 + 16));
        assert_eq!(bt_engine::sweep::strategy_bytes(&b, 6_000), strategy);
        let needed = candles + strategy + result_bytes();
        let opts = |limit| SubmitOptions { memory_limit: Some(limit), ..SubmitOptions::default() };
        let e = plan(&b, &c, &opts(needed - 1)).expect_err("too large");
        assert!(
            matches!(e, SubmitError::TooLarge { bars: 6_000, candles: 288_000, strategy: 210_000, needed: n, limit: l, .. }
                if n == needed && l == needed - 1),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "one variant on AAA/1m needs about {} (6000 bars: 281 KiB of candles, 205 KiB of \
                 indicators and signals), more than the memory limit of {}: use a shorter time range or a \
                 longer timeframe",
                Bytes(needed),
                Bytes(needed - 1)
            )
        );
        assert!(plan(&b, &c, &opts(needed)).is_ok());
    }

    #[test]
    fn too_many_jobs_is_refused_before_planning() {
        let (_d, c) = catalog();
        let b = Bundle::from_toml(SPEC, Limits::default()).expect("bundle");
        assert_eq!(bars_in_range(10, 0, 9, 1, TimeRange { start: Some(5), end: None }), 5);
        let opts = SubmitOptions { job_bar_variants: 1, ..SubmitOptions::default() };
        assert!(plan(&b, &c, &opts).is_ok(), "16 one-variant jobs are fine");
    }
}
