use bt_candles::{FileFormat, GenerateSpec, LoadOptions, TimeRange, Timeframe, generate, load, write};

use crate::JAN1;

#[test]
fn generate_parquet_csv_ipc_load_identically() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = generate(&GenerateSpec { bars: 20_000, seed: 7, ..GenerateSpec::default() });
    for (name, format) in
        [("a.parquet", FileFormat::Parquet), ("a.csv", FileFormat::Csv), ("a.arrow", FileFormat::Ipc)]
    {
        let path = dir.path().join(name);
        write(c.view(), &path, format).expect("write");
        let back = load(&path, &LoadOptions::default()).expect("load").candles;
        assert_eq!(back, c, "{name}");
    }
    // No temporary files are left behind.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.arrow", "a.csv", "a.parquet"]);
}

#[test]
fn range_pushdown_matches_view_of_full_load() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = generate(&GenerateSpec { bars: 10_000, seed: 3, ..GenerateSpec::default() });
    let range = TimeRange::new(Some(JAN1 + 1234 * 60_000 + 1), Some(JAN1 + 5678 * 60_000));
    let want = c.range(range).to_columns();
    assert_eq!(want.ts.first(), Some(&(JAN1 + 1235 * 60_000)));
    for (name, format) in
        [("r.parquet", FileFormat::Parquet), ("r.arrow", FileFormat::Ipc), ("r.csv", FileFormat::Csv)]
    {
        let path = dir.path().join(name);
        write(c.view(), &path, format).expect("write");
        let got = load(&path, &LoadOptions::default().with_range(range)).expect("load").candles;
        assert_eq!(got.into_columns(), want, "{name}");
    }
}

#[test]
fn generated_files_are_byte_for_byte_reproducible() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = GenerateSpec { bars: 3_000, seed: 11, timeframe: Timeframe::M5, ..GenerateSpec::default() };
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    write(generate(&spec).view(), &a, FileFormat::Parquet).expect("write");
    write(generate(&spec).view(), &b, FileFormat::Parquet).expect("write");
    assert_eq!(std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"));
}

#[test]
fn parquet_time_is_a_datetime_column_for_polars_and_pandas() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = generate(&GenerateSpec { bars: 10, ..GenerateSpec::default() });
    let df = bt_candles::to_dataframe(c.view()).expect("frame");
    assert_eq!(
        df.get_column_names().iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        ["ts", "open", "high", "low", "close", "volume"]
    );
    assert_eq!(df.column("ts").expect("ts").dtype().to_string(), "datetime[ms]");
    write(c.view(), &dir.path().join("x.parquet"), FileFormat::Parquet).expect("write");
}
