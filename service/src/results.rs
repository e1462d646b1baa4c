//! Engine metrics to and from the store's result rows. The queue crate knows
//! nothing of the engine, so the mapping lives here, field by field, and a
//! test round-trips every field.

use bt_engine::metrics::Metrics;
use bt_queue::ResultRow;

/// Variant `variant`'s metrics as a result row.
pub fn to_row(variant: u64, m: &Metrics) -> ResultRow {
    ResultRow {
        variant: variant as i64,
        final_equity: m.final_equity,
        total_return: m.total_return,
        cagr: m.cagr,
        max_drawdown: m.max_drawdown,
        max_drawdown_duration_ms: m.max_drawdown_duration_ms,
        sharpe: m.sharpe,
        sortino: m.sortino,
        calmar: m.calmar,
        win_rate: m.win_rate,
        profit_factor: m.profit_factor,
        expectancy: m.expectancy,
        avg_trade_return: m.avg_trade_return,
        trades: m.trades as i64,
        exposure: m.exposure,
        fees: m.fees,
        buy_and_hold_return: m.buy_and_hold_return,
        open_position: m.open_position,
        liquidated: m.liquidated,
    }
}

/// A result row back as (variant, metrics).
pub fn from_row(r: &ResultRow) -> (u64, Metrics) {
    (
        r.variant as u64,
        Metrics {
            final_equity: r.final_equity,
            total_return: r.total_return,
            cagr: r.cagr,
            max_drawdown: r.max_drawdown,
            max_drawdown_duration_ms: r.max_drawdown_duration_ms,
            sharpe: r.sharpe,
            sortino: r.sortino,
            calmar: r.calmar,
            win_rate: r.win_rate,
            profit_factor: r.profit_factor,
            expectancy: r.expectancy,
            avg_trade_return: r.avg_trade_return,
            trades: r.trades as u64,
            exposure: r.exposure,
            fees: r.fees,
            buy_and_hold_return: r.buy_and_hold_return,
            open_position: r.open_position,
            liquidated: r.liquidated,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips() {
        let m = Metrics {
            final_equity: 1.5,
            total_return: 2.5,
            cagr: 3.5,
            max_drawdown: 4.5,
            max_drawdown_duration_ms: 6,
            sharpe: 7.5,
            sortino: 8.5,
            calmar: 9.5,
            win_rate: 10.5,
            profit_factor: f64::INFINITY,
            expectancy: 12.5,
            avg_trade_return: 13.5,
            trades: 14,
            exposure: 15.5,
            fees: 16.5,
            buy_and_hold_return: 17.5,
            open_position: true,
            liquidated: true,
        };
        let row = to_row(99, &m);
        assert_eq!(row.variant, 99);
        let (v, back) = from_row(&row);
        assert_eq!(v, 99);
        assert_eq!(back, m);
        for name in Metrics::NAMES {
            assert_eq!(m.get(name), back.get(name), "{name}");
        }
    }
}
