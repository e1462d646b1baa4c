//! Streaming accumulators and the metrics computed from them.
//!
//! Conventions:
//! - per-bar returns are `equity[t] / equity[t-1] - 1` of the close-marked
//!   equity (the first against the initial balance);
//! - Sharpe = mean / sample standard deviation × sqrt(bars per year), Sortino =
//!   mean / downside deviation (`sqrt(sum(min(r, 0)^2) / n)`) × sqrt(bars per
//!   year), with bars per year from the bundle's [`Annualization`] (see
//!   [`Period::of`]); no risk-free rate; 0 when the deviation is 0;
//! - CAGR over the calendar span of the bars run (first to last timestamp, in
//!   365.25-day years), whatever gaps (weekends, holidays) the data has; 0
//!   over a span of 0, -1 when the equity is gone; Calmar = CAGR / max
//!   drawdown (0 without drawdown);
//! - max drawdown is the largest fall from a running peak as a fraction of the
//!   peak; its duration is the longest time from a peak to its recovery (or to
//!   the end), in milliseconds;
//! - trade statistics count closed trades; an open position at the end counts
//!   in equity but not in the trade statistics. A trade's return is its net
//!   pnl on its entry notional (`pnl / (quantity x entry price)`, fees
//!   included, leverage not: backtesting.py's `pl_pct`) for best, worst,
//!   winning, losing, geometric and percent statistics; `avg_trade_return`
//!   keeps bt's return on margin. Without closed trades they are all 0;
//!   profit factors are infinite with profits and no losses;
//! - SQN is `sqrt(trades) x mean(pnl) / sample sd(pnl)` (0 under two
//!   trades or a zero deviation); Kelly is `win rate - (1 - win rate) /
//!   (mean winning pnl / mean losing pnl)` (0 without both kinds);
//! - a trade's duration is from its entry fill's bar time to its exit's.
//!
//! The list of metrics itself is declared once, in the `bt-metrics` crate.

use std::fmt;

pub use bt_metrics::{Better, MetricName, Metrics, UnknownMetric, Value};
use serde::{Deserialize, Serialize};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Milliseconds in a 365.25-day year: the years CAGR counts.
pub const CALENDAR_YEAR_MS: f64 = 365.25 * DAY_MS as f64;

/// Trading days in an equities year.
pub const EQUITIES_DAYS: f64 = 252.0;

/// Days in a year of a market that trades every day.
pub const CRYPTO_DAYS: f64 = 365.0;

/// How Sharpe and Sortino are annualised: the bundle's `annualization`,
/// `"auto"`, `"crypto"`, `"equities"` or a number of bars per year.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Annualization {
    /// `crypto` when at least 60 % of the weekend's share of bars (2/7) falls
    /// on a Saturday or Sunday (UTC), else `equities`: backtesting.py's test.
    #[default]
    Auto,
    /// 365 trading days a year.
    Crypto,
    /// 252 trading days a year.
    Equities,
    /// This many bars a year, whatever the data.
    BarsPerYear(f64),
}

impl Annualization {
    /// The option as written in a bundle.
    pub fn as_text(&self) -> String {
        match self {
            Self::Auto => "auto".into(),
            Self::Crypto => "crypto".into(),
            Self::Equities => "equities".into(),
            Self::BarsPerYear(v) => v.to_string(),
        }
    }
}

impl fmt::Display for Annualization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_text())
    }
}

impl Serialize for Annualization {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::BarsPerYear(v) => s.serialize_f64(*v),
            other => s.serialize_str(&other.as_text()),
        }
    }
}

impl<'de> Deserialize<'de> for Annualization {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "\"auto\", \"crypto\", \"equities\" or a number of bars per year";
        impl serde::de::Visitor<'_> for V {
            type Value = Annualization;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Annualization, E> {
                match v {
                    "auto" => Ok(Annualization::Auto),
                    "crypto" => Ok(Annualization::Crypto),
                    "equities" => Ok(Annualization::Equities),
                    _ => Err(E::custom(format!("{v:?} is not {EXPECTED}"))),
                }
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Annualization, E> {
                if v.is_finite() && v > 0.0 {
                    Ok(Annualization::BarsPerYear(v))
                } else {
                    Err(E::custom(format!("{v} bars per year must be a positive number")))
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Annualization, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Annualization, E> {
                self.visit_f64(v as f64)
            }
        }
        d.deserialize_any(V)
    }
}

/// What one dataset's metrics are measured over, the same for each of its
/// variants and in every path (sweep, lanes, single variant).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Period {
    /// First to last timestamp of the bars run, in milliseconds.
    pub span_ms: i64,
    /// Sharpe's and Sortino's bars per year.
    pub bars_per_year: f64,
    /// What `annualization` resolved to: `Crypto`, `Equities` or `BarsPerYear`.
    pub basis: Annualization,
}

impl Period {
    /// The period of bars at `ts` (ascending) of length `bar_ms`.
    ///
    /// Bars per year: a number is taken as given; `crypto` is 365 days /
    /// bar length (1h: 8,760, 1d: 365); `equities` is 252 trading days x
    /// bars per trading day: 1 for daily bars, 1/k for k-day bars, and for
    /// bars shorter than a day the data's own count (bars / UTC dates that
    /// have bars: a 6.5-hour session of 1h bars has 7); bars of a week or
    /// longer count 365 days / bar length under either (a week passes the
    /// same in every market: 52.14). `auto` is `crypto` when the data has
    /// weekend bars (see [`Annualization::Auto`]), else `equities`.
    pub fn of(ts: &[i64], bar_ms: i64, annualization: Annualization) -> Self {
        let span_ms = match (ts.first(), ts.last()) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        };
        let basis = match annualization {
            Annualization::Auto if has_weekends(ts) => Annualization::Crypto,
            Annualization::Auto => Annualization::Equities,
            other => other,
        };
        let bar = bar_ms.max(1) as f64;
        let bars_per_year = match basis {
            Annualization::BarsPerYear(v) => v,
            _ if bar_ms >= 7 * DAY_MS => CRYPTO_DAYS * DAY_MS as f64 / bar,
            Annualization::Equities if bar_ms < DAY_MS => EQUITIES_DAYS * bars_per_date(ts),
            Annualization::Equities => EQUITIES_DAYS * DAY_MS as f64 / bar,
            _ => CRYPTO_DAYS * DAY_MS as f64 / bar,
        };
        Self { span_ms, bars_per_year, basis }
    }

    /// The span in 365.25-day years.
    pub fn years(&self) -> f64 {
        self.span_ms as f64 / CALENDAR_YEAR_MS
    }

    /// How the annualisation was resolved, for people: `equities, 1764
    /// bars/year`, `250.5 bars/year`.
    pub fn describe(&self) -> String {
        match self.basis {
            Annualization::BarsPerYear(_) => format!("{} bars/year", fmt_bars(self.bars_per_year)),
            b => format!("{b}, {} bars/year", fmt_bars(self.bars_per_year)),
        }
    }
}

fn fmt_bars(v: f64) -> String {
    if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.2}").trim_end_matches('0').to_owned() }
}

/// UTC day number of a timestamp, and its weekday (Monday 0, Sunday 6).
fn weekday(ts: i64) -> i64 {
    // 1970-01-01 was a Thursday.
    (ts.div_euclid(DAY_MS) + 3).rem_euclid(7)
}

/// Whether more than 60 % of the weekend's fair share (2/7) of the bars fall
/// on a Saturday or Sunday (UTC).
fn has_weekends(ts: &[i64]) -> bool {
    let weekend = ts.iter().filter(|&&t| weekday(t) >= 5).count() as f64;
    !ts.is_empty() && weekend / ts.len() as f64 > 0.6 * 2.0 / 7.0
}

/// Bars per UTC date that has bars (1 without bars).
fn bars_per_date(ts: &[i64]) -> f64 {
    let mut dates = 0usize;
    let mut last = None;
    for &t in ts {
        let d = t.div_euclid(DAY_MS);
        if last != Some(d) {
            dates += 1;
            last = Some(d);
        }
    }
    if dates == 0 { 1.0 } else { ts.len() as f64 / dates as f64 }
}

/// What the accumulator takes of a closed trade.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosedTrade {
    /// Net of entry and exit fees.
    pub pnl: f64,
    /// `pnl` over the margin committed.
    pub return_on_margin: f64,
    /// `pnl` over the entry notional (quantity x entry fill price).
    pub return_on_notional: f64,
    /// Exit bar time - entry bar time.
    pub duration_ms: i64,
    pub exit_fee: f64,
}

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
    pub(crate) losses: u64,
    pub(crate) sum_pnl2: f64,
    pub(crate) sum_ret: f64,
    pub(crate) sum_win_ret: f64,
    pub(crate) sum_loss_ret: f64,
    pub(crate) sum_log_growth: f64,
    pub(crate) wiped: bool,
    pub(crate) best_ret: f64,
    pub(crate) worst_ret: f64,
    pub(crate) sum_duration_ms: f64,
    pub(crate) max_duration_ms: i64,
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
            losses: 0,
            sum_pnl2: 0.0,
            sum_ret: 0.0,
            sum_win_ret: 0.0,
            sum_loss_ret: 0.0,
            sum_log_growth: 0.0,
            wiped: false,
            best_ret: f64::NEG_INFINITY,
            worst_ret: f64::INFINITY,
            sum_duration_ms: 0.0,
            max_duration_ms: 0,
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

    /// A closed trade.
    #[inline]
    pub fn trade(&mut self, t: &ClosedTrade) {
        let (pnl, ret) = (t.pnl, t.return_on_notional);
        self.trades += 1;
        if pnl > 0.0 {
            self.wins += 1;
            self.gross_profit += pnl;
            self.sum_win_ret += ret;
        } else {
            self.gross_loss -= pnl;
            if pnl < 0.0 {
                self.losses += 1;
                self.sum_loss_ret += ret;
            }
        }
        self.sum_pnl += pnl;
        self.sum_pnl2 += pnl * pnl;
        self.sum_trade_return += t.return_on_margin;
        self.sum_ret += ret;
        if ret > -1.0 {
            self.sum_log_growth += (1.0 + ret).ln();
        } else {
            self.wiped = true;
        }
        self.best_ret = self.best_ret.max(ret);
        self.worst_ret = self.worst_ret.min(ret);
        self.sum_duration_ms += t.duration_ms as f64;
        self.max_duration_ms = self.max_duration_ms.max(t.duration_ms);
        self.fees += t.exit_fee;
    }

    /// An entry fee.
    #[inline]
    pub fn fee(&mut self, fee: f64) {
        self.fees += fee;
    }

    /// The metrics, given the dataset's period and its buy-and-hold return.
    pub fn finish(&self, period: &Period, buy_and_hold_return: f64) -> Metrics {
        let n = self.n as f64;
        let final_equity = self.prev_equity;
        let bars_per_year = period.bars_per_year;
        let mean = if self.n > 0 { self.sum_r / n } else { 0.0 };
        let var = if self.n > 1 { ((self.sum_r2 - self.sum_r * mean) / (n - 1.0)).max(0.0) } else { 0.0 };
        let sd = var.sqrt();
        let down = if self.n > 0 { (self.sum_down2 / n).sqrt() } else { 0.0 };
        let ann = bars_per_year.sqrt();
        let years = period.years();
        let growth = final_equity / self.initial;
        let cagr = match (growth > 0.0, years > 0.0) {
            (true, true) => growth.powf(1.0 / years) - 1.0,
            (true, false) => 0.0,
            (false, _) => -1.0,
        };
        let t = self.trades as f64;
        let traded = self.trades > 0;
        let per_trade = |sum: f64| if traded { sum / t } else { 0.0 };
        let ratio = |profit: f64, loss: f64| {
            if loss > 0.0 {
                profit / loss
            } else if profit > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }
        };
        let mean_pnl = per_trade(self.sum_pnl);
        let pnl_sd = if self.trades > 1 {
            ((self.sum_pnl2 - self.sum_pnl * mean_pnl) / (t - 1.0)).max(0.0).sqrt()
        } else {
            0.0
        };
        let win_rate = per_trade(self.wins as f64);
        let kelly = if self.wins > 0 && self.losses > 0 {
            let avg_win = self.gross_profit / self.wins as f64;
            let avg_loss = self.gross_loss / self.losses as f64;
            win_rate - (1.0 - win_rate) / (avg_win / avg_loss)
        } else {
            0.0
        };
        Metrics {
            final_equity,
            total_return: growth - 1.0,
            cagr,
            max_drawdown: self.max_dd,
            max_drawdown_duration_ms: self.max_dd_ms,
            sharpe: if sd > 0.0 { mean / sd * ann } else { 0.0 },
            sortino: if down > 0.0 { mean / down * ann } else { 0.0 },
            calmar: if self.max_dd > 0.0 { cagr / self.max_dd } else { 0.0 },
            win_rate,
            profit_factor: ratio(self.gross_profit, self.gross_loss),
            expectancy: mean_pnl,
            avg_trade_return: per_trade(self.sum_trade_return),
            trades: self.trades,
            exposure: if self.n > 0 { self.bars_in_position as f64 / n } else { 0.0 },
            fees: self.fees,
            buy_and_hold_return,
            best_trade: if traded { self.best_ret } else { 0.0 },
            worst_trade: if traded { self.worst_ret } else { 0.0 },
            avg_winning_trade: if self.wins > 0 { self.sum_win_ret / self.wins as f64 } else { 0.0 },
            avg_losing_trade: if self.losses > 0 { self.sum_loss_ret / self.losses as f64 } else { 0.0 },
            avg_trade_geometric: if traded && !self.wiped {
                (self.sum_log_growth / t).exp() - 1.0
            } else {
                0.0
            },
            avg_trade_duration_ms: per_trade(self.sum_duration_ms),
            max_trade_duration_ms: self.max_duration_ms,
            profit_factor_pct: ratio(self.sum_win_ret, -self.sum_loss_ret),
            expectancy_pct: per_trade(self.sum_ret),
            sqn: if pnl_sd > 0.0 { t.sqrt() * mean_pnl / pnl_sd } else { 0.0 },
            kelly,
            open_position: self.open_position,
            liquidated: self.liquidated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    /// Hourly bars from 0 to `(bars - 1)` hours, 8,760 bars a year.
    fn hourly(bars: i64) -> Period {
        let ts: Vec<i64> = (0..bars).map(|k| k * H).collect();
        Period::of(&ts, H, Annualization::Crypto)
    }

    #[test]
    fn hand_computed_equity_series() {
        // Equity 100 -> 110 -> 99 -> 121 -> 110 (hourly bars); returns 0.1, -0.1, 2/9, -1/11.
        let mut a = Accumulator::new(100.0);
        for (k, e) in [110.0, 99.0, 121.0, 110.0].into_iter().enumerate() {
            a.bar(k as i64 * H, e, k > 0);
        }
        // (pnl, return on margin, return on notional, duration, exit fee)
        for (pnl, rom, ret, hours, fee) in
            [(30.0, 0.3, 0.15, 2, 1.0), (-10.0, -0.1, -0.05, 1, 1.0), (-5.0, -0.05, -0.025, 3, 0.5)]
        {
            a.trade(&ClosedTrade {
                pnl,
                return_on_margin: rom,
                return_on_notional: ret,
                duration_ms: hours * H,
                exit_fee: fee,
            });
        }
        a.fee(1.5);
        let m = a.finish(&hourly(4), 0.25);
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
        let years = 3.0 * H as f64 / CALENDAR_YEAR_MS;
        assert!((m.cagr - (1.1f64.powf(1.0 / years) - 1.0)).abs() < 1e-9 * m.cagr.abs());
        assert_eq!(m.calmar, m.cagr / m.max_drawdown);
        assert_eq!(m.buy_and_hold_return, 0.25);
        // Per-trade statistics on the returns on notional 0.15, -0.05, -0.025.
        assert_eq!((m.best_trade, m.worst_trade), (0.15, -0.05));
        assert_eq!(m.avg_winning_trade, 0.15);
        assert!((m.avg_losing_trade + 0.0375).abs() < 1e-15, "{}", m.avg_losing_trade);
        assert!((m.expectancy_pct - 0.075 / 3.0).abs() < 1e-15);
        assert!((m.profit_factor_pct - 0.15 / 0.075).abs() < 1e-12);
        let geo = (1.15f64 * 0.95 * 0.975).powf(1.0 / 3.0) - 1.0;
        assert!((m.avg_trade_geometric - geo).abs() < 1e-12, "{}", m.avg_trade_geometric);
        assert_eq!((m.avg_trade_duration_ms, m.max_trade_duration_ms), (2.0 * H as f64, 3 * H));
        // pnl 30, -10, -5: mean 5, sample sd sqrt(((25)^2 + 15^2 + 10^2) / 2) = sqrt(475).
        assert!((m.sqn - 3f64.sqrt() * 5.0 / 475f64.sqrt()).abs() < 1e-12, "{}", m.sqn);
        // Kelly: 1/3 - (2/3) / (30 / 7.5) = 1/3 - 1/6.
        assert!((m.kelly - 1.0 / 6.0).abs() < 1e-15, "{}", m.kelly);
    }

    /// Open times of daily bars from `start` (UTC ms), Monday to Friday only
    /// when `weekdays`.
    fn daily(start: i64, bars: usize, weekdays: bool) -> Vec<i64> {
        (0..).map(|d| start + d * DAY_MS).filter(|&t| !weekdays || weekday(t) < 5).take(bars).collect()
    }

    /// 2004-08-19, a Thursday (backtesting.py's GOOG sample starts there).
    const GOOG_START: i64 = 1_092_873_600_000;

    #[test]
    fn cagr_counts_calendar_years_over_weekend_gaps() {
        // 2,148 weekday bars span 8.23 calendar years, not 2,148 / 365 = 5.9.
        let ts = daily(GOOG_START, 2_148, true);
        let p = Period::of(&ts, DAY_MS, Annualization::Auto);
        let years = (ts[2_147] - ts[0]) as f64 / (365.25 * 86_400_000.0);
        assert_eq!(p.years(), years);
        assert!((8.0..8.5).contains(&years), "{years}");
        let mut a = Accumulator::new(100.0);
        for (k, &t) in ts.iter().enumerate() {
            a.bar(t, 100.0 * (1.0 + 2.0 * k as f64 / 2_147.0), true);
        }
        let m = a.finish(&p, 0.0);
        // Equity triples: (3^(1/years) - 1), about 14.3 % a year (bars x day: 20.5 %).
        let want = 3f64.powf(1.0 / years) - 1.0;
        assert!((m.cagr - want).abs() < 1e-12, "{} vs {want}", m.cagr);
        assert!((m.cagr - 0.1428).abs() < 1e-3, "{}", m.cagr);
        // One bar, or none: no span, no growth rate.
        assert_eq!(
            Accumulator::new(100.0).finish(&Period::of(&ts[..1], DAY_MS, Annualization::Auto), 0.0).cagr,
            0.0
        );
    }

    #[test]
    fn annualization_factors_for_each_option() {
        let bpy = |ts: &[i64], bar: i64, a: Annualization| {
            let p = Period::of(ts, bar, a);
            (p.bars_per_year, p.basis)
        };
        use Annualization::*;
        let stocks = daily(GOOG_START, 500, true);
        let coins = daily(GOOG_START, 500, false);
        assert_eq!(bpy(&stocks, DAY_MS, Auto), (252.0, Equities));
        assert_eq!(bpy(&coins, DAY_MS, Auto), (365.0, Crypto));
        for ts in [&stocks, &coins] {
            assert_eq!(bpy(ts, DAY_MS, Crypto), (365.0, Crypto));
            assert_eq!(bpy(ts, DAY_MS, Equities), (252.0, Equities));
            assert_eq!(bpy(ts, DAY_MS, BarsPerYear(300.0)), (300.0, BarsPerYear(300.0)));
        }
        // A 6.5-hour session of 1h bars (13:00 to 19:00 UTC buckets): 7 a day.
        let session: Vec<i64> = stocks.iter().flat_map(|&d| (13..20).map(move |h| d + h * H)).collect();
        assert_eq!(bpy(&session, H, Auto), (252.0 * 7.0, Equities));
        assert_eq!(bpy(&session, H, Crypto), (8_760.0, Crypto));
        let hours: Vec<i64> = (0..24 * 30).map(|k| GOOG_START + k * H).collect();
        assert_eq!(bpy(&hours, H, Auto), (8_760.0, Crypto));
        // Weeks pass the same in every market; 2-day bars are 126 or 182.5 a year.
        let weeks: Vec<i64> = (0..100).map(|k| GOOG_START + k * 7 * DAY_MS).collect();
        assert_eq!(bpy(&weeks, 7 * DAY_MS, Equities).0, 365.0 / 7.0);
        assert_eq!(bpy(&weeks, 7 * DAY_MS, Crypto).0, 365.0 / 7.0);
        assert_eq!(bpy(&stocks, 2 * DAY_MS, Equities).0, 126.0);
        assert_eq!(bpy(&coins, 2 * DAY_MS, Crypto).0, 182.5);
        // FX: a Sunday-evening open is not a weekend market.
        let fx: Vec<i64> = (0..24 * 7 * 8)
            .map(|k| GOOG_START + k * H)
            .filter(|&t| weekday(t) < 5 || (weekday(t) == 6 && (t / H) % 24 >= 22))
            .collect();
        assert_eq!(bpy(&fx, H, Auto).1, Equities);

        // Sharpe and Sortino scale with the square root of the factor.
        let mut a = Accumulator::new(100.0);
        for (k, e) in [101.0, 99.0, 102.0, 100.5, 103.0].into_iter().enumerate() {
            a.bar(stocks[k], e, true);
        }
        let r = [0.01, 99.0 / 101.0 - 1.0, 102.0 / 99.0 - 1.0, 100.5 / 102.0 - 1.0, 103.0 / 100.5 - 1.0];
        let mean = r.iter().sum::<f64>() / 5.0;
        let sd = (r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 4.0).sqrt();
        let down = (r.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / 5.0).sqrt();
        for (option, factor) in [(Auto, 252.0), (Equities, 252.0), (Crypto, 365.0), (BarsPerYear(12.0), 12.0)]
        {
            let m = a.finish(&Period::of(&stocks[..5], DAY_MS, option), 0.0);
            let ann = f64::sqrt(factor);
            assert!((m.sharpe - mean / sd * ann).abs() < 1e-12, "{option}: {}", m.sharpe);
            assert!((m.sortino - mean / down * ann).abs() < 1e-12, "{option}: {}", m.sortino);
        }
        assert_eq!(Period::of(&stocks, DAY_MS, Auto).describe(), "equities, 252 bars/year");
        assert_eq!(Period::of(&stocks, DAY_MS, BarsPerYear(250.5)).describe(), "250.5 bars/year");
    }

    #[test]
    fn flat_equity_has_zero_ratios() {
        let mut a = Accumulator::new(50.0);
        for k in 0..10 {
            a.bar(k * H, 50.0, false);
        }
        let m = a.finish(&hourly(10), 0.0);
        assert_eq!((m.sharpe, m.sortino, m.calmar, m.max_drawdown, m.trades), (0.0, 0.0, 0.0, 0.0, 0));
        assert_eq!((m.profit_factor, m.win_rate, m.cagr), (0.0, 0.0, 0.0));
        for x in [m.best_trade, m.worst_trade, m.avg_trade_geometric, m.profit_factor_pct, m.sqn, m.kelly] {
            assert_eq!(x, 0.0);
        }
    }

    #[test]
    fn drawdown_duration_runs_to_the_end_without_recovery() {
        let mut a = Accumulator::new(100.0);
        for (k, e) in [100.0, 120.0, 90.0, 100.0, 110.0].into_iter().enumerate() {
            a.bar(k as i64 * H, e, true);
        }
        let m = a.finish(&hourly(5), 0.0);
        assert_eq!(m.max_drawdown, 0.25);
        assert_eq!(m.max_drawdown_duration_ms, 3 * H);
        assert_eq!(m.profit_factor, 0.0);
    }
}
