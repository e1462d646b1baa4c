//! PostgreSQL's binary COPY format for result rows: each row is a field
//! count, then each field as a big-endian length and its bytes (uuid: 16
//! bytes; bigint, double precision: 8; boolean: 1). The column order is
//! `queries/copy_results.sql`'s.

use uuid::Uuid;

use crate::types::ResultRow;

/// Fields per result row.
const FIELDS: i16 = 21;

fn field(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

fn f8(buf: &mut Vec<u8>, v: f64) {
    field(buf, &v.to_be_bytes());
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
    f8(buf, r.final_equity);
    f8(buf, r.total_return);
    f8(buf, r.cagr);
    f8(buf, r.max_drawdown);
    i8(buf, r.max_drawdown_duration_ms);
    f8(buf, r.sharpe);
    f8(buf, r.sortino);
    f8(buf, r.calmar);
    f8(buf, r.win_rate);
    f8(buf, r.profit_factor);
    f8(buf, r.expectancy);
    f8(buf, r.avg_trade_return);
    i8(buf, r.trades);
    f8(buf, r.exposure);
    f8(buf, r.fees);
    f8(buf, r.buy_and_hold_return);
    b1(buf, r.open_position);
    b1(buf, r.liquidated);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_the_field_count_then_length_prefixed_big_endian_fields() {
        let r = ResultRow {
            variant: 7,
            final_equity: 1.5,
            total_return: 0.5,
            cagr: 0.1,
            max_drawdown: 0.2,
            max_drawdown_duration_ms: 60_000,
            sharpe: 1.0,
            sortino: f64::NAN,
            calmar: 0.5,
            win_rate: 0.5,
            profit_factor: f64::INFINITY,
            expectancy: 1.0,
            avg_trade_return: 0.01,
            trades: 3,
            exposure: 0.3,
            fees: 2.0,
            buy_and_hold_return: 0.4,
            open_position: true,
            liquidated: false,
        };
        let mut buf = Vec::new();
        encode_result(&mut buf, Uuid::from_u128(1), 42, &r);
        // The count, the uuid (4 + 16), 18 eight-byte fields (4 + 8 each), 2 booleans (4 + 1).
        assert_eq!(buf.len(), 2 + 20 + 18 * 12 + 2 * 5);
        assert_eq!(&buf[..2], &21i16.to_be_bytes());
        assert_eq!(&buf[2..6], &16i32.to_be_bytes());
        assert_eq!(&buf[6..22], Uuid::from_u128(1).as_bytes());
        assert_eq!(&buf[22..26], &8i32.to_be_bytes());
        assert_eq!(&buf[26..34], &7i64.to_be_bytes());
        assert_eq!(&buf[38..46], &42i64.to_be_bytes());
        assert_eq!(&buf[50..58], &1.5f64.to_be_bytes());
        // NaN and infinity travel as their IEEE bits (PostgreSQL's float8 keeps both).
        assert_eq!(&buf[22 + 8 * 12 + 4..22 + 9 * 12], &f64::NAN.to_be_bytes());
        // The last field: liquidated = false; before it open_position = true.
        assert_eq!(&buf[buf.len() - 5..], &[0, 0, 0, 1, 0]);
        assert_eq!(&buf[buf.len() - 10..buf.len() - 5], &[0, 0, 0, 1, 1]);
    }
}
