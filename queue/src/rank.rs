//! Ranked results, paged by keyset: a [`Ranking`] (a metric column and a
//! direction) orders a bundle's results by (value, variant), NaN last either
//! way; a page starts after the [`RankKey`] of the previous page's last row,
//! so no page costs more than its own rows (no OFFSET).
//!
//! The order is expressed as one ascending key: the column for ascending,
//! its negation for descending. PostgreSQL ranks NaN above every number and
//! `-NaN` is NaN, so NaN stays last in both directions; ties go by variant.

use bt_metrics::{MetricName, Value};

use crate::types::{ResultRow, StoreError};

/// An order of a bundle's results: `variant` or a metric column (one of
/// [`MetricName::ALL`], the sort whitelist) and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranking {
    /// `None` for `variant`.
    metric: Option<MetricName>,
    descending: bool,
}

/// A sort column's value in a [`RankKey`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum RankValue {
    Float(f64),
    Int(i64),
}

/// A position in a [`Ranking`]: the sort value and variant of a row; the
/// next page starts after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankKey {
    value: RankValue,
    variant: i64,
}

/// A cursor that is not one [`Ranking::cursor`] made for this ranking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadCursor(String);

impl Ranking {
    /// `sort` must be `variant` or a [`MetricName`] (never user text in SQL).
    pub fn new(sort: &str, descending: bool) -> Result<Self, StoreError> {
        let metric = match sort {
            "variant" => None,
            _ => Some(sort.parse::<MetricName>().map_err(|_| StoreError::BadSort(sort.to_owned()))?),
        };
        Ok(Self { metric, descending })
    }

    /// Every column results can be ranked by: `variant`, then the metrics.
    pub fn columns() -> impl Iterator<Item = &'static str> {
        std::iter::once("variant").chain(MetricName::ALL.iter().map(|m| m.as_str()))
    }

    pub fn column(&self) -> &'static str {
        self.metric.map_or("variant", MetricName::as_str)
    }

    pub fn descending(&self) -> bool {
        self.descending
    }

    fn integer(&self) -> bool {
        self.metric.is_none_or(MetricName::is_integer)
    }

    /// The SQL expression ranked ascending (a column name from the fixed list).
    pub(crate) fn key_sql(&self) -> String {
        if self.descending { format!("(-{})", self.column()) } else { self.column().to_owned() }
    }

    /// The key of `row` in this ranking.
    pub fn key(&self, row: &ResultRow) -> RankKey {
        let value = match self.metric.map(|m| row.metrics.value(m)) {
            None => RankValue::Int(row.variant),
            Some(Value::Int(i)) => RankValue::Int(i),
            Some(Value::Float(x)) => RankValue::Float(x),
        };
        RankKey { value, variant: row.variant }
    }

    /// An opaque, URL-safe token for the page after `key`:
    /// `column.a|d.value.variant`, a float value as the hex of its bits
    /// (exact, NaN and infinities included).
    pub fn cursor(&self, key: &RankKey) -> String {
        let value = match key.value {
            RankValue::Float(x) => format!("f{:016x}", x.to_bits()),
            RankValue::Int(i) => format!("i{i}"),
        };
        format!("{}.{}.{value}.{}", self.column(), if self.descending { "d" } else { "a" }, key.variant)
    }

    /// The key a [`Ranking::cursor`] token of this ranking holds.
    pub fn after(&self, token: &str) -> Result<RankKey, BadCursor> {
        let bad = || BadCursor(format!("{token:?} is not a cursor this endpoint returned"));
        let parts: Vec<&str> = token.split('.').collect();
        let [column, direction, value, variant] = parts[..] else {
            return Err(bad());
        };
        let direction_ok = direction == if self.descending { "d" } else { "a" };
        if column != self.column() || !direction_ok {
            return Err(BadCursor(format!(
                "this cursor continues another order; use it with the sort and order it came with (this request ranks by {} {})",
                self.column(),
                if self.descending { "desc" } else { "asc" }
            )));
        }
        let value = match (value.split_at_checked(1), self.integer()) {
            (Some(("f", hex)), false) if hex.len() == 16 => {
                RankValue::Float(f64::from_bits(u64::from_str_radix(hex, 16).map_err(|_| bad())?))
            }
            (Some(("i", int)), true) => RankValue::Int(int.parse().map_err(|_| bad())?),
            _ => return Err(bad()),
        };
        Ok(RankKey { value, variant: variant.parse().map_err(|_| bad())? })
    }

    /// The SQL parameters ($2, $3) of the page after `after` (the first page
    /// when `None`): the key in the ascending key space and the variant.
    pub(crate) fn bounds(&self, after: Option<&RankKey>) -> (Bound, i64) {
        let Some(k) = after else {
            // Below every key: the smallest value, and variants are >= 0.
            let v = if self.integer() { Bound::Int(i64::MIN) } else { Bound::Float(f64::NEG_INFINITY) };
            return (v, -1);
        };
        let v = match (k.value, self.descending) {
            (RankValue::Float(x), false) => Bound::Float(x),
            (RankValue::Float(x), true) => Bound::Float(-x),
            (RankValue::Int(i), false) => Bound::Int(i),
            (RankValue::Int(i), true) => Bound::Int(i.saturating_neg()),
        };
        (v, k.variant)
    }
}

/// A key bound as SQL binds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Bound {
    Float(f64),
    Int(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(variant: i64, sharpe: f64, trades: i64) -> ResultRow {
        let mut metrics = bt_metrics::Metrics::zero();
        metrics.sharpe = sharpe;
        metrics.trades = trades as u64;
        ResultRow { variant, metrics }
    }

    #[test]
    fn every_sort_column_has_a_key_of_its_type() {
        assert_eq!(Ranking::columns().count(), 1 + MetricName::ALL.len());
        assert!(Ranking::new("sharp", true).is_err());
        for c in Ranking::columns() {
            for desc in [false, true] {
                let r = Ranking::new(c, desc).expect("column");
                let k = r.key(&row(7, 1.5, 3));
                assert_eq!(matches!(k.value, RankValue::Int(_)), r.integer(), "{c}");
                assert_eq!(r.after(&r.cursor(&k)), Ok(k), "{c} round trip");
            }
        }
    }

    #[test]
    fn cursors_round_trip_exactly_and_refuse_other_orders() {
        let r = Ranking::new("sharpe", true).expect("sharpe");
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.1 + 0.2, f64::MIN_POSITIVE] {
            let k = r.key(&row(42, x, 0));
            let t = r.cursor(&k);
            assert!(
                t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'),
                "{t}"
            );
            let back = r.after(&t).expect("cursor");
            assert_eq!(back.variant, 42);
            let RankValue::Float(y) = back.value else { panic!("float") };
            assert_eq!(y.to_bits(), x.to_bits());
        }
        assert_eq!(r.cursor(&r.key(&row(3, 1.0, 0))), "sharpe.d.f3ff0000000000000.3");
        let asc = Ranking::new("sharpe", false).expect("sharpe");
        let other = Ranking::new("trades", true).expect("trades");
        let t = r.cursor(&r.key(&row(1, 1.0, 0)));
        assert!(asc.after(&t).expect_err("order").0.contains("ranks by sharpe asc"));
        assert!(other.after(&t).is_err());
        for bad in [
            "",
            "x",
            "sharpe.d.f3ff0.3",
            "sharpe.d.i3.3",
            "sharpe.d.f3ff0000000000000.x",
            "sharpe.d.f3ff0000000000000.3.4",
        ] {
            assert!(r.after(bad).is_err(), "{bad:?}");
        }
        assert!(other.after("trades.d.f3ff0000000000000.1").is_err(), "a float for an integer column");
    }

    #[test]
    fn bounds_negate_for_descending_and_start_below_every_key() {
        let d = Ranking::new("sharpe", true).expect("sharpe");
        assert_eq!(d.bounds(None), (Bound::Float(f64::NEG_INFINITY), -1));
        assert_eq!(d.bounds(Some(&d.key(&row(5, 2.0, 0)))), (Bound::Float(-2.0), 5));
        let t = Ranking::new("trades", true).expect("trades");
        assert_eq!(t.bounds(None), (Bound::Int(i64::MIN), -1));
        assert_eq!(t.bounds(Some(&t.key(&row(5, 0.0, 9)))), (Bound::Int(-9), 5));
        assert_eq!(Ranking::new("trades", false).expect("t").key_sql(), "trades");
        assert_eq!(t.key_sql(), "(-trades)");
    }
}
