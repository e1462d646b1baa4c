//! Calendar months (`1M`), weeks labelled by any weekday, and `irregular`
//! data: detection on load, resampling to months, the catalog, refusals.

use std::path::Path;

use bt_candles::{
    Catalog, Error, GenerateSpec, LoadOptions, MonthLabel, Spacing, TimeRange, Timeframe, generate, load,
    resample, time::days_from_civil,
};

const DAY: i64 = 86_400_000;

fn date(y: i64, m: u32, d: u32) -> i64 {
    days_from_civil(y, m, d) * DAY
}

fn write_csv(dir: &Path, name: &str, dates: &[(i64, u32, u32)]) -> std::path::PathBuf {
    let mut csv = String::from("date,open,high,low,close,volume\n");
    for (k, &(y, m, d)) in dates.iter().enumerate() {
        let p = 100 + k;
        csv.push_str(&format!("{y:04}-{m:02}-{d:02},{p},{},{},{},{}\n", p + 2, p - 1, p + 1, 10 + k));
    }
    let path = dir.join(name);
    std::fs::write(&path, csv).expect("write");
    path
}

#[test]
fn month_end_and_month_start_files_are_calendar_months() {
    let dir = tempfile::tempdir().expect("tmp");
    // Month ends of 2019-11 .. 2020-04, leap February, March missing.
    let ends = [(2019, 11, 30), (2019, 12, 31), (2020, 1, 31), (2020, 2, 29), (2020, 4, 30)];
    let c =
        load(&write_csv(dir.path(), "ends.csv", &ends), &LoadOptions::default()).expect("month ends").candles;
    let q = c.quality();
    assert_eq!(q.spacing, Spacing::Months(MonthLabel::End));
    assert_eq!((q.gaps, q.largest_gap_months, q.largest_gap_ms), (1, 2, 61 * DAY));
    assert_eq!(Timeframe::infer(c.ts()), Some(Timeframe::Month));
    assert_eq!(c.ts()[3], date(2020, 2, 29));
    assert_eq!(c.close(), &[101.0, 102.0, 103.0, 104.0, 105.0]);

    // Month starts, some on the first trading day (2019-06-03 was a Monday).
    let starts = [(2019, 4, 1), (2019, 5, 1), (2019, 6, 3), (2019, 7, 1)];
    let c =
        load(&write_csv(dir.path(), "starts.csv", &starts), &LoadOptions::default()).expect("starts").candles;
    assert_eq!((c.quality().spacing, c.quality().gaps), (Spacing::Months(MonthLabel::Start), 0));
    assert_eq!(Timeframe::infer(c.ts()), Some(Timeframe::Month));
}

#[test]
fn weekly_bars_on_fridays_are_one_week() {
    let dir = tempfile::tempdir().expect("tmp");
    // Fridays 2024-01-05 .. 2024-02-02, 2024-01-26 missing.
    let fridays = [(2024, 1, 5), (2024, 1, 12), (2024, 1, 19), (2024, 2, 2)];
    let c = load(&write_csv(dir.path(), "w.csv", &fridays), &LoadOptions::default()).expect("weeks").candles;
    assert_eq!(c.quality().spacing, Spacing::Fixed(7 * DAY));
    assert_eq!((c.quality().gaps, c.quality().largest_gap_ms), (1, 14 * DAY));
    assert_eq!(Timeframe::infer(c.ts()), Some(Timeframe::W1));
    // Stored as given: the labels stay Fridays.
    assert_eq!(c.ts()[0], date(2024, 1, 5));
}

#[test]
fn days_resample_to_calendar_months_on_load() {
    let dir = tempfile::tempdir().expect("tmp");
    let cat = Catalog::new(dir.path());
    // 2024-01-29 .. 2024-03-01: January 3 days, February 29, March 1 (incomplete).
    let days: Vec<(i64, u32, u32)> =
        (0..33).map(|k| bt_candles::time::civil_from_days(date(2024, 1, 29) / DAY + k)).collect();
    let daily = load(&write_csv(dir.path(), "d.csv", &days), &LoadOptions::default()).expect("days").candles;
    cat.write("D", Timeframe::D1, daily.view()).expect("write");

    let got = cat.load("D", Timeframe::Month, TimeRange::ALL).expect("resample on load");
    assert_eq!(got.resampled_from, Some(Timeframe::D1));
    let m = got.candles;
    assert_eq!(m.ts(), &[date(2024, 1, 1), date(2024, 2, 1)]);
    // Row k: open 100 + k, high 102 + k, low 99 + k, close 101 + k, volume 10 + k.
    assert_eq!(m.open(), &[100.0, 103.0]); // first day of each month
    assert_eq!(m.high(), &[104.0, 133.0]); // max of highs
    assert_eq!(m.low(), &[99.0, 102.0]); // min of lows
    assert_eq!(m.close(), &[103.0, 132.0]); // last day of each month
    assert_eq!(m.volume(), &[10.0 + 11.0 + 12.0, (13..=41).sum::<i32>() as f64]);
    assert_eq!(m.quality().spacing, Spacing::Months(MonthLabel::Start));

    // A range ending inside February still gets the whole month.
    let r = TimeRange::new(Some(date(2024, 2, 1)), Some(date(2024, 2, 20)));
    let got = cat.load("D", Timeframe::Month, r).expect("range");
    assert_eq!(got.candles.ts(), &[date(2024, 2, 1)]);
    assert_eq!((got.candles.open(), got.candles.close()), (&[103.0][..], &[132.0][..]));
    // Weeks are no source for months.
    let w = resample(daily.view(), Timeframe::D1, Timeframe::W1, false).expect("weeks");
    let e = resample(w.view(), Timeframe::W1, Timeframe::Month, false).expect_err("weeks to months");
    assert_eq!(e.to_string(), "cannot resample 1w to 1M: a calendar month is not a whole number of weeks");
}

#[test]
fn irregular_loads_only_when_asked_and_lives_in_the_catalog() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("irr.csv");
    std::fs::write(
        &path,
        "ts,open,high,low,close,volume\n\
         1704067200000,10,11,9,10.5,1\n\
         1704067260000,10.5,11,10,10.8,1\n\
         1704067320000,10.8,11.2,10.6,11,1\n\
         1704067410000,11,11.5,10.9,11.2,1\n\
         1704067411000,11.2,11.4,11.1,11.3,2\n",
    )
    .expect("write");
    // Without asking: refused at the fourth bar (line 5 of the file), 90 s after a 1m step.
    let e = load(&path, &LoadOptions::default()).expect_err("mixed");
    assert!(matches!(e, Error::Invalid { row: 5, column: "ts", .. }), "{e:?}");
    assert!(e.to_string().contains("irr.csv: row 5, column ts: step of 90s"), "{e}");
    assert!(
        e.to_string().ends_with("(mixed intervals; --timeframe irregular takes any increasing times)"),
        "{e}"
    );

    let c = load(&path, &LoadOptions::default().with_irregular(true)).expect("irregular").candles;
    assert_eq!(c.quality().spacing, Spacing::Irregular);
    assert_eq!(c.quality().gaps, 0);
    assert_eq!(c.ts()[4] - c.ts()[3], 1000);

    let cat = Catalog::new(dir.path().join("cat"));
    let stored = cat.write("irr", Timeframe::Irregular, c.view()).expect("write");
    assert!(stored.ends_with("IRR/irregular.parquet"), "{}", stored.display());
    let list = cat.list().expect("list");
    assert_eq!((list[0].timeframe, list[0].rows), (Timeframe::Irregular, 5));
    let got =
        cat.load("IRR", Timeframe::Irregular, TimeRange::new(Some(1_704_067_260_000), None)).expect("load");
    assert_eq!((got.candles.len(), got.resampled_from), (4, None));
    assert_eq!(got.candles.close(), &[10.8, 11.0, 11.2, 11.3]);
    // Nothing is resampled from it on load.
    let e = cat.load("IRR", Timeframe::H1, TimeRange::ALL).expect_err("no source");
    assert!(matches!(e, Error::NotInCatalog { .. }), "{e:?}");
    let e = resample(c.view(), Timeframe::Irregular, Timeframe::H1, false).expect_err("irregular");
    assert_eq!(
        e.to_string(),
        "cannot resample irregular to 1h: irregular bars have no fixed step, and resampling needs one"
    );
}

#[test]
fn generated_months_store_and_list_as_1m() {
    let dir = tempfile::tempdir().expect("tmp");
    let cat = Catalog::new(dir.path());
    let m = generate(&GenerateSpec { bars: 24, timeframe: Timeframe::Month, ..GenerateSpec::default() });
    let path = cat.write("mo", Timeframe::Month, m.view()).expect("write");
    assert!(path.ends_with("MO/1M.parquet"), "{}", path.display());
    let list = cat.list().expect("list");
    assert_eq!(
        (list[0].timeframe, list[0].first_ms, list[0].last_ms),
        (Timeframe::Month, Some(date(2024, 1, 1)), Some(date(2025, 12, 1)))
    );
    let got = cat.load("MO", Timeframe::Month, TimeRange::ALL).expect("load");
    assert_eq!(got.candles, m);
}
