//! `bt data` and `bt run` with calendar months (`1M`), Friday weeks and
//! `irregular` data.

use std::path::Path;

use crate::bt;

/// A daily-dated CSV: row k opens at 100 + k, high 102 + k, low 99 + k,
/// close 101 + k, volume 10 + k.
fn write_csv(dir: &Path, name: &str, dates: &[&str]) {
    let mut csv = String::from("date,open,high,low,close,volume\n");
    for (k, d) in dates.iter().enumerate() {
        let p = 100 + k;
        csv.push_str(&format!("{d},{p},{},{},{},{}\n", p + 2, p - 1, p + 1, 10 + k));
    }
    std::fs::write(dir.join(name), csv).expect("write");
}

fn inspect_line(cwd: &Path, target: &str, key: &str) -> String {
    let r = bt(&["data", "inspect", target, "--catalog", "cat"], cwd);
    assert!(r.ok, "{r:?}");
    r.stdout.lines().find(|l| l.starts_with(key)).unwrap_or_default().to_owned()
}

#[test]
fn monthly_files_import_as_1m_and_weekly_fridays_as_1w() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    // Month ends, leap February, March 2020 missing.
    write_csv(cwd, "ends.csv", &["2019-11-30", "2019-12-31", "2020-01-31", "2020-02-29", "2020-04-30"]);
    let r = bt(&["data", "import", "ends.csv", "--ticker", "me", "--catalog", "cat"], cwd);
    assert_eq!(
        r.stdout,
        "imported 5 rows of ME 1M (2019-11-30T00:00:00Z .. 2020-04-30T00:00:00Z) -> cat/ME/1M.parquet\n\
         warning: 1 gaps, largest 2 months between bars\n",
        "{r:?}"
    );
    assert_eq!(
        inspect_line(cwd, "ME/1M", "timeframe"),
        "timeframe  1M (calendar months, labelled by month end)"
    );
    assert_eq!(inspect_line(cwd, "ME/1M", "gaps"), "gaps       1 (largest 2 months between bars)");
    assert_eq!(inspect_line(cwd, "ME/1M", "close"), "close      first 101 last 105");

    // Month starts (2019-06-03: the first Monday), with --timeframe 1M as a check.
    write_csv(cwd, "starts.csv", &["2019-04-01", "2019-05-01", "2019-06-03", "2019-07-01"]);
    let r =
        bt(&["data", "import", "starts.csv", "--ticker", "ms", "--timeframe", "1M", "--catalog", "cat"], cwd);
    assert_eq!(
        r.stdout,
        "imported 4 rows of MS 1M (2019-04-01T00:00:00Z .. 2019-07-01T00:00:00Z) -> cat/MS/1M.parquet\n",
        "{r:?}"
    );
    assert_eq!(
        inspect_line(cwd, "MS/1M", "timeframe"),
        "timeframe  1M (calendar months, labelled by month start)"
    );
    let r =
        bt(&["data", "import", "starts.csv", "--ticker", "ms", "--timeframe", "1w", "--catalog", "cat"], cwd);
    assert!(
        r.stderr.ends_with("starts.csv: --timeframe 1w but the bars are calendar months (1M)\n"),
        "{r:?}"
    );

    // Weekly bars labelled by Friday, one week missing.
    write_csv(cwd, "fri.csv", &["2024-01-05", "2024-01-12", "2024-01-19", "2024-02-02"]);
    let r = bt(&["data", "import", "fri.csv", "--ticker", "wk", "--catalog", "cat"], cwd);
    assert_eq!(
        r.stdout,
        "imported 4 rows of WK 1w (2024-01-05T00:00:00Z .. 2024-02-02T00:00:00Z) -> cat/WK/1w.parquet\n\
         warning: 1 gaps, largest 14d between bars\n",
        "{r:?}"
    );

    let r = bt(&["data", "list", "--catalog", "cat"], cwd);
    assert_eq!(
        r.stdout,
        "ticker       tf        rows  first                 last                \n\
         ME           1M           5  2019-11-30T00:00:00Z  2020-04-30T00:00:00Z\n\
         MS           1M           4  2019-04-01T00:00:00Z  2019-07-01T00:00:00Z\n\
         WK           1w           4  2024-01-05T00:00:00Z  2024-02-02T00:00:00Z\n",
        "{r:?}"
    );
    // Months resample to nothing, and the reason is given.
    let r = bt(&["data", "resample", "--ticker", "ME", "--to", "1w", "--catalog", "cat"], cwd);
    assert_eq!(
        r.stderr,
        "error: no stored timeframe of ME resamples to 1w (1M: 1M bars are calendar months, which have no fixed \
         length: no other timeframe is made of whole months)\n",
        "{r:?}"
    );
}

#[test]
fn days_resample_to_calendar_months() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    // 2024-01-29 .. 2024-03-01: January 3 days, February 29, March 1 (incomplete).
    let mut dates: Vec<String> = (29..=31).map(|d| format!("2024-01-{d}")).collect();
    dates.extend((1..=29).map(|d| format!("2024-02-{d:02}")));
    dates.push("2024-03-01".into());
    write_csv(cwd, "d.csv", &dates.iter().map(String::as_str).collect::<Vec<_>>());
    let r = bt(&["data", "import", "d.csv", "--ticker", "d", "--catalog", "cat"], cwd);
    assert!(r.ok, "{r:?}");
    let r = bt(&["data", "resample", "--ticker", "d", "--to", "1M", "--catalog", "cat"], cwd);
    assert_eq!(r.stdout, "resampled 33 1d bars to 2 1M bars -> cat/D/1M.parquet\n", "{r:?}");
    let m = bt_candles::load(&cwd.join("cat/D/1M.parquet"), &bt_candles::LoadOptions::default())
        .expect("load")
        .candles;
    assert_eq!(m.ts(), &[1_704_067_200_000, 1_706_745_600_000]); // 2024-01-01, 2024-02-01
    assert_eq!(m.open(), &[100.0, 103.0]); // open of the first day
    assert_eq!(m.high(), &[104.0, 133.0]); // highest high
    assert_eq!(m.low(), &[99.0, 102.0]); // lowest low
    assert_eq!(m.close(), &[103.0, 132.0]); // close of the last day
    assert_eq!(m.volume(), &[33.0, (13..=41).sum::<i32>() as f64]); // sum
    assert_eq!(
        inspect_line(cwd, "D/1M", "timeframe"),
        "timeframe  1M (calendar months, labelled by month start)"
    );
    // With the incomplete March kept.
    let r = bt(
        &[
            "data",
            "resample",
            "--ticker",
            "d",
            "--to",
            "1M",
            "--from",
            "1d",
            "--keep-incomplete",
            "--catalog",
            "cat",
        ],
        cwd,
    );
    assert_eq!(r.stdout, "resampled 33 1d bars to 3 1M bars -> cat/D/1M.parquet\n", "{r:?}");
}

#[test]
fn irregular_imports_only_when_asked_runs_and_never_resamples() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    // 1m steps, then 90 s, then 1 s.
    std::fs::write(
        cwd.join("irr.csv"),
        "ts,open,high,low,close,volume\n\
         1704067200000,10,11,9,10.5,1\n\
         1704067260000,10.5,11,10,10.8,1\n\
         1704067320000,10.8,11.2,10.6,11,1\n\
         1704067410000,11,11.5,10.9,11.2,1\n\
         1704067411000,11.2,11.4,11.1,11.3,2\n",
    )
    .expect("write");
    let mixed = "irr.csv: row 5, column ts: step of 90s from the previous bar is not a multiple of the dataset's 1m \
                 step (mixed intervals; --timeframe irregular takes any increasing times)\n";
    for tf in [None, Some("1m")] {
        let mut args = vec!["data", "import", "irr.csv", "--ticker", "irr", "--catalog", "cat"];
        args.extend(tf.map(|t| ["--timeframe", t]).into_iter().flatten());
        let r = bt(&args, cwd);
        assert_eq!(r.stderr, format!("error: {mixed}"), "{r:?}");
    }
    assert!(!cwd.join("cat").exists());
    let r = bt(
        &["data", "import", "irr.csv", "--ticker", "irr", "--timeframe", "irregular", "--catalog", "cat"],
        cwd,
    );
    assert_eq!(
        r.stdout,
        "imported 5 rows of IRR irregular (2024-01-01T00:00:00Z .. 2024-01-01T00:03:31Z) -> cat/IRR/irregular.parquet\n",
        "{r:?}"
    );
    assert_eq!(inspect_line(cwd, "IRR/irregular", "timeframe"), "timeframe  irregular (no fixed step)");
    assert_eq!(
        inspect_line(cwd, "IRR/irregular", "gaps"),
        "gaps       none checked (irregular bars have no fixed step to miss)"
    );
    let r = bt(&["data", "list", "--catalog", "cat"], cwd);
    assert_eq!(
        r.stdout,
        "ticker       tf             rows  first                 last                \n\
         IRR          irregular         5  2024-01-01T00:00:00Z  2024-01-01T00:03:31Z\n",
        "{r:?}"
    );
    // Resampling needs a fixed step: refused with the reason, whether the source is named or not.
    let r = bt(&["data", "resample", "--ticker", "irr", "--to", "1h", "--catalog", "cat"], cwd);
    assert_eq!(
        r.stderr,
        "error: no stored timeframe of IRR resamples to 1h (irregular: irregular bars have no fixed step, and \
         resampling needs one)\n",
        "{r:?}"
    );
    let r = bt(
        &["data", "resample", "--ticker", "irr", "--from", "irregular", "--to", "1h", "--catalog", "cat"],
        cwd,
    );
    assert_eq!(
        r.stderr,
        "error: cannot resample irregular to 1h: irregular bars have no fixed step, and resampling needs one\n",
        "{r:?}"
    );
    let r = bt(
        &["data", "resample", "--ticker", "irr", "--from", "irregular", "--to", "1M", "--catalog", "cat"],
        cwd,
    );
    assert!(
        r.stderr.starts_with("error: cannot resample irregular to 1M: irregular bars have no fixed step"),
        "{r:?}"
    );
}

/// The `bt run --out` CSV: header and rows, split.
fn read_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("csv");
    let mut lines = text.lines().map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>());
    let header = lines.next().expect("header");
    (header, lines.collect())
}

#[test]
fn bt_run_trades_irregular_bars_as_the_same_bars_at_a_fixed_step() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    // The same seed's prices at 1m and at irregular times 1 to 5 minutes apart.
    for (ticker, tf) in [("FIX", "1m"), ("IRR", "irregular")] {
        let out = format!("{ticker}.csv");
        let r = bt(
            &[
                "data",
                "generate",
                "--ticker",
                ticker,
                "--bars",
                "3000",
                "--seed",
                "4",
                "--timeframe",
                tf,
                "--out",
                &out,
            ],
            cwd,
        );
        assert!(r.ok, "{r:?}");
        let mut args = vec!["data", "import", &out, "--ticker", ticker, "--catalog", "cat"];
        if tf == "irregular" {
            args.extend(["--timeframe", "irregular"]);
        }
        let r = bt(&args, cwd);
        assert!(r.ok, "{r:?}");
        assert!(r.stdout.contains(&format!("-> cat/{ticker}/{tf}.parquet")), "{r:?}");
    }
    let spec = |tf: &str, ticker: &str, annualization: &str| {
        format!(
            "{annualization}[datasets]\ntickers = [\"{ticker}\"]\ntimeframes = [\"{tf}\"]\n\
             [strategy]\nkind = \"sma_cross\"\nfast = [5, 10]\nslow = [20, 40]\n[money]\nstop_loss = [0, 0.01]\n"
        )
    };
    // `auto` needs a bar length: refused, naming annualization.
    std::fs::write(cwd.join("auto.toml"), spec("irregular", "IRR", "")).expect("write");
    let r = bt(&["run", "auto.toml", "--catalog", "cat"], cwd);
    assert!(!r.ok);
    assert!(
        r.stderr.contains(
            "annualization: auto counts bars per year by the bar length, which irregular bars \
             (datasets.timeframes) do not have: give the bars per year as a number, e.g. annualization = 252"
        ),
        "{r:?}"
    );
    let mut results = Vec::new();
    for (ticker, tf) in [("FIX", "1m"), ("IRR", "irregular")] {
        let file = format!("{ticker}.toml");
        std::fs::write(cwd.join(&file), spec(tf, ticker, "annualization = 525600\n")).expect("write");
        let out = format!("{ticker}.out.csv");
        let r = bt(&["run", &file, "--catalog", "cat", "--out", &out, "--threads", "2"], cwd);
        assert!(r.ok, "{r:?}");
        assert!(
            r.stdout.contains(&format!("{ticker}/{tf}: annualization 525600 -> 525600 bars/year; ")),
            "{r:?}"
        );
        results.push(read_rows(&cwd.join(out)));
    }
    let (header, fixed) = &results[0];
    let (_, irregular) = &results[1];
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    assert_eq!(fixed.len(), 8);
    // Indicators and the simulator count bars, not time: the same trades,
    // equity and Sharpe (same bars per year); only the time-based metrics differ.
    for (f, i) in fixed.iter().zip(irregular) {
        for name in ["trades", "final_equity", "total_return", "sharpe", "max_drawdown", "win_rate"] {
            assert_eq!(f[col(name)], i[col(name)], "{name} of variant {}", f[0]);
        }
        assert!(f[col("trades")].parse::<u64>().expect("trades") > 0);
        assert_ne!(f[col("cagr")], i[col("cagr")]);
    }
}

#[test]
fn bt_run_annualises_months_with_12_bars_a_year() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    let r = bt(
        &["data", "generate", "--ticker", "mo", "--bars", "120", "--timeframe", "1M", "--catalog", "cat"],
        cwd,
    );
    assert_eq!(r.stdout, "generated MO 1M: 120 bars, seed 1 -> cat/MO/1M.parquet\n", "{r:?}");
    assert_eq!(inspect_line(cwd, "MO/1M", "last"), "last       2033-12-01T00:00:00Z");
    std::fs::write(
        cwd.join("mo.toml"),
        "[datasets]\ntickers = [\"MO\"]\ntimeframes = [\"1M\"]\n[strategy]\nkind = \"sma_cross\"\nfast = [3]\nslow = [12]\n",
    )
    .expect("write");
    let r = bt(&["run", "mo.toml", "--catalog", "cat"], cwd);
    assert!(r.ok, "{r:?}");
    // 2024-01-01 .. 2033-12-01 is 3,622 days: 9.92 years of 365.25 days.
    let line = r.stdout.lines().nth(1).unwrap_or_default();
    assert!(line.starts_with("MO/1M: annualization auto -> "), "{line}");
    assert!(line.ends_with(", 12 bars/year; 9.92 years"), "{line}");
}
