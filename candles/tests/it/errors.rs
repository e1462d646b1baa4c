//! One bad file per rule; each message names the file, the row (line in the
//! file, header = line 1) and the column.

use bt_candles::{Error, LoadOptions, Problem, load};

use crate::fixture;

fn message(name: &str) -> String {
    let path = fixture(name);
    let e = load(&path, &LoadOptions::default()).expect_err(name);
    let text = e.to_string();
    let prefix = format!("{}: ", path.display());
    assert!(text.starts_with(&prefix), "{text}");
    text[prefix.len()..].to_owned()
}

#[test]
fn missing_column() {
    assert_eq!(
        message("bad_missing_column.csv"),
        r#"missing column volume (columns found: "ts", "open", "high", "low", "close")"#
    );
}

#[test]
fn unparsable_value() {
    assert_eq!(message("bad_unparsable.csv"), r#"row 4, column close: cannot parse "abc" as a number"#);
}

#[test]
fn unparsable_timestamp() {
    assert_eq!(
        message("bad_timestamp.csv"),
        r#"row 4, column ts: cannot parse "2024-13-01T00:00:00Z" as a timestamp"#
    );
}

#[test]
fn missing_value() {
    assert_eq!(message("bad_missing_value.csv"), "row 5, column high: missing value");
}

#[test]
fn non_finite_price() {
    assert_eq!(message("bad_nonfinite.csv"), "row 3, column open: value NaN is not finite");
}

#[test]
fn non_positive_price() {
    assert_eq!(message("bad_nonpositive.csv"), "row 4, column low: price -1 is not positive");
}

#[test]
fn high_below_body() {
    assert_eq!(message("bad_high.csv"), "row 5, column high: high 100.5 is below max(open, close) 104");
}

#[test]
fn low_above_body() {
    assert_eq!(message("bad_low.csv"), "row 3, column low: low 101.5 is above min(open, close) 101");
}

#[test]
fn negative_volume() {
    assert_eq!(message("bad_volume.csv"), "row 6, column volume: volume -3 is negative");
}

#[test]
fn unsorted() {
    assert_eq!(
        message("bad_unsorted.csv"),
        "row 5, column ts: timestamp 2024-01-01T00:02:00Z is earlier than the previous row's 2024-01-01T00:03:00Z (unsorted; --sort-dedup sorts)"
    );
}

#[test]
fn duplicate() {
    assert_eq!(
        message("bad_duplicate.csv"),
        "row 5, column ts: duplicate timestamp 2024-01-01T00:02:00Z (--sort-dedup keeps the last)"
    );
}

#[test]
fn mixed_intervals() {
    assert_eq!(
        message("bad_mixed.csv"),
        "row 5, column ts: step of 30s from the previous bar is not a multiple of the dataset's 1m step (mixed intervals; \
         --timeframe irregular takes any increasing times)"
    );
}

#[test]
fn errors_are_matchable() {
    let e = load(&fixture("bad_volume.csv"), &LoadOptions::default()).expect_err("bad");
    assert!(
        matches!(e, Error::Invalid { row: 6, column: "volume", problem: Problem::NegativeVolume(v), .. } if v == -3.0)
    );
    let e = load(&fixture("nope.csv"), &LoadOptions::default()).expect_err("missing");
    assert!(matches!(e, Error::Io { .. }), "{e}");
    let e = load(&fixture("x.json"), &LoadOptions::default()).expect_err("format");
    assert!(matches!(e, Error::UnknownFormat { .. }), "{e}");
}
