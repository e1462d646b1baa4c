use bt_candles::{LoadOptions, TimeRange, load};

use crate::{JAN1, fixture};

fn load_ok(name: &str) -> bt_candles::Candles {
    match load(&fixture(name), &LoadOptions::default()) {
        Ok(l) => l.candles,
        Err(e) => panic!("{name}: {e}"),
    }
}

fn minutes(n: i64) -> Vec<i64> {
    (0..n).map(|i| JAN1 + i * 60_000).collect()
}

#[test]
fn every_supported_csv_layout_loads_the_same_bars() {
    for name in [
        "ok_ms.csv",
        "ok_aliases_seconds.csv",
        "ok_iso.csv",
        "ok_pandas.csv",
        "ok_micros_semicolon.csv",
        "ok_kline.csv",
    ] {
        let c = load_ok(name);
        assert_eq!(c.ts(), minutes(5).as_slice(), "{name}");
        assert_eq!(c.open(), &[100.0, 101.0, 102.0, 103.0, 104.0], "{name}");
        assert_eq!(c.high(), &[102.0, 103.0, 104.0, 105.0, 106.0], "{name}");
        assert_eq!(c.low(), &[99.0, 100.0, 101.0, 102.0, 103.0], "{name}");
        assert_eq!(c.close(), &[101.0, 102.0, 103.0, 104.0, 105.0], "{name}");
        let vol: &[f64] = if name == "ok_kline.csv" {
            &[10.5, 11.5, 12.5, 13.5, 14.5]
        } else {
            &[10.0, 11.0, 12.0, 13.0, 14.0]
        };
        assert_eq!(c.volume(), vol, "{name}");
        assert_eq!(c.quality().interval_ms(), Some(60_000), "{name}");
    }
}

#[test]
fn plain_dates_are_daily_bars_at_midnight_utc() {
    let c = load_ok("ok_dates.csv");
    let days: Vec<i64> = (0..5).map(|i| JAN1 + i * 86_400_000).collect();
    assert_eq!(c.ts(), days.as_slice());
    assert_eq!(bt_candles::Timeframe::infer(c.ts()), Some(bt_candles::Timeframe::D1));
}

#[test]
fn gaps_are_reported_not_errors() {
    // Rows 3, 5 and 6 of 8 minutes are missing: two gaps, the largest 3 minutes.
    let c = load_ok("ok_gaps.csv");
    assert_eq!(c.len(), 5);
    let q = c.quality();
    assert_eq!((q.gaps, q.largest_gap_ms, q.interval_ms()), (2, 180_000, Some(60_000)));
}

#[test]
fn sort_dedup_sorts_and_keeps_the_last_duplicate() {
    let l =
        load(&fixture("ok_unsorted_dups.csv"), &LoadOptions::default().with_sort_dedup(true)).expect("load");
    assert_eq!(l.candles.ts(), minutes(4).as_slice());
    assert_eq!(l.candles.open(), &[100.0, 101.0, 200.0, 103.0]);
    assert_eq!((l.duplicates_removed, l.reordered), (1, true));
    // Without the option the same file is an error at its first bad row.
    let e = load(&fixture("ok_unsorted_dups.csv"), &LoadOptions::default()).expect_err("unsorted");
    assert!(e.to_string().contains("row 3, column ts: timestamp 2024-01-01T00:00:00Z is earlier"), "{e}");
}

#[test]
fn time_range_filters_csv_text_and_number_times() {
    let range = TimeRange::new(Some(JAN1 + 60_000), Some(JAN1 + 240_000));
    for name in ["ok_ms.csv", "ok_iso.csv", "ok_aliases_seconds.csv"] {
        let c = load(&fixture(name), &LoadOptions::default().with_range(range)).expect("load").candles;
        assert_eq!(c.ts(), &minutes(4)[1..], "{name}");
        assert_eq!(c.open(), &[101.0, 102.0, 103.0], "{name}");
    }
}

#[test]
fn time_range_keeps_file_row_numbers_in_errors() {
    // bad_volume.csv: line 6 has volume -3; a range starting at line 4 still says line 6.
    let range = TimeRange::new(Some(JAN1 + 120_000), None);
    let e = load(&fixture("bad_volume.csv"), &LoadOptions::default().with_range(range)).expect_err("bad");
    assert!(e.to_string().ends_with("row 6, column volume: volume -3 is negative"), "{e}");
}

#[test]
fn regression_float_epochs_next_to_a_range_bound_are_kept() {
    // 1704067199.9996 s rounds to 2024-01-01T00:00:00.000Z, inside [JAN1, ..).
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("f.csv");
    std::fs::write(
        &path,
        "time,open,high,low,close,volume\n1704067139.9996,1,2,1,1,1\n1704067199.9996,1,2,1,1,1\n1704067259.9996,1,2,1,1,1\n",
    )
    .expect("write");
    let range = TimeRange::new(Some(JAN1), Some(JAN1 + 60_000));
    let c = load(&path, &LoadOptions::default().with_range(range)).expect("load").candles;
    assert_eq!(c.ts(), &[JAN1]);
}

/// Days since 1970 of 2003-09-19, in ms.
const SEP19_2003: i64 = 12_314 * 86_400_000;
const DAY: i64 = 86_400_000;

fn write_tmp(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn newest_first_files_are_reversed_and_adj_close_is_kept() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = std::fs::read_to_string(fixture("ok_newest_first_dmy.csv")).expect("read");
    // The same file through the fast path and (quoted, so declined there) through Polars.
    let quoted = text.replace("24-Sep-03", "\"24-Sep-03\"");
    for path in [fixture("ok_newest_first_dmy.csv"), write_tmp(&dir, "q.csv", &quoted)] {
        let l = load(&path, &LoadOptions::default()).expect("load");
        assert!(l.newest_first && !l.reordered, "{path:?}");
        let c = &l.candles;
        assert_eq!(c.ts(), &[SEP19_2003, SEP19_2003 + 3 * DAY, SEP19_2003 + 4 * DAY, SEP19_2003 + 5 * DAY]);
        assert_eq!(c.close(), &[10.0, 10.2, 10.4, 10.8]);
        assert_eq!(c.extra().len(), 1);
        assert_eq!(
            (c.extra()[0].name.as_str(), c.extra()[0].values.as_slice()),
            ("Adj. Close", &[5.0, 5.1, 5.2, 5.4][..])
        );
        assert!(l.skipped_columns.is_empty());
    }
}

#[test]
fn newest_first_with_a_duplicate_names_its_file_row() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = write_tmp(
        &dir,
        "d.csv",
        "Date,Open,High,Low,Close,Volume\n23-Sep-03,1,2,1,1,1\n22-Sep-03,1,2,1,1,1\n22-Sep-03,1,2,1,1,1\n19-Sep-03,1,2,1,1,1\n",
    );
    let e = load(&path, &LoadOptions::default()).expect_err("duplicate");
    // Reversed, the second of the equal rows is file row 3.
    assert!(e.to_string().contains("d.csv: row 3, column ts: duplicate timestamp 2003-09-22"), "{e}");
    // Disorder other than newest first is still refused.
    let path = write_tmp(
        &dir,
        "u.csv",
        "Date,Open,High,Low,Close,Volume\n22-Sep-03,1,2,1,1,1\n23-Sep-03,1,2,1,1,1\n19-Sep-03,1,2,1,1,1\n",
    );
    let e = load(&path, &LoadOptions::default()).expect_err("unsorted");
    assert!(e.to_string().contains("u.csv: row 4, column ts: timestamp 2003-09-19"), "{e}");
}

#[test]
fn month_day_year_and_yyyymmdd_dates_load() {
    let dir = tempfile::tempdir().expect("tmp");
    let mdy = write_tmp(
        &dir,
        "m.csv",
        "Date,Open,High,Low,Close,Volume\n09/19/2003,1,2,1,1,1\n9/22/2003,1,2,1,1,1\n",
    );
    let ymd =
        write_tmp(&dir, "y.csv", "date,open,high,low,close,volume\n20030919,1,2,1,1,1\n20030922,1,2,1,1,1\n");
    for path in [mdy, ymd] {
        let c = load(&path, &LoadOptions::default()).expect("load").candles;
        assert_eq!(c.ts(), &[SEP19_2003, SEP19_2003 + 3 * DAY], "{path:?}");
    }
    // A later integer that is no date is refused at its row, on either path.
    let bad = "date,open,high,low,close,volume\n20030919,1,2,1,1,1\n20030931,1,2,1,1,1\n";
    for (name, text) in
        [("b.csv", bad.to_owned()), ("bq.csv", bad.replace(",1,2,1,1,1\n2003", ",\"1\",2,1,1,1\n2003"))]
    {
        let e = load(&write_tmp(&dir, name, &text), &LoadOptions::default()).expect_err("not a date");
        assert!(
            e.to_string()
                .contains(&format!("{name}: row 3, column ts: cannot parse \"20030931\" as a date YYYYMMDD")),
            "{e}"
        );
    }
    // Epoch seconds stay epoch seconds.
    let secs = write_tmp(
        &dir,
        "s.csv",
        "time,open,high,low,close,volume\n1063929600,1,2,1,1,1\n1064188800,1,2,1,1,1\n",
    );
    let c = load(&secs, &LoadOptions::default()).expect("load").candles;
    assert_eq!(c.ts(), &[SEP19_2003, SEP19_2003 + 3 * DAY]);
}

#[test]
fn a_time_format_reads_other_layouts_and_names_the_row_it_cannot_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = "Date,Open,High,Low,Close,Volume\n19.09.2003 09:30,1,2,1,1,1\n19.09.2003 09:31,1,2,1,1,1\n";
    let path = write_tmp(&dir, "dot.csv", text);
    let e = load(&path, &LoadOptions::default()).expect_err("unknown layout");
    assert!(
        e.to_string().contains("dot.csv: row 2, column ts: cannot parse \"19.09.2003 09:30\" as a timestamp"),
        "{e}"
    );
    let pattern = "%d.%m.%Y %H:%M".parse::<bt_candles::time::TimePattern>().expect("pattern");
    let opts = LoadOptions::default().with_time_format(Some(pattern));
    let quoted = write_tmp(&dir, "dotq.csv", &text.replace(",1,2,1,1,1\n19", ",\"1\",2,1,1,1\n19"));
    for p in [&path, &quoted] {
        let c = load(p, &opts).expect("load").candles;
        assert_eq!(c.ts(), &[SEP19_2003 + 570 * 60_000, SEP19_2003 + 571 * 60_000], "{p:?}");
    }
    // An integer column read through a format.
    let ymd =
        write_tmp(&dir, "y.csv", "date,open,high,low,close,volume\n20030919,1,2,1,1,1\n20030922,1,2,1,1,1\n");
    let opts_ymd = LoadOptions::default().with_time_format(Some("%Y%m%d".parse().expect("pattern")));
    assert_eq!(load(&ymd, &opts_ymd).expect("load").candles.ts(), &[SEP19_2003, SEP19_2003 + 3 * DAY]);
    let bad = write_tmp(&dir, "bad.csv", &text.replace("19.09.2003 09:31", "2003-09-19 09:31"));
    let e = load(&bad, &opts).expect_err("mismatch");
    assert!(
        e.to_string().contains("bad.csv: row 3, column ts: cannot parse \"2003-09-19 09:31\" as a time in the form %d.%m.%Y %H:%M"),
        "{e}"
    );
}
