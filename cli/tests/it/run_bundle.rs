use crate::{bt, repo_root};

fn example(name: &str) -> String {
    repo_root().join("examples").join(name).to_str().expect("utf-8").to_owned()
}

#[test]
fn run_ranks_writes_every_variant_and_details_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    let catalog = repo_root().join("data");
    let cat = catalog.to_str().expect("utf-8");
    let r = bt(
        &[
            "run",
            &example("rsi_both.json"),
            "--catalog",
            cat,
            "--top",
            "3",
            "--out",
            "all.csv",
            "--threads",
            "2",
        ],
        cwd,
    );
    assert!(r.ok, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("864 variants on 2 dataset(s), 1347840 bar-variants in "), "{}", lines[0]);
    // Each dataset's annualisation: the sample data trades every day.
    assert!(
        lines[1].starts_with("ETHUSD/15m: annualization auto -> crypto, 35040 bars/year; "),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("ETHUSD/1h: annualization auto -> crypto, 8760 bars/year; "),
        "{}",
        lines[2]
    );
    assert!(lines[2].ends_with(" years"), "{}", lines[2]);
    assert!(lines[3].starts_with("rank   variant  dataset"), "{}", lines[3]);
    assert_eq!(lines.len(), 2 + 2 + 3 + 1);
    assert_eq!(lines[7], "864 rows -> all.csv");
    let csv = std::fs::read_to_string(cwd.join("all.csv")).expect("csv");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 865);
    assert!(rows[0].starts_with("variant,ticker,timeframe,strategy,period,lower,upper,stop_loss,take_profit,trailing_stop,max_bars,leverage,size,direction,final_equity,"));
    // Rows are in variant order; the top-ranked variant's final equity matches its detail run.
    let top: u64 = lines[4].split_whitespace().nth(1).expect("variant").parse().expect("index");
    let row: Vec<&str> = rows[top as usize + 1].split(',').collect();
    assert_eq!(row[0], top.to_string());
    let d = bt(
        &[
            "run",
            &example("rsi_both.json"),
            "--catalog",
            cat,
            "--variant",
            &top.to_string(),
            "--trades",
            "t.csv",
        ],
        cwd,
    );
    assert!(d.ok, "{d:?}");
    let fe = d.stdout.lines().find(|l| l.trim_start().starts_with("final_equity")).expect("final_equity");
    let annual =
        d.stdout.lines().find(|l| l.trim_start().starts_with("annualization")).expect("annualization");
    assert!(annual.contains(" auto -> crypto, "), "{annual}");
    let fe: f64 = fe.split_whitespace().nth(1).expect("value").parse().expect("number");
    let col = rows[0].split(',').position(|h| h == "final_equity").expect("final_equity column");
    let want: f64 = row[col].parse().expect("csv number");
    assert!((fe - want).abs() <= 1e-6 * want.abs(), "detail {fe} vs sweep {want}");
    let trades = std::fs::read_to_string(cwd.join("t.csv")).expect("trades");
    assert!(trades.starts_with("side,entry_bar,entry_time,entry_price,exit_bar,exit_time,exit_price,"));
}

#[test]
fn invalid_bundles_name_file_and_field() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("b.toml"),
        "[datasets]\ntickers = [\"BTCUSD\"]\ntimeframes = [\"1h\"]\n[strategy]\nkind = \"sma_cross\"\nfast = { start = 50, stop = 10, step = 5 }\nslow = 100\n",
    )
    .expect("write");
    let r = bt(&["run", "b.toml"], dir.path());
    assert!(!r.ok);
    assert_eq!(r.stderr, "error: b.toml: invalid bundle: strategy.fast: start 50 > stop 10\n");
    std::fs::write(
        dir.path().join("c.toml"),
        "[datasets]\ntickers = [\"NOPE\"]\ntimeframes = [\"1h\"]\n[strategy]\nkind = \"donchian\"\nperiod = 20\n",
    )
    .expect("write");
    let r =
        bt(&["run", "c.toml", "--catalog", repo_root().join("data").to_str().expect("utf-8")], dir.path());
    assert!(r.stderr.starts_with("error: no dataset NOPE/1h in catalog "), "{r:?}");
}

/// `--stats` under the backtesting.py profile prints backtesting.py's own
/// numbers for its GOOG sample (the reference fixture, made by backtesting.py
/// 0.6.6), under its names.
#[test]
fn stats_under_the_backtesting_py_profile_are_backtesting_pys() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    let goog = repo_root().join("engine/tests/fixtures/reference/goog.csv");
    let r =
        bt(&["data", "import", goog.to_str().expect("utf-8"), "--ticker", "GOOG", "--catalog", "cat"], cwd);
    assert!(r.ok, "{r:?}");
    std::fs::write(
        cwd.join("b.toml"),
        "initial_balance = 10000\n[datasets]\ntickers = [\"GOOG\"]\ntimeframes = [\"1d\"]\n\
         [strategy]\nkind = \"sma_cross\"\nfast = 10\nslow = 20\n[costs]\nfee_bps = 20\n\
         [execution]\nprofile = \"backtesting.py\"\n",
    )
    .expect("write");
    let r = bt(&["run", "b.toml", "--catalog", "cat", "--variant", "0", "--stats"], cwd);
    assert!(r.ok, "{r:?}");
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo_root().join("engine/tests/fixtures/reference/backtesting_py_long.json"),
        )
        .expect("fixture"),
    )
    .expect("json");
    let row = |name: &str| -> f64 {
        let line =
            r.stdout.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| panic!("{name}"));
        let value = line.trim_start()[name.len()..].split_whitespace().next().expect("value");
        value.parse().unwrap_or_else(|_| panic!("{line}"))
    };
    // Printed with 6 decimals.
    for name in [
        "Equity Final [$]",
        "Return [%]",
        "CAGR [%]",
        "Max. Drawdown [%]",
        "Exposure Time [%]",
        "Win Rate [%]",
        "Best Trade [%]",
        "Worst Trade [%]",
        "Avg. Trade [%]",
        "Profit Factor",
        "Expectancy [%]",
        "SQN",
        "Kelly Criterion",
        "# Trades",
    ] {
        let want = fixture["stats"][name].as_f64().expect("stat");
        assert!((row(name) - want).abs() <= 5e-7 * want.abs().max(1.0), "{name}: {} vs {want}", row(name));
    }
    let days = |name: &str| -> String {
        let line = r.stdout.lines().find(|l| l.trim_start().starts_with(name)).expect("row");
        line.trim_start()[name.len()..].split_whitespace().next().expect("days").to_owned()
    };
    for name in ["Max. Trade Duration", "Avg. Trade Duration", "Max. Drawdown Duration"] {
        assert_eq!(days(name), format!("{}", fixture["stats"][name].as_f64().expect("days")), "{name}");
    }
    let exec =
        format!("{:<26} sizing whole_units, fee inside, stops_from next_bar, close_at_end true", "execution");
    assert!(r.stdout.contains(&exec), "{}", r.stdout);
}
