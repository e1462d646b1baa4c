//! `bt data ...`: the candle catalog from the command line.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bt_candles::{
    Candles, Catalog, FileFormat, GenerateSpec, LoadOptions, Spacing, TimeRange, Timeframe, generate, load,
    normalise_ticker, resample, time,
};
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct CatalogArg {
    /// Root of the dataset catalog (`<root>/<TICKER>/<timeframe>.parquet`).
    #[arg(long, env = "BT_CATALOG", default_value = "data")]
    catalog: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Validate a CSV, Parquet or Arrow file and store it in the catalog as Parquet.
    ///
    /// Columns besides time and OHLCV that hold numbers or booleans are kept
    /// (a signal computed elsewhere, or `Adj. Close`); rules read them with
    /// `col("name")`; other columns are named as skipped. Times may be ISO 8601
    /// dates or date-times, `19-Sep-03`, `09/19/2003`, `20030919` or epoch
    /// seconds, milliseconds, microseconds or nanoseconds; `--time-format` for
    /// anything else. A file stored newest first is reversed. Bars must be one
    /// step apart (gaps allowed) or one per calendar month (`1M`, labelled by
    /// month start or month end); `--timeframe irregular` takes any increasing
    /// times.
    Import {
        /// The file to import (.csv, .txt, .parquet, .arrow, .ipc, .feather).
        file: PathBuf,
        /// Ticker to store it under (stored upper case).
        #[arg(long)]
        ticker: String,
        /// Timeframe of the file (1m .. 1w, 1M, irregular); inferred from the
        /// timestamps when omitted, and checked against them when given.
        /// `irregular` is never inferred: it stores any strictly increasing
        /// times, which run but do not resample or report gaps.
        #[arg(long)]
        timeframe: Option<Timeframe>,
        /// Sort rows and drop duplicate timestamps (keeping the last) instead of failing.
        #[arg(long)]
        sort_dedup: bool,
        /// The time column's format, strftime-like, for layouts not read by
        /// default: %Y %y %m %d %b %B %H %M %S %% and literal text (e.g.
        /// "%d.%m.%Y %H:%M"); times are UTC.
        #[arg(long, value_name = "FORMAT")]
        time_format: Option<time::TimePattern>,
        #[command(flatten)]
        catalog: CatalogArg,
    },
    /// Rows, time range, timeframe, gaps, prices and extra columns of a file or a catalog dataset.
    Inspect {
        /// A file path, or TICKER/TIMEFRAME from the catalog (e.g. BTCUSD/1h).
        target: String,
        /// Only bars at or after this time (RFC 3339 or YYYY-MM-DD).
        #[arg(long, value_parser = parse_time)]
        from: Option<i64>,
        /// Only bars before this time (RFC 3339 or YYYY-MM-DD).
        #[arg(long, value_parser = parse_time)]
        to: Option<i64>,
        /// Sort rows and drop duplicate timestamps instead of failing.
        #[arg(long)]
        sort_dedup: bool,
        #[command(flatten)]
        catalog: CatalogArg,
    },
    /// List the catalog's datasets.
    List {
        #[command(flatten)]
        catalog: CatalogArg,
    },
    /// Resample a catalog dataset to a longer timeframe and store it.
    ///
    /// A fixed step resamples to a longer multiple of it, and a step of a day
    /// or less to calendar months (1M, labelled by month start, UTC); 1M and
    /// irregular data resample to nothing.
    Resample {
        #[arg(long)]
        ticker: String,
        /// Target timeframe.
        #[arg(long)]
        to: Timeframe,
        /// Source timeframe; the longest stored one that divides the target when omitted.
        #[arg(long)]
        from: Option<Timeframe>,
        /// Keep an incomplete last bucket.
        #[arg(long)]
        keep_incomplete: bool,
        #[command(flatten)]
        catalog: CatalogArg,
    },
    /// Generate a deterministic synthetic dataset (seeded geometric random walk).
    Generate {
        #[arg(long)]
        ticker: String,
        /// Number of bars.
        #[arg(long, default_value_t = 43_200)]
        bars: usize,
        /// Random seed; the same seed gives the same bars byte for byte.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Timeframe: 1M makes month-start bars from the month of --start;
        /// irregular makes bars 1 to 5 minutes apart.
        #[arg(long, default_value = "1m")]
        timeframe: Timeframe,
        /// Open time of the first bar (RFC 3339 or YYYY-MM-DD).
        #[arg(long, value_parser = parse_time, default_value = "2024-01-01")]
        start: i64,
        /// Price of the first bar.
        #[arg(long, default_value_t = 100.0)]
        price: f64,
        /// Write to this file (.parquet, .arrow or .csv) instead of the catalog.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        catalog: CatalogArg,
    },
}

fn parse_time(s: &str) -> Result<i64, String> {
    time::parse_timestamp_text(s).ok_or_else(|| format!("{s:?} is not a date or RFC 3339 time"))
}

pub fn run(cmd: DataCommand, out: &mut impl Write) -> Result<()> {
    match cmd {
        DataCommand::Import { file, ticker, timeframe, sort_dedup, time_format, catalog } => {
            let opts = LoadOptions::default()
                .with_sort_dedup(sort_dedup)
                .with_time_format(time_format)
                .with_irregular(timeframe == Some(Timeframe::Irregular));
            import(&file, &ticker, timeframe, &opts, &Catalog::new(catalog.catalog), out)
        }
        DataCommand::Inspect { target, from, to, sort_dedup, catalog } => {
            inspect(&target, TimeRange::new(from, to), sort_dedup, &Catalog::new(catalog.catalog), out)
        }
        DataCommand::List { catalog } => list(&Catalog::new(catalog.catalog), out),
        DataCommand::Resample { ticker, to, from, keep_incomplete, catalog } => {
            resample_cmd(&ticker, from, to, keep_incomplete, &Catalog::new(catalog.catalog), out)
        }
        DataCommand::Generate { ticker, bars, seed, timeframe, start, price, out: file, catalog } => {
            if bars == 0 {
                bail!("--bars must be at least 1");
            }
            if !(price.is_finite() && price > 0.0) {
                bail!("--price must be a positive number, got {price}");
            }
            let ticker = normalise_ticker(&ticker)?;
            let spec = GenerateSpec {
                bars,
                seed,
                timeframe,
                start_ms: start,
                start_price: price,
                ..GenerateSpec::default()
            };
            let candles = generate(&spec);
            let path = match file {
                Some(path) => {
                    let format = FileFormat::from_path(&path).with_context(|| {
                        format!("{}: unknown extension (use .parquet, .arrow or .csv)", path.display())
                    })?;
                    bt_candles::write(candles.view(), &path, format)?;
                    path
                }
                None => Catalog::new(catalog.catalog).write(&ticker, timeframe, candles.view())?,
            };
            writeln!(out, "generated {ticker} {timeframe}: {bars} bars, seed {seed} -> {}", path.display())?;
            Ok(())
        }
    }
}

fn import(
    file: &Path,
    ticker: &str,
    timeframe: Option<Timeframe>,
    opts: &LoadOptions,
    catalog: &Catalog,
    out: &mut impl Write,
) -> Result<()> {
    let ticker = normalise_ticker(ticker)?;
    let loaded = load(file, opts)?;
    let c = &loaded.candles;
    let tf = import_timeframe(file, timeframe, c.quality().spacing)?;
    let path = catalog.write(&ticker, tf, c.view())?;
    writeln!(
        out,
        "imported {} rows of {ticker} {tf} ({} .. {}) -> {}",
        c.len(),
        time::format_ms(c.ts()[0]),
        time::format_ms(c.ts()[c.len() - 1]),
        path.display()
    )?;
    report_fixes(&loaded, out)?;
    report_gaps(c, out)?;
    report_columns(&loaded, out)?;
    Ok(())
}

/// The timeframe to store a file's bars as: `given` when the bars agree with
/// it, else what they are.
fn import_timeframe(file: &Path, given: Option<Timeframe>, spacing: Spacing) -> Result<Timeframe> {
    let found = match spacing {
        Spacing::Fixed(s) => Timeframe::from_duration_ms(s),
        Spacing::Months(_) => Some(Timeframe::Month),
        Spacing::Irregular => Some(Timeframe::Irregular),
        Spacing::Unknown => None,
    };
    let apart = |tf: Timeframe| match tf {
        Timeframe::Month => "calendar months (1M)".to_owned(),
        tf => format!("{tf} apart"),
    };
    match (given, found, spacing) {
        (Some(given), Some(found), _) if given != found => {
            bail!("{}: --timeframe {given} but the bars are {}", file.display(), apart(found))
        }
        // A step that is no timeframe: a multiple of the one given (every
        // other bar missing) is that timeframe with gaps; anything else is not.
        (Some(given), None, Spacing::Fixed(s)) if given.step_ms().is_none_or(|g| s % g != 0) => {
            bail!("{}: --timeframe {given} but the bars are {} apart", file.display(), duration(s))
        }
        (Some(given), _, _) => Ok(given),
        (None, Some(found), _) => Ok(found),
        (None, None, _) => bail!(
            "{}: cannot infer the timeframe ({}); pass --timeframe",
            file.display(),
            match spacing {
                Spacing::Fixed(s) => format!("the bars are {} apart", duration(s)),
                _ => "fewer than two bars".to_owned(),
            }
        ),
    }
}

/// The extra columns kept and the columns skipped, one line each when any.
fn report_columns(loaded: &bt_candles::Loaded, out: &mut impl Write) -> Result<()> {
    let extra = loaded.candles.extra();
    if !extra.is_empty() {
        let list: Vec<String> = extra.iter().map(|e| format!("{} ({})", e.name, e.kind)).collect();
        writeln!(out, "kept {} extra {}: {}", extra.len(), plural(extra.len(), "column"), list.join(", "))?;
    }
    let skipped = &loaded.skipped_columns;
    if !skipped.is_empty() {
        let list: Vec<String> = skipped.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "note: skipped {} {} (only numbers and booleans are kept): {}",
            skipped.len(),
            plural(skipped.len(), "column"),
            list.join(", ")
        )?;
    }
    Ok(())
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { word.to_owned() } else { format!("{word}s") }
}

fn report_fixes(loaded: &bt_candles::Loaded, out: &mut impl Write) -> Result<()> {
    if loaded.newest_first {
        writeln!(out, "sorted: the file was newest first")?;
    }
    if loaded.reordered || loaded.duplicates_removed > 0 {
        writeln!(
            out,
            "sorted: {}; duplicates removed (last kept): {}",
            if loaded.reordered { "yes" } else { "no" },
            loaded.duplicates_removed
        )?;
    }
    Ok(())
}

fn report_gaps(c: &Candles, out: &mut impl Write) -> Result<()> {
    let q = c.quality();
    if q.gaps > 0 {
        writeln!(out, "warning: {} gaps, largest {} between bars", q.gaps, largest_gap(&q))?;
    }
    Ok(())
}

/// The largest gap of a dataset with gaps: in calendar months for `1M`
/// (`3 months`), else as a duration (`4h`).
fn largest_gap(q: &bt_candles::Quality) -> String {
    match q.spacing {
        Spacing::Months(_) => format!("{} months", q.largest_gap_months),
        _ => duration(q.largest_gap_ms),
    }
}

fn duration(ms: i64) -> String {
    let (d, h, m, s) = (ms / 86_400_000, ms / 3_600_000 % 24, ms / 60_000 % 60, ms / 1000 % 60);
    let mut parts = Vec::new();
    for (v, u) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if v > 0 {
            parts.push(format!("{v}{u}"));
        }
    }
    if parts.is_empty() { format!("{ms}ms") } else { parts.join("") }
}

/// A file path, or TICKER/TIMEFRAME from the catalog (resampled on load if
/// needed): the candles with what loading repaired (nothing, for the
/// catalog), and a description of where they came from.
pub fn load_target(
    target: &str,
    range: TimeRange,
    sort_dedup: bool,
    catalog: &Catalog,
) -> Result<(bt_candles::Loaded, String)> {
    let as_path = Path::new(target);
    let catalog_ref = target.split_once('/').and_then(|(t, tf)| Some((t, tf.parse::<Timeframe>().ok()?)));
    Ok(match catalog_ref {
        Some((ticker, tf)) if !as_path.is_file() => {
            let l = catalog.load(ticker, tf, range)?;
            let src = match l.resampled_from {
                Some(from) => format!("{} (resampled from {from})", catalog.path(ticker, tf)?.display()),
                None => catalog.path(ticker, tf)?.display().to_string(),
            };
            let loaded = bt_candles::Loaded {
                candles: l.candles,
                duplicates_removed: 0,
                reordered: false,
                newest_first: false,
                skipped_columns: Vec::new(),
            };
            (loaded, src)
        }
        _ => (
            load(as_path, &LoadOptions::default().with_range(range).with_sort_dedup(sort_dedup))?,
            target.to_owned(),
        ),
    })
}

fn inspect(
    target: &str,
    range: TimeRange,
    sort_dedup: bool,
    catalog: &Catalog,
    out: &mut impl Write,
) -> Result<()> {
    let (loaded, source) = load_target(target, range, sort_dedup, catalog)?;
    let candles = &loaded.candles;
    writeln!(out, "source     {source}")?;
    writeln!(out, "rows       {}", candles.len())?;
    if candles.is_empty() {
        return Ok(());
    }
    let q = candles.quality();
    let tf = match q.spacing {
        Spacing::Unknown => "unknown (one bar)".to_owned(),
        Spacing::Fixed(s) => Timeframe::from_duration_ms(s)
            .map_or_else(|| format!("none ({} between bars)", duration(s)), |t| t.to_string()),
        Spacing::Months(label) => format!("1M (calendar months, labelled by {})", label.as_str()),
        Spacing::Irregular => "irregular (no fixed step)".to_owned(),
    };
    writeln!(out, "timeframe  {tf}")?;
    writeln!(out, "first      {}", time::format_ms(candles.ts()[0]))?;
    writeln!(out, "last       {}", time::format_ms(candles.ts()[candles.len() - 1]))?;
    if q.spacing == Spacing::Irregular {
        writeln!(out, "gaps       none checked (irregular bars have no fixed step to miss)")?;
    } else if q.gaps > 0 {
        writeln!(out, "gaps       {} (largest {} between bars)", q.gaps, largest_gap(&q))?;
    } else {
        writeln!(out, "gaps       0")?;
    }
    let lo = candles.low().iter().copied().fold(f64::INFINITY, f64::min);
    let hi = candles.high().iter().copied().fold(f64::NEG_INFINITY, f64::max);
    writeln!(out, "price      low {lo} high {hi}")?;
    writeln!(out, "close      first {} last {}", candles.close()[0], candles.close()[candles.len() - 1])?;
    writeln!(out, "volume     total {:.3}", candles.volume().iter().sum::<f64>())?;
    for e in candles.extra() {
        writeln!(out, "extra      {} ({}, {} values)", e.name, e.kind, e.count_values())?;
    }
    for s in &loaded.skipped_columns {
        writeln!(out, "skipped    {s}")?;
    }
    report_fixes(&loaded, out)?;
    Ok(())
}

fn list(catalog: &Catalog, out: &mut impl Write) -> Result<()> {
    let items = catalog.list()?;
    if items.is_empty() {
        writeln!(out, "no datasets in {}", catalog.root().display())?;
        return Ok(());
    }
    // `irregular` widens the timeframe column.
    let w = items.iter().map(|d| d.timeframe.as_str().len()).max().unwrap_or(0).max(4);
    writeln!(out, "{:<12} {:<w$} {:>9}  {:<20}  {:<20}", "ticker", "tf", "rows", "first", "last")?;
    for d in items {
        let t = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), time::format_ms);
        writeln!(
            out,
            "{:<12} {:<w$} {:>9}  {:<20}  {:<20}",
            d.ticker,
            d.timeframe.as_str(),
            d.rows,
            t(d.first_ms),
            t(d.last_ms)
        )?;
    }
    Ok(())
}

fn resample_cmd(
    ticker: &str,
    from: Option<Timeframe>,
    to: Timeframe,
    keep_incomplete: bool,
    catalog: &Catalog,
    out: &mut impl Write,
) -> Result<()> {
    let ticker = normalise_ticker(ticker)?;
    let from = match from {
        Some(f) => {
            // Refused before anything is read, with the reason.
            f.resample_check(to).map_err(|reason| bt_candles::Error::Resample { from: f, to, reason })?;
            f
        }
        None => match catalog.resample_source(&ticker, to)? {
            Some(f) => f,
            None => {
                // Say why each stored timeframe does not serve.
                let why: Vec<String> = catalog
                    .list()?
                    .into_iter()
                    .filter(|d| d.ticker == ticker && d.timeframe != to)
                    .filter_map(|d| {
                        d.timeframe.resample_check(to).err().map(|r| format!("{}: {r}", d.timeframe))
                    })
                    .collect();
                if why.is_empty() {
                    bail!("no stored timeframe of {ticker} to resample to {to} from");
                }
                bail!("no stored timeframe of {ticker} resamples to {to} ({})", why.join("; "));
            }
        },
    };
    let src = catalog.load(&ticker, from, TimeRange::ALL)?;
    if src.resampled_from.is_some() {
        bail!("{ticker}/{from} is not stored in {}", catalog.root().display());
    }
    let r = resample(src.candles.view(), from, to, keep_incomplete)?;
    let path = catalog.write(&ticker, to, r.view())?;
    writeln!(
        out,
        "resampled {} {from} bars to {} {to} bars -> {}",
        src.candles.len(),
        r.len(),
        path.display()
    )?;
    Ok(())
}
