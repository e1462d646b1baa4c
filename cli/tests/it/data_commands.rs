use crate::{bt, repo_root};

#[test]
fn generate_list_inspect_resample_import() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    let r = bt(
        &["data", "generate", "--ticker", "abc", "--bars", "2880", "--seed", "9", "--catalog", "cat"],
        cwd,
    );
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout, "generated ABC 1m: 2880 bars, seed 9 -> cat/ABC/1m.parquet\n");

    let r = bt(&["data", "resample", "--ticker", "ABC", "--to", "4h", "--catalog", "cat"], cwd);
    assert_eq!(r.stdout, "resampled 2880 1m bars to 12 4h bars -> cat/ABC/4h.parquet\n", "{r:?}");

    let r = bt(&["data", "list", "--catalog", "cat"], cwd);
    assert_eq!(
        r.stdout,
        "ticker       tf        rows  first                 last                \n\
         ABC          1m        2880  2024-01-01T00:00:00Z  2024-01-02T23:59:00Z\n\
         ABC          4h          12  2024-01-01T00:00:00Z  2024-01-02T20:00:00Z\n"
    );

    let r = bt(&["data", "inspect", "ABC/1d", "--catalog", "cat"], cwd);
    assert!(r.ok, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "source     cat/ABC/1d.parquet (resampled from 4h)");
    assert_eq!(
        lines[1..5],
        [
            "rows       2",
            "timeframe  1d",
            "first      2024-01-01T00:00:00Z",
            "last       2024-01-02T00:00:00Z"
        ]
    );

    // Export a CSV and import it back under another ticker: same bars.
    let r = bt(&["data", "generate", "--ticker", "x", "--bars", "600", "--seed", "9", "--out", "x.csv"], cwd);
    assert!(r.ok, "{r:?}");
    let r = bt(&["data", "import", "x.csv", "--ticker", "xyz", "--catalog", "cat"], cwd);
    assert_eq!(
        r.stdout,
        "imported 600 rows of XYZ 1m (2024-01-01T00:00:00Z .. 2024-01-01T09:59:00Z) -> cat/XYZ/1m.parquet\n",
        "{r:?}"
    );
    let a = bt(&["data", "inspect", "XYZ/1m", "--catalog", "cat"], cwd).stdout;
    let b = bt(&["data", "inspect", "x.csv"], cwd).stdout;
    assert_eq!(a.lines().skip(1).collect::<Vec<_>>(), b.lines().skip(1).collect::<Vec<_>>());
}

#[test]
fn bad_input_is_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    let fixture = repo_root().join("candles/tests/fixtures/bad_high.csv");
    let f = fixture.to_str().expect("utf-8 path");
    let r = bt(&["data", "import", f, "--ticker", "BAD", "--catalog", "cat"], cwd);
    assert!(!r.ok);
    assert_eq!(
        r.stderr,
        format!("error: {f}: row 5, column high: high 100.5 is below max(open, close) 104\n")
    );
    assert!(!cwd.join("cat").exists());

    let ok = repo_root().join("candles/tests/fixtures/ok_ms.csv");
    let r = bt(&["data", "import", ok.to_str().expect("utf-8"), "--ticker", "OK", "--timeframe", "5m"], cwd);
    assert!(!r.ok);
    assert!(r.stderr.ends_with("ok_ms.csv: --timeframe 5m but the bars are 1m apart\n"), "{r:?}");

    let r = bt(&["data", "generate", "--ticker", "../up", "--bars", "10"], cwd);
    assert_eq!(r.stderr, "error: invalid ticker \"../up\": use letters, digits, '-', '_' and '.'\n");
    let r = bt(&["data", "inspect", "NOPE/1h", "--catalog", "cat"], cwd);
    assert_eq!(
        r.stderr,
        "error: no dataset NOPE/1h in catalog cat (nor a lower timeframe to resample from)\n"
    );
    assert_eq!(std::fs::read_dir(cwd).expect("dir").count(), 0);
}

#[test]
fn sort_dedup_is_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = repo_root().join("candles/tests/fixtures/ok_unsorted_dups.csv");
    let r = bt(
        &["data", "import", f.to_str().expect("utf-8"), "--ticker", "D", "--sort-dedup", "--catalog", "c"],
        dir.path(),
    );
    assert!(r.ok, "{r:?}");
    assert!(r.stdout.ends_with("sorted: yes; duplicates removed (last kept): 1\n"), "{r:?}");
}

#[test]
fn import_keeps_a_signal_column_and_inspect_lists_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    let mut csv = String::from("timestamp,open,high,low,close,volume,sig,venue\n");
    for (i, s) in ["1", "0", "-1", "", "1", "-1"].iter().enumerate() {
        let t = 1_704_067_200_000i64 + i as i64 * 3_600_000;
        csv.push_str(&format!("{t},100,102,99,101,10,{s},binance\n"));
    }
    std::fs::write(cwd.join("sig.csv"), csv).expect("write");
    let r = bt(&["data", "import", "sig.csv", "--ticker", "SIG", "--catalog", "cat"], cwd);
    assert_eq!(
        r.stdout,
        "imported 6 rows of SIG 1h (2024-01-01T00:00:00Z .. 2024-01-01T05:00:00Z) -> cat/SIG/1h.parquet\n\
         kept 1 extra column: sig (number)\n\
         note: skipped 1 column (only numbers and booleans are kept): venue (str)\n",
        "{r:?}"
    );
    let r = bt(&["data", "inspect", "SIG/1h", "--catalog", "cat"], cwd);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout.lines().last(), Some("extra      sig (number, 5 values)"), "{r:?}");
    // The file itself: the skipped column too.
    let r = bt(&["data", "inspect", "sig.csv"], cwd);
    let tail: Vec<&str> = r.stdout.lines().rev().take(2).collect();
    assert_eq!(tail, ["skipped    venue (str)", "extra      sig (number, 5 values)"], "{r:?}");
    // Resampled on load: the last bar of each 2h bucket.
    let r = bt(&["data", "inspect", "SIG/2h", "--catalog", "cat"], cwd);
    assert_eq!(r.stdout.lines().last(), Some("extra      sig (number, 2 values)"), "{r:?}");
}

#[test]
fn import_reads_a_published_daily_file_newest_first_with_adj_close() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    std::fs::write(
        cwd.join("yahoo.csv"),
        "Date,Open,High,Low,Close,Volume,Adj. Close\n\
         24-Sep-03,10.4,10.9,10.2,10.8,1500,5.4\n\
         23-Sep-03,10.2,10.6,10.1,10.4,1400,5.2\n\
         22-Sep-03,10.0,10.5,9.9,10.2,1300,5.1\n\
         19-Sep-03,10.1,10.3,9.8,10.0,1200,5.0\n",
    )
    .expect("write");
    let r = bt(&["data", "import", "yahoo.csv", "--ticker", "Y", "--catalog", "cat"], cwd);
    assert_eq!(
        r.stdout,
        "imported 4 rows of Y 1d (2003-09-19T00:00:00Z .. 2003-09-24T00:00:00Z) -> cat/Y/1d.parquet\n\
         sorted: the file was newest first\n\
         warning: 1 gaps, largest 3d between bars\n\
         kept 1 extra column: Adj. Close (number)\n",
        "{r:?}"
    );
    // Another layout through --time-format; an unknown specifier is refused by name.
    std::fs::write(
        cwd.join("dot.csv"),
        "Date,Open,High,Low,Close,Volume\n19.09.2003,1,2,1,1,1\n20.09.2003,1,2,1,1,1\n",
    )
    .expect("write");
    let r = bt(&["data", "import", "dot.csv", "--ticker", "D", "--catalog", "cat"], cwd);
    assert!(!r.ok && r.stderr.contains("dot.csv: row 2, column ts: cannot parse \"19.09.2003\""), "{r:?}");
    let r = bt(
        &["data", "import", "dot.csv", "--ticker", "D", "--time-format", "%d.%m.%Y", "--catalog", "cat"],
        cwd,
    );
    assert!(
        r.ok && r
            .stdout
            .starts_with("imported 2 rows of D 1d (2003-09-19T00:00:00Z .. 2003-09-20T00:00:00Z)"),
        "{r:?}"
    );
    let r = bt(
        &["data", "import", "dot.csv", "--ticker", "D", "--time-format", "%d.%m.%Y %Z", "--catalog", "cat"],
        cwd,
    );
    assert!(!r.ok && r.stderr.contains("unknown specifier %Z"), "{r:?}");
}
