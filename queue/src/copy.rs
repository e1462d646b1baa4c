//! PostgreSQL's binary COPY format for result rows: each row is a field
//! count, then each field as a big-endian length and its bytes (uuid: 16
//! bytes; bigint, double precision: 8; boolean: 1). The column order is
//! `queries/copy_results.sql`'s.

use bt_metrics::{MetricName, Value};
use uuid::Uuid;

use crate::types::ResultRow;

/// Fields per result row: bundle, variant, job, the metrics, two flags.
const FIELDS: i16 = (3 + MetricName::ALL.len() + 2) as i16;

fn field(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

fn i8(buf: &mut Vec<u8>, v: i64) {
    field(buf, &v.to_be_bytes());
}

fn b1(buf: &mut Vec<u8>, v: bool) {
    field(buf, &[u8::from(v)]);
}

/// Appends one row of `queries/copy_results.sql`.
pub(crate) fn encode_result(buf: &mut Vec<u8>, bundle: Uuid, job: i64, r: &ResultRow) {
    buf.extend_from_slice(&FIELDS.to_be_bytes());
    field(buf, bundle.as_bytes());
    i8(buf, r.variant);
    i8(buf, job);
    for &m in MetricName::ALL {
        match r.metrics.value(m) {
            Value::Float(x) => field(buf, &x.to_be_bytes()),
            Value::Int(i) => i8(buf, i),
        }
    }
    b1(buf, r.metrics.open_position);
    b1(buf, r.metrics.liquidated);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_the_field_count_then_length_prefixed_big_endian_fields() {
        let mut metrics = bt_metrics::Metrics::zero();
        metrics.final_equity = 1.5;
        metrics.sortino = f64::NAN;
        metrics.profit_factor = f64::INFINITY;
        metrics.trades = 3;
        metrics.kelly = 0.25;
        metrics.open_position = true;
        let r = ResultRow { variant: 7, metrics };
        let mut buf = Vec::new();
        encode_result(&mut buf, Uuid::from_u128(1), 42, &r);
        // The count, the uuid (4 + 16), variant, job and the 27 metrics as
        // eight-byte fields (4 + 8 each), 2 booleans (4 + 1).
        assert_eq!(MetricName::ALL.len(), 27);
        assert_eq!(buf.len(), 2 + 20 + 29 * 12 + 2 * 5);
        assert_eq!(&buf[..2], &32i16.to_be_bytes());
        assert_eq!(&buf[2..6], &16i32.to_be_bytes());
        assert_eq!(&buf[6..22], Uuid::from_u128(1).as_bytes());
        assert_eq!(&buf[22..26], &8i32.to_be_bytes());
        assert_eq!(&buf[26..34], &7i64.to_be_bytes());
        assert_eq!(&buf[38..46], &42i64.to_be_bytes());
        assert_eq!(&buf[50..58], &1.5f64.to_be_bytes());
        // NaN and infinity travel as their IEEE bits (PostgreSQL's float8 keeps
        // both); sortino is the 7th metric, the 9th field after the uuid.
        assert_eq!(&buf[22 + 8 * 12 + 4..22 + 9 * 12], &f64::NAN.to_be_bytes());
        assert_eq!(&buf[22 + 11 * 12 + 4..22 + 12 * 12], &f64::INFINITY.to_be_bytes());
        // trades, the 13th metric, as a bigint; kelly, the last, as a float8.
        assert_eq!(&buf[22 + 14 * 12 + 4..22 + 15 * 12], &3i64.to_be_bytes());
        assert_eq!(&buf[22 + 28 * 12 + 4..22 + 29 * 12], &0.25f64.to_be_bytes());
        // The last field: liquidated = false; before it open_position = true.
        assert_eq!(&buf[buf.len() - 5..], &[0, 0, 0, 1, 0]);
        assert_eq!(&buf[buf.len() - 10..buf.len() - 5], &[0, 0, 0, 1, 1]);
    }
}
