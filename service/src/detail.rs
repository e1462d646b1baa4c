//! One variant's detail (its trades and equity curve) as CSV: the files
//! `bt run --variant N --trades/--equity` writes and the API's
//! `trades.csv`/`equity.csv` downloads serve, in one format.

use std::io::{self, Write};

use bt_candles::time::format_ms;
use bt_engine::sim::Trade;

/// The header of [`write_trades_csv`].
pub const TRADES_HEADER: &str = "side,entry_bar,entry_time,entry_price,exit_bar,exit_time,exit_price,quantity,fees,pnl,return_on_margin,reason";

/// The header of [`write_equity_csv`].
pub const EQUITY_HEADER: &str = "time,close,equity";

/// `long`/`short`.
pub fn side(t: &Trade) -> &'static str {
    if t.side > 0 { "long" } else { "short" }
}

/// Every trade, one line each, times in RFC 3339 UTC.
pub fn write_trades_csv(w: &mut impl Write, trades: &[Trade]) -> io::Result<()> {
    writeln!(w, "{TRADES_HEADER}")?;
    for t in trades {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            side(t),
            t.entry_bar,
            format_ms(t.entry_ts),
            t.entry_price,
            t.exit_bar,
            format_ms(t.exit_ts),
            t.exit_price,
            t.quantity,
            t.fees,
            t.pnl,
            t.return_on_margin,
            t.reason.as_str()
        )?;
    }
    Ok(())
}

/// Each bar's time, close and equity at its close. The slices are the
/// dataset's columns and the detail's curve: one entry per bar each.
pub fn write_equity_csv(w: &mut impl Write, ts: &[i64], close: &[f64], equity: &[f64]) -> io::Result<()> {
    writeln!(w, "{EQUITY_HEADER}")?;
    for ((t, c), e) in ts.iter().zip(close).zip(equity) {
        writeln!(w, "{},{c},{e}", format_ms(*t))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_engine::sim::ExitReason;

    #[test]
    fn csv_lines_are_exact() {
        let t = Trade {
            side: -1,
            entry_bar: 2,
            entry_ts: 0,
            entry_price: 100.5,
            exit_bar: 5,
            exit_ts: 3_600_000,
            exit_price: 99.0,
            quantity: 2.0,
            fees: 0.25,
            pnl: 2.75,
            return_on_margin: 0.01,
            reason: ExitReason::StopLoss,
        };
        let mut out = Vec::new();
        write_trades_csv(&mut out, &[t]).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            format!(
                "{TRADES_HEADER}\nshort,2,1970-01-01T00:00:00Z,100.5,5,1970-01-01T01:00:00Z,99,2,0.25,2.75,0.01,{}\n",
                ExitReason::StopLoss.as_str()
            )
        );
        let mut out = Vec::new();
        write_equity_csv(&mut out, &[0, 60_000], &[1.5, 2.0], &[10_000.0, 9_999.25]).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "time,close,equity\n1970-01-01T00:00:00Z,1.5,10000\n1970-01-01T00:01:00Z,2,9999.25\n"
        );
    }
}
