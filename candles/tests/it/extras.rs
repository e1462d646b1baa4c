//! Extra data columns: kept by the loader, stored by the catalog, resampled.

use std::path::{Path, PathBuf};

use bt_candles::{
    Catalog, Error, Extra, ExtraKind, FileFormat, LoadOptions, Loaded, SkipReason, SkippedColumn, TimeRange,
    Timeframe, load, write,
};
use polars::prelude::*;

use crate::JAN1;

const MIN: i64 = 60_000;

/// Five 1m bars with `sig` (1, 0, -1, empty, 1), `flag` (true/false) and a
/// text column `venue`.
const CSV: &str = "timestamp,open,high,low,close,volume,sig,venue,flag\n\
1704067200000,100,102,99,101,10,1,binance,true\n\
1704067260000,101,103,100,102,11,0,binance,false\n\
1704067320000,102,104,101,103,12,-1,kraken,FALSE\n\
1704067380000,103,105,102,104,13,,kraken,True\n\
1704067440000,104,106,103,105,14,1,kraken,true\n";

fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn sig(c: &[f64]) -> Vec<Option<f64>> {
    c.iter().map(|v| (!v.is_nan()).then_some(*v)).collect()
}

fn venue_skipped() -> Vec<SkippedColumn> {
    vec![SkippedColumn { name: "venue".into(), reason: SkipReason::Type("str".into()) }]
}

fn assert_sig_flag(l: &Loaded, what: &str) {
    let v = l.candles.view();
    assert_eq!(v.extra.names().collect::<Vec<_>>(), ["sig", "flag"], "{what}");
    assert_eq!(
        sig(v.extra.get("sig").expect("sig")),
        [Some(1.0), Some(0.0), Some(-1.0), None, Some(1.0)],
        "{what}"
    );
    assert_eq!(v.extra.get("flag"), Some(&[1.0, 0.0, 0.0, 1.0, 1.0][..]), "{what}");
    let kinds: Vec<ExtraKind> = l.candles.extra().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ExtraKind::Number, ExtraKind::Bool], "{what}");
    assert_eq!(l.candles.close(), &[101.0, 102.0, 103.0, 104.0, 105.0], "{what}");
}

#[test]
fn csv_keeps_number_and_bool_columns_and_reports_text_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    // The fast path, and the Polars path (a quoted field sends the file there).
    let fast = file(dir.path(), "fast.csv", CSV);
    let quoted = file(dir.path(), "quoted.csv", &CSV.replace("binance", "\"binance\""));
    for path in [fast, quoted] {
        let l = load(&path, &LoadOptions::default()).expect("load");
        assert_sig_flag(&l, &path.display().to_string());
        assert_eq!(l.skipped_columns, venue_skipped());
    }
}

#[test]
fn csv_columns_skipped_for_their_name_or_content() {
    let dir = tempfile::tempdir().expect("tmp");
    // `vol` is an alias of volume, which `volume` provides; `mixed` holds a
    // number and a boolean; `empty` nothing; the 10th column has no name.
    let text = "ts,open,high,low,close,volume,vol,mixed,empty,\n\
                1704067200000,100,102,99,101,10,0.5,1,,7\n\
                1704067260000,101,103,100,102,11,0.6,true,,8\n";
    let l = load(&file(dir.path(), "s.csv", text), &LoadOptions::default()).expect("load");
    assert!(l.candles.extra().is_empty());
    let skipped: Vec<String> = l.skipped_columns.iter().map(ToString::to_string).collect();
    assert_eq!(
        skipped,
        [
            "vol (an alias of volume, taken from another column)",
            "mixed (str)",
            "empty (null)",
            "column 10 (no name)"
        ]
    );
    // A header-less file has no names, so no extras.
    let l =
        load(&file(dir.path(), "k.csv", "1704067200000,100,102,99,101,10,5,6\n"), &LoadOptions::default())
            .expect("load");
    assert_eq!((l.candles.extra().len(), l.skipped_columns.len()), (0, 0));
}

#[test]
fn duplicate_extra_names_are_an_error_naming_file_and_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let path =
        file(dir.path(), "d.csv", "ts,open,high,low,close,volume,sig,sig\n1704067200000,1,1,1,1,1,2,3\n");
    let e = load(&path, &LoadOptions::default()).expect_err("duplicate");
    assert!(matches!(&e, Error::DuplicateColumn { column, .. } if column == "sig"), "{e:?}");
    assert_eq!(e.to_string(), format!("{}: two columns are named \"sig\"", path.display()));
}

/// The CSV's rows as a Polars frame: Int64 `sig` with a null, Boolean
/// `flag`, String `venue`, Datetime `ts`.
fn frame() -> DataFrame {
    let ts: Vec<i64> = (0..5).map(|i| JAN1 + i * MIN).collect();
    let ts = Column::new("ts".into(), ts)
        .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
        .expect("datetime");
    let p = |d: f64| Column::new("x".into(), (0..5).map(|i| 100.0 + i as f64 + d).collect::<Vec<_>>());
    DataFrame::new(
        5,
        vec![
            ts,
            p(0.0).with_name("open".into()),
            p(2.0).with_name("high".into()),
            p(-1.0).with_name("low".into()),
            p(1.0).with_name("close".into()),
            Column::new("volume".into(), [10.0, 11.0, 12.0, 13.0, 14.0]),
            Column::new("sig".into(), [Some(1i64), Some(0), Some(-1), None, Some(1)]),
            Column::new("venue".into(), ["binance", "binance", "kraken", "kraken", "kraken"]),
            Column::new("flag".into(), [true, false, false, true, true]),
        ],
    )
    .expect("frame")
}

#[test]
fn parquet_and_ipc_keep_number_and_bool_columns() {
    let dir = tempfile::tempdir().expect("tmp");
    let pq = dir.path().join("x.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).expect("create")).finish(&mut frame()).expect("parquet");
    let ipc = dir.path().join("x.arrow");
    IpcWriter::new(std::fs::File::create(&ipc).expect("create")).finish(&mut frame()).expect("ipc");
    for path in [pq, ipc] {
        let l = load(&path, &LoadOptions::default()).expect("load");
        assert_sig_flag(&l, &path.display().to_string());
        assert_eq!(l.skipped_columns, venue_skipped());
    }
}

#[test]
fn range_pushdown_and_sort_dedup_keep_extras_aligned() {
    let dir = tempfile::tempdir().expect("tmp");
    let range = TimeRange::new(Some(JAN1 + MIN), Some(JAN1 + 4 * MIN));
    let csv = file(dir.path(), "r.csv", CSV);
    let quoted = file(dir.path(), "q.csv", &CSV.replace("binance", "\"binance\""));
    let pq = dir.path().join("r.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).expect("create")).finish(&mut frame()).expect("parquet");
    for path in [csv, quoted, pq] {
        let c = load(&path, &LoadOptions::default().with_range(range)).expect("load").candles;
        assert_eq!(c.ts(), &[JAN1 + MIN, JAN1 + 2 * MIN, JAN1 + 3 * MIN], "{}", path.display());
        assert_eq!(sig(&c.extra()[0].values), [Some(0.0), Some(-1.0), None], "{}", path.display());
        assert_eq!(c.extra()[1].values, [0.0, 0.0, 1.0], "{}", path.display());
    }
    // Rows out of order with a duplicate: the last of the duplicates wins,
    // its extras with it.
    let text = "ts,open,high,low,close,volume,sig\n\
                1704067320000,102,104,101,103,12,3\n\
                1704067200000,100,102,99,101,10,1\n\
                1704067260000,101,103,100,102,11,2\n\
                1704067200000,100,102,99,101,10,9\n";
    let l =
        load(&file(dir.path(), "u.csv", text), &LoadOptions::default().with_sort_dedup(true)).expect("load");
    assert_eq!(l.candles.ts(), &[JAN1, JAN1 + MIN, JAN1 + 2 * MIN]);
    assert_eq!(l.candles.view().extra.get("sig"), Some(&[9.0, 2.0, 3.0][..]));
    assert_eq!((l.duplicates_removed, l.reordered), (1, true));
}

#[test]
fn catalog_round_trip_columns_and_resample_on_load() {
    let dir = tempfile::tempdir().expect("tmp");
    let cat = Catalog::new(dir.path().join("cat"));
    let l = load(&file(dir.path(), "s.csv", CSV), &LoadOptions::default()).expect("load");
    cat.write("sig", Timeframe::M1, l.candles.view()).expect("write");
    let back = cat.load("SIG", Timeframe::M1, TimeRange::ALL).expect("load").candles;
    assert_eq!(back, l.candles);
    assert_eq!(back.extra()[1], Extra::new("flag", ExtraKind::Bool, vec![1.0, 0.0, 0.0, 1.0, 1.0]));
    // Stored as Float64 and Boolean after the six candle columns.
    let df = bt_candles::to_dataframe(back.view()).expect("frame");
    let schema: Vec<String> = df.columns().iter().map(|c| format!("{}: {}", c.name(), c.dtype())).collect();
    assert_eq!(schema[6..], ["sig: f64", "flag: bool"]);
    assert_eq!(df.column("sig").expect("sig").null_count(), 1);

    assert_eq!(cat.columns("SIG", Timeframe::M1).expect("columns"), ["sig", "flag"]);
    // 5m is resampled from 1m: its columns are 1m's, and the bucket holds the last bar's values.
    assert_eq!(cat.columns("sig", Timeframe::M5).expect("columns"), ["sig", "flag"]);
    let r = cat.load("SIG", Timeframe::M5, TimeRange::ALL).expect("resampled").candles;
    assert_eq!((r.ts(), r.view().extra.get("sig")), (&[JAN1][..], Some(&[1.0][..])));
    assert!(matches!(cat.columns("NOPE", Timeframe::M1), Err(Error::NotInCatalog { .. })));

    // Without extras: no columns.
    let plain = load(&crate::fixture("ok_ms.csv"), &LoadOptions::default()).expect("load").candles;
    cat.write("PLAIN", Timeframe::M1, plain.view()).expect("write");
    assert_eq!(cat.columns("PLAIN", Timeframe::M1).expect("columns"), Vec::<String>::new());
}

#[test]
fn csv_and_ipc_writes_round_trip_extras() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = load(&file(dir.path(), "s.csv", CSV), &LoadOptions::default()).expect("load").candles;
    for (name, format) in
        [("w.csv", FileFormat::Csv), ("w.arrow", FileFormat::Ipc), ("w.parquet", FileFormat::Parquet)]
    {
        let path = dir.path().join(name);
        write(c.view(), &path, format).expect("write");
        assert_eq!(load(&path, &LoadOptions::default()).expect("load").candles, c, "{name}");
    }
    let text = std::fs::read_to_string(dir.path().join("w.csv")).expect("csv");
    assert_eq!(
        text.lines().take(5).collect::<Vec<_>>()[..],
        [
            "ts,open,high,low,close,volume,sig,flag",
            "1704067200000,100,102,99,101,10,1,true",
            "1704067260000,101,103,100,102,11,0,false",
            "1704067320000,102,104,101,103,12,-1,false",
            "1704067380000,103,105,102,104,13,,true",
        ]
    );
}
