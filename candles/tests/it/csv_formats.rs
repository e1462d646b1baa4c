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
        assert_eq!(c.quality().interval_ms, Some(60_000), "{name}");
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
    assert_eq!((q.gaps, q.largest_gap_ms, q.interval_ms), (2, 180_000, Some(60_000)));
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
