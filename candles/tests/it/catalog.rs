use bt_candles::{Catalog, Error, GenerateSpec, TimeRange, Timeframe, generate, resample};

use crate::JAN1;

#[test]
fn list_load_and_resample_on_load() {
    let dir = tempfile::tempdir().expect("tmp");
    let cat = Catalog::new(dir.path());
    assert_eq!(cat.list().expect("empty"), vec![]);
    let m1 = generate(&GenerateSpec { bars: 3 * 1440, seed: 5, ..GenerateSpec::default() });
    cat.write("btcusd", Timeframe::M1, m1.view()).expect("write");
    let h1 = resample(m1.view(), Timeframe::M1, Timeframe::H1, false).expect("resample");
    cat.write("ETH-USD", Timeframe::H1, h1.view()).expect("write");
    std::fs::write(dir.path().join("BTCUSD/notes.txt"), "ignored").expect("write");

    let list = cat.list().expect("list");
    type Row = (String, Timeframe, usize, Option<i64>, Option<i64>);
    let rows: Vec<Row> =
        list.iter().map(|d| (d.ticker.clone(), d.timeframe, d.rows, d.first_ms, d.last_ms)).collect();
    assert_eq!(
        rows,
        vec![
            ("BTCUSD".into(), Timeframe::M1, 4320, Some(JAN1), Some(JAN1 + 4319 * 60_000)),
            ("ETH-USD".into(), Timeframe::H1, 72, Some(JAN1), Some(JAN1 + 71 * 3_600_000)),
        ]
    );

    let got = cat.load("BTCUSD", Timeframe::M1, TimeRange::ALL).expect("load");
    assert_eq!((got.candles, got.resampled_from), (m1.clone(), None));

    // 4h is not stored: resampled from 1m, the only stored timeframe of BTCUSD.
    let r = TimeRange::new(Some(JAN1 + 5 * 3_600_000), Some(JAN1 + 13 * 3_600_000));
    let got = cat.load("btcusd", Timeframe::H4, r).expect("resample on load");
    assert_eq!(got.resampled_from, Some(Timeframe::M1));
    let want = resample(m1.view(), Timeframe::M1, Timeframe::H4, false).expect("resample");
    // Buckets 08:00 and 12:00 open inside the range; 04:00 opens before it.
    assert_eq!(got.candles.ts(), &[JAN1 + 8 * 3_600_000, JAN1 + 12 * 3_600_000]);
    assert_eq!(got.candles.close(), &want.close()[2..4]);
    assert_eq!(got.candles.volume(), &want.volume()[2..4]);

    let e = cat.load("ETH-USD", Timeframe::M5, TimeRange::ALL).expect_err("absent");
    assert!(matches!(e, Error::NotInCatalog { .. }));
    assert!(e.to_string().starts_with("no dataset ETH-USD/5m in catalog"), "{e}");
    assert!(matches!(cat.path("../etc", Timeframe::M1), Err(Error::BadTicker(_))));
}
