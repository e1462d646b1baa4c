use crate::{bt, repo_root};

#[test]
fn indicators_adds_named_columns_empty_during_warm_up() {
    let dir = tempfile::tempdir().expect("tmp");
    let cat = repo_root().join("data");
    let r = bt(
        &[
            "indicators",
            "ETHUSD/1h",
            "--add",
            "sma:3,macd:2:3:2,bbands:20:2",
            "--out",
            "i.csv",
            "--catalog",
            cat.to_str().expect("utf-8"),
        ],
        dir.path(),
    );
    assert!(r.ok, "{r:?}");
    let csv = std::fs::read_to_string(dir.path().join("i.csv")).expect("csv");
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "ts",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "sma_3",
            "macd_2_3_2",
            "macd_2_3_2_signal",
            "macd_2_3_2_hist",
            "bbands_20_2_upper",
            "bbands_20_2_middle",
            "bbands_20_2_lower"
        ]
    );
    assert_eq!(rows.len(), 721);
    // sma_3 starts on the third bar and equals the mean of three closes.
    assert_eq!((rows[1][6], rows[2][6]), ("", ""));
    let close = |i: usize| rows[i][4].parse::<f64>().expect("close");
    let sma: f64 = rows[3][6].parse().expect("sma");
    assert!((sma - (close(1) + close(2) + close(3)) / 3.0).abs() < 1e-9);
    // MACD 2/3/2 begins at bar index 3 (slow - 1 + signal - 1): the 4th data row.
    assert_eq!(rows[3][7], "");
    assert!(!rows[4][7].is_empty() && !rows[4][8].is_empty());
    assert_eq!(rows[19][10], "");
    assert!(!rows[20][10].is_empty());
}
