//! Streaming accumulators and the metrics computed from them.
//!
//! Conventions:
//! - per-bar returns are `equity[t] / equity[t-1] - 1` of the close-marked
//!   equity (the first against the initial balance);
//! - Sharpe = mean / sample standard deviation × sqrt(bars per year), Sortino =
//!   mean / downside deviation (`sqrt(sum(min(r, 0)^2) / n)`) × sqrt(bars per
//!   year), with bars per year = 365 days / bar length (crypto markets trade
//!   every day); no risk-free rate; 0 when the deviation is 0;
//! - CAGR over the dataset's span (bars × bar length, 365-day years); Calmar =
//!   CAGR / max drawdown (0 without drawdown);
//! - max drawdown is the largest fall from a running peak as a fraction of the
//!   peak; its duration is the longest time from a peak to its recovery (or to
//!   the end), in milliseconds;
//! - trade statistics count closed trades; an open position at the end counts
//!   in equity but not in the trade statistics.

/// Milliseconds in a 365-day year.
pub const YEAR_MS: f64 = 365.0 * 86_400_000.0;

/// Streaming state of one variant: a few dozen bytes, no allocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accumulator {
    pub(crate) initial: f64,
    pub(crate) prev_equity: f64,
    pub(crate) n: u64,
    pub(crate) sum_r: f64,
    pub(crate) sum_r2: f64,
    pub(crate) sum_down2: f64,
    pub(crate) peak: f64,
    pub(crate) peak_ts: i64,
    pub(crate) below_peak: bool,
    pub(crate) max_dd: f64,
    pub(crate) max_dd_ms: i64,
    pub(crate) bars_in_position: u64,
    pub(crate) trades: u64,
    pub(crate) wins: u64,
    pub(crate) gross_profit: f64,
    pub(crate) gross_loss: f64,
    pub(crate) sum_pnl: f64,
    pub(crate) sum_trade_return: f64,
    pub(crate) fees: f64,
    pub liquidated: bool,
    pub open_position: bool,
}

impl Accumulator {
    pub fn new(initial_balance: f64) -> Self {
        Self {
            initial: initial_balance,
            prev_equity: initial_balance,
            n: 0,
            sum_r: 0.0,
            sum_r2: 0.0,
            sum_down2: 0.0,
            peak: initial_balance,
            peak_ts: i64::MIN,
            below_peak: false,
            max_dd: 0.0,
            max_dd_ms: 0,
            bars_in_position: 0,
            trades: 0,
            wins: 0,
            gross_profit: 0.0,
            gross_loss: 0.0,
            sum_pnl: 0.0,
            sum_trade_return: 0.0,
            fees: 0.0,
            liquidated: false,
            open_position: false,
        }
    }

    /// One bar's close-marked equity.
    #[inline]
    pub fn bar(&mut self, ts: i64, equity: f64, in_position: bool) {
        let r = if self.prev_equity > 0.0 { equity / self.prev_equity - 1.0 } else { 0.0 };
        self.prev_equity = equity;
        self.n += 1;
        self.sum_r += r;
        self.sum_r2 += r * r;
        if r < 0.0 {
            self.sum_down2 += r * r;
        }
        if self.peak_ts == i64::MIN {
            self.peak_ts = ts;
        }
        if equity >= self.peak {
            // A recovery ends the drawdown: its duration runs to this bar.
            if self.peak_ts < ts && self.below_peak {
                self.max_dd_ms = self.max_dd_ms.max(ts - self.peak_ts);
            }
            self.below_peak = false;
            self.peak = equity;
            self.peak_ts = ts;
        } else {
            self.below_peak = true;
            let dd = (self.peak - equity) / self.peak;
            if dd > self.max_dd {
                self.max_dd = dd;
            }
            let dur = ts - self.peak_ts;
            if dur > self.max_dd_ms {
                self.max_dd_ms = dur;
            }
        }
        self.bars_in_position += u64::from(in_position);
    }

    /// A closed trade: net pnl, its return on margin, and its exit fee.
    #[inline]
    pub fn trade(&mut self, pnl: f64, return_on_margin: f64, exit_fee: f64) {
        self.trades += 1;
        if pnl > 0.0 {
            self.wins += 1;
            self.gross_profit += pnl;
        } else {
            self.gross_loss -= pnl;
        }
        self.sum_pnl += pnl;
        self.sum_trade_return += return_on_margin;
        self.fees += exit_fee;
    }

    /// An entry fee.
    #[inline]
    pub fn fee(&mut self, fee: f64) {
        self.fees += fee;
    }

    /// The metrics, given the bar length and the dataset's buy-and-hold return.
    pub fn finish(&self, bar_ms: i64, buy_and_hold_return: f64) -> Metrics {
        let n = self.n as f64;
        let final_equity = self.prev_equity;
        let bars_per_year = YEAR_MS / bar_ms as f64;
        let mean = if self.n > 0 { self.sum_r / n } else { 0.0 };
        let var = if self.n > 1 { ((self.sum_r2 - self.sum_r * mean) / (n - 1.0)).max(0.0) } else { 0.0 };
        let sd = var.sqrt();
        let down = if self.n > 0 { (self.sum_down2 / n).sqrt() } else { 0.0 };
        let ann = bars_per_year.sqrt();
        let years = n * bar_ms as f64 / YEAR_MS;
        let growth = final_equity / self.initial;
        let cagr = if growth > 0.0 && years > 0.0 { growth.powf(1.0 / years) - 1.0 } else { -1.0 };
        let t = self.trades as f64;
        Metrics {
            final_equity,
            total_return: growth - 1.0,
            cagr,
            max_drawdown: self.max_dd,
            max_drawdown_duration_ms: self.max_dd_ms,
            sharpe: if sd > 0.0 { mean / sd * ann } else { 0.0 },
            sortino: if down > 0.0 { mean / down * ann } else { 0.0 },
            calmar: if self.max_dd > 0.0 { cagr / self.max_dd } else { 0.0 },
            win_rate: if self.trades > 0 { self.wins as f64 / t } else { 0.0 },
            profit_factor: if self.gross_loss > 0.0 {
                self.gross_profit / self.gross_loss
            } else if self.gross_profit > 0.0 {
                f64::INFINITY
            } else {
                0.0
            },
            expectancy: if self.trades > 0 { self.sum_pnl / t } else { 0.0 },
            avg_trade_return: if self.trades > 0 { self.sum_trade_return / t } else { 0.0 },
            trades: self.trades,
            exposure: if self.n > 0 { self.bars_in_position as f64 / n } else { 0.0 },
            fees: self.fees,
            buy_and_hold_return,
            open_position: self.open_position,
            liquidated: self.liquidated,
        }
    }
}

/// A variant's metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    pub final_equity: f64,
    pub total_return: f64,
    pub cagr: f64,
    pub max_drawdown: f64,
    pub max_drawdown_duration_ms: i64,
    pub sharpe: f64,
    pub sortino: f64,
    pub calmar: f64,
    pub win_rate: f64,
    /// Gross profit / gross loss of closed trades; infinite with profits and no losses.
    pub profit_factor: f64,
    /// Average net pnl per closed trade, in account currency.
    pub expectancy: f64,
    /// Average return on margin per closed trade.
    pub avg_trade_return: f64,
    pub trades: u64,
    /// Fraction of bars that closed with a position open.
    pub exposure: f64,
    pub fees: f64,
    /// `last close / first close - 1` of the bars simulated.
    pub buy_and_hold_return: f64,
    pub open_position: bool,
    pub liquidated: bool,
}

impl Metrics {
    /// Metric names as used for sorting and output columns.
    pub const NAMES: [&'static str; 16] = [
        "final_equity",
        "total_return",
        "cagr",
        "max_drawdown",
        "max_drawdown_duration_ms",
        "sharpe",
        "sortino",
        "calmar",
        "win_rate",
        "profit_factor",
        "expectancy",
        "avg_trade_return",
        "trades",
        "exposure",
        "fees",
        "buy_and_hold_return",
    ];

    /// A numeric metric by name (for ranking).
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "final_equity" => self.final_equity,
            "total_return" => self.total_return,
            "cagr" => self.cagr,
            "max_drawdown" => self.max_drawdown,
            "max_drawdown_duration_ms" => self.max_drawdown_duration_ms as f64,
            "sharpe" => self.sharpe,
            "sortino" => self.sortino,
            "calmar" => self.calmar,
            "win_rate" => self.win_rate,
            "profit_factor" => self.profit_factor,
            "expectancy" => self.expectancy,
            "avg_trade_return" => self.avg_trade_return,
            "trades" => self.trades as f64,
            "exposure" => self.exposure,
            "fees" => self.fees,
            "buy_and_hold_return" => self.buy_and_hold_return,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn hand_computed_equity_series() {
        // Equity 100 -> 110 -> 99 -> 121 -> 110 (hourly bars); returns 0.1, -0.1, 2/9, -1/11.
        let mut a = Accumulator::new(100.0);
        for (k, e) in [110.0, 99.0, 121.0, 110.0].into_iter().enumerate() {
            a.bar(k as i64 * H, e, k > 0);
        }
        a.trade(30.0, 0.3, 1.0);
        a.trade(-10.0, -0.1, 1.0);
        a.trade(-5.0, -0.05, 0.5);
        a.fee(1.5);
        let m = a.finish(H, 0.25);
        let r = [0.1, -0.1, 2.0 / 9.0, -1.0 / 11.0];
        let mean = r.iter().sum::<f64>() / 4.0;
        let var = r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 3.0;
        let ann = (8760.0f64).sqrt();
        assert!((m.sharpe - mean / var.sqrt() * ann).abs() < 1e-9);
        let down = ((0.01 + 1.0 / 121.0) / 4.0f64).sqrt();
        assert!((m.sortino - mean / down * ann).abs() < 1e-9);
        assert_eq!(m.final_equity, 110.0);
        assert!((m.total_return - 0.1).abs() < 1e-15);
        // Peak 110 at 0h, trough 99 at 1h: 10 %; 121 at 2h, then 110: 9.09 %.
        assert!((m.max_drawdown - 0.1).abs() < 1e-15);
        assert_eq!(m.max_drawdown_duration_ms, 2 * H); // 0h -> recovered at 2h; 2h -> 3h (end)
        assert_eq!((m.trades, m.win_rate), (3, 1.0 / 3.0));
        assert_eq!(m.profit_factor, 2.0);
        assert_eq!(m.expectancy, 5.0);
        assert!((m.avg_trade_return - 0.05).abs() < 1e-15);
        assert_eq!(m.exposure, 0.75);
        assert_eq!(m.fees, 4.0);
        let years = 4.0 * H as f64 / YEAR_MS;
        assert!((m.cagr - (1.1f64.powf(1.0 / years) - 1.0)).abs() < 1e-9 * m.cagr.abs());
        assert_eq!(m.calmar, m.cagr / m.max_drawdown);
        assert_eq!(m.buy_and_hold_return, 0.25);
    }

    #[test]
    fn flat_equity_has_zero_ratios() {
        let mut a = Accumulator::new(50.0);
        for k in 0..10 {
            a.bar(k * H, 50.0, false);
        }
        let m = a.finish(H, 0.0);
        assert_eq!((m.sharpe, m.sortino, m.calmar, m.max_drawdown, m.trades), (0.0, 0.0, 0.0, 0.0, 0));
        assert_eq!((m.profit_factor, m.win_rate, m.cagr), (0.0, 0.0, 0.0));
    }

    #[test]
    fn drawdown_duration_runs_to_the_end_without_recovery() {
        let mut a = Accumulator::new(100.0);
        for (k, e) in [100.0, 120.0, 90.0, 100.0, 110.0].into_iter().enumerate() {
            a.bar(k as i64 * H, e, true);
        }
        let m = a.finish(H, 0.0);
        assert_eq!(m.max_drawdown, 0.25);
        assert_eq!(m.max_drawdown_duration_ms, 3 * H);
        assert_eq!(m.profit_factor, 0.0);
    }
}
