//! Engine metrics to and from the store's result rows. Both sides share
//! `bt_metrics::Metrics` (declared once), so a row is a variant number and
//! the metrics themselves.

use bt_engine::metrics::Metrics;
use bt_queue::ResultRow;

/// Variant `variant`'s metrics as a result row.
pub fn to_row(variant: u64, m: &Metrics) -> ResultRow {
    ResultRow { variant: variant as i64, metrics: *m }
}

/// A result row back as (variant, metrics).
pub fn from_row(r: &ResultRow) -> (u64, Metrics) {
    (r.variant as u64, r.metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_carry_the_variant_and_every_metric() {
        let mut m = Metrics::zero();
        m.sharpe = 1.5;
        m.trades = 14;
        m.kelly = f64::INFINITY;
        m.open_position = true;
        let row = to_row(99, &m);
        assert_eq!(row.variant, 99);
        assert_eq!(from_row(&row), (99, m));
    }
}
