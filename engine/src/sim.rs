//! The position simulator: one variant's signals through fills, stops,
//! liquidation and costs, bar by bar.
//!
//! Fill model (no look-ahead):
//! - a signal at bar `t`'s close fills at bar `t + 1`'s open; an opposite
//!   signal closes the position and, when the direction allows, opens the
//!   reverse at the same open;
//! - stop loss and take profit are fractions of the entry fill price, checked
//!   on every bar's high and low from the entry bar on; when both are hit in
//!   one bar the stop counts; a gap through a level fills at the open;
//! - with leverage `L`, a position whose loss reaches its margin (a move of
//!   `1/L` against it) is liquidated at that price, unless its stop lies
//!   nearer; the variant then stops trading;
//! - slippage moves every fill but a liquidation against the trader; fees are
//!   charged per side on the fill's notional;
//! - equity is marked at each bar's close; a position still open at the end
//!   stays open, marked to the last close.
//!
//! One function, [`simulate`], serves both paths: the sweep passes a
//! [`Recorder`] that records nothing, the detail path one that keeps trades and
//! the equity curve, so both compute bit-identical metrics.

use bt_candles::CandlesView;

use crate::metrics::Accumulator;

/// Which sides a variant may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Long,
    Short,
    Both,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Long => "long",
            Self::Short => "short",
            Self::Both => "both",
        }
    }

    pub(crate) fn allows(self, side: i8) -> bool {
        match self {
            Self::Long => side > 0,
            Self::Short => side < 0,
            Self::Both => true,
        }
    }
}

/// Money management and costs of one variant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimParams {
    pub initial_balance: f64,
    pub direction: Direction,
    /// Margin per position as a fraction of equity (0, 1].
    pub size: f64,
    /// >= 1.
    pub leverage: f64,
    /// Fraction of the entry price, e.g. 0.02; `None` for no stop.
    pub stop_loss: Option<f64>,
    pub take_profit: Option<f64>,
    /// Fee per side in basis points of notional.
    pub fee_bps: f64,
    /// Slippage in basis points, against the trader.
    pub slippage_bps: f64,
}

impl SimParams {
    /// Fee and slippage per side as fractions.
    #[inline(always)]
    pub(crate) fn costs(&self) -> (f64, f64) {
        (self.fee_bps * 1e-4, self.slippage_bps * 1e-4)
    }
}

/// Why a trade ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    Signal,
    StopLoss,
    TakeProfit,
    Liquidation,
    /// Still open at the end (marked to the last close).
    Open,
}

impl ExitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signal => "signal",
            Self::StopLoss => "stop_loss",
            Self::TakeProfit => "take_profit",
            Self::Liquidation => "liquidation",
            Self::Open => "open",
        }
    }
}

/// One round trip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    /// +1 long, -1 short.
    pub side: i8,
    pub entry_bar: usize,
    pub entry_ts: i64,
    pub entry_price: f64,
    pub exit_bar: usize,
    pub exit_ts: i64,
    /// The exit fill, or the last close for an open trade.
    pub exit_price: f64,
    pub quantity: f64,
    /// Entry and exit fees (entry only for an open trade).
    pub fees: f64,
    /// Net of fees.
    pub pnl: f64,
    /// `pnl` over the margin committed.
    pub return_on_margin: f64,
    pub reason: ExitReason,
}

/// What the detail path keeps; the sweep uses [`NoRecord`].
pub trait Recorder {
    fn trade(&mut self, trade: &Trade);
    fn equity(&mut self, bar: usize, equity: f64);
}

/// Records nothing (the sweep path).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRecord;

impl Recorder for NoRecord {
    #[inline(always)]
    fn trade(&mut self, _: &Trade) {}
    #[inline(always)]
    fn equity(&mut self, _: usize, _: f64) {}
}

/// Trades and the equity curve (the detail path).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Detail {
    pub trades: Vec<Trade>,
    /// Equity at each bar's close.
    pub equity: Vec<f64>,
}

impl Recorder for Detail {
    fn trade(&mut self, trade: &Trade) {
        self.trades.push(*trade);
    }
    fn equity(&mut self, _: usize, equity: f64) {
        self.equity.push(equity);
    }
}

/// An open position (shared by [`simulate`] and the lane kernel of the sweep,
/// so both run the same float operations in the same order).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position {
    pub(crate) side: i8,
    pub(crate) qty: f64,
    pub(crate) entry: f64,
    pub(crate) entry_bar: usize,
    pub(crate) margin: f64,
    pub(crate) entry_fee: f64,
    pub(crate) sl: f64,
    pub(crate) tp: f64,
    pub(crate) liq: f64,
}

impl Position {
    /// Opens side `s` at bar `bar`'s `open`: charges the entry fee to `cash`
    /// and `acc`.
    #[inline(always)]
    pub(crate) fn open(
        s: i8,
        open: f64,
        bar: usize,
        p: &SimParams,
        cash: &mut f64,
        acc: &mut Accumulator,
    ) -> Self {
        let (fee, slip) = p.costs();
        let side = f64::from(s);
        let price = open * (1.0 + side * slip);
        let margin = p.size * *cash;
        let qty = margin * p.leverage / price;
        let entry_fee = qty * price * fee;
        *cash -= entry_fee;
        acc.fee(entry_fee);
        Self {
            side: s,
            qty,
            entry: price,
            entry_bar: bar,
            margin,
            entry_fee,
            sl: p.stop_loss.map_or(f64::NAN, |f| price * (1.0 - side * f)),
            tp: p.take_profit.map_or(f64::NAN, |f| price * (1.0 + side * f)),
            liq: price * (1.0 - side / p.leverage),
        }
    }

    /// The fill of an exit on an opposite signal at `open`.
    #[inline(always)]
    pub(crate) fn signal_exit_price(&self, open: f64, slip: f64) -> f64 {
        if self.side > 0 { open * (1.0 - slip) } else { open * (1.0 + slip) }
    }

    /// A stop, liquidation or target within the bar, if any.
    #[inline(always)]
    pub(crate) fn exit_within(&self, open: f64, high: f64, low: f64, slip: f64) -> Option<(f64, ExitReason)> {
        if self.side > 0 {
            let stop_hit = low <= self.sl; // false when NaN
            let liq_hit = low <= self.liq;
            if stop_hit && !(liq_hit && self.liq > self.sl) {
                // A gap can carry the stop's fill past the liquidation price.
                let fill = open.min(self.sl) * (1.0 - slip);
                if fill > self.liq {
                    Some((fill, ExitReason::StopLoss))
                } else {
                    Some((self.liq, ExitReason::Liquidation))
                }
            } else if liq_hit {
                Some((self.liq, ExitReason::Liquidation))
            } else if high >= self.tp {
                Some((open.max(self.tp) * (1.0 - slip), ExitReason::TakeProfit))
            } else {
                None
            }
        } else {
            let stop_hit = high >= self.sl;
            let liq_hit = high >= self.liq;
            if stop_hit && !(liq_hit && self.liq < self.sl) {
                let fill = open.max(self.sl) * (1.0 + slip);
                if fill < self.liq {
                    Some((fill, ExitReason::StopLoss))
                } else {
                    Some((self.liq, ExitReason::Liquidation))
                }
            } else if liq_hit {
                Some((self.liq, ExitReason::Liquidation))
            } else if low <= self.tp {
                Some((open.min(self.tp) * (1.0 + slip), ExitReason::TakeProfit))
            } else {
                None
            }
        }
    }

    /// Closes at `price`: credits `cash`, records the trade in `acc`, and
    /// returns the exit fee.
    #[inline(always)]
    pub(crate) fn settle(&self, price: f64, fee: f64, cash: &mut f64, acc: &mut Accumulator) -> f64 {
        let side = f64::from(self.side);
        let gross = side * self.qty * (price - self.entry);
        let exit_fee = self.qty * price * fee;
        *cash += gross - exit_fee;
        let pnl = self.pnl(price, exit_fee);
        acc.trade(pnl, pnl / self.margin, exit_fee);
        exit_fee
    }

    #[inline(always)]
    fn pnl(&self, price: f64, exit_fee: f64) -> f64 {
        f64::from(self.side) * self.qty * (price - self.entry) - self.entry_fee - exit_fee
    }

    /// The trade record of this position ending at `bar` at `price`.
    fn trade(
        &self,
        bars: CandlesView<'_>,
        bar: usize,
        price: f64,
        exit_fee: f64,
        reason: ExitReason,
    ) -> Trade {
        let pnl = self.pnl(price, exit_fee);
        Trade {
            side: self.side,
            entry_bar: self.entry_bar,
            entry_ts: bars.ts[self.entry_bar],
            entry_price: self.entry,
            exit_bar: bar,
            exit_ts: bars.ts[bar],
            exit_price: price,
            quantity: self.qty,
            fees: self.entry_fee + exit_fee,
            pnl,
            return_on_margin: pnl / self.margin,
            reason,
        }
    }
}

/// Runs one variant. `signals[t]` is +1 (bullish), -1 (bearish) or 0 at bar
/// `t`'s close. Returns the streaming accumulator the metrics come from.
///
/// This is the reference path: the sweep's lane kernel (`lanes.rs`) must give
/// bit-identical accumulators.
pub fn simulate<R: Recorder>(
    bars: CandlesView<'_>,
    signals: &[i8],
    p: &SimParams,
    acc: &mut Accumulator,
    rec: &mut R,
) {
    let n = bars.len().min(signals.len());
    let (fee, slip) = p.costs();
    let mut cash = p.initial_balance;
    let mut pos: Option<Position> = None;
    let mut stopped = false;

    let close_position = |pos: &Position,
                          bar: usize,
                          price: f64,
                          reason: ExitReason,
                          cash: &mut f64,
                          acc: &mut Accumulator,
                          rec: &mut R| {
        let exit_fee = pos.settle(price, fee, cash, acc);
        rec.trade(&pos.trade(bars, bar, price, exit_fee, reason));
    };

    for i in 0..n {
        let open = bars.open[i];
        // 1. Last bar's signal fills at this open.
        if i > 0 && !stopped {
            let s = signals[i - 1];
            if s != 0 {
                if let Some(ps) = pos.as_ref().filter(|ps| ps.side == -s) {
                    let price = ps.signal_exit_price(open, slip);
                    close_position(ps, i, price, ExitReason::Signal, &mut cash, acc, rec);
                    pos = None;
                }
                if pos.is_none() && p.direction.allows(s) && cash > 0.0 {
                    pos = Some(Position::open(s, open, i, p, &mut cash, acc));
                }
            }
        }
        // 2. Stops, liquidation and targets within the bar.
        if let Some(ps) = pos.as_ref()
            && let Some((price, reason)) = ps.exit_within(open, bars.high[i], bars.low[i], slip)
        {
            close_position(ps, i, price, reason, &mut cash, acc, rec);
            pos = None;
            if reason == ExitReason::Liquidation {
                stopped = true;
                acc.liquidated = true;
            }
        }
        // 3. Mark to the close.
        let equity = match pos.as_ref() {
            Some(ps) => cash + f64::from(ps.side) * ps.qty * (bars.close[i] - ps.entry),
            None => cash,
        };
        acc.bar(bars.ts[i], equity, pos.is_some());
        rec.equity(i, equity);
    }
    if let Some(ps) = pos {
        let last = n - 1;
        let price = bars.close[last];
        acc.open_position = true;
        rec.trade(&ps.trade(bars, last, price, 0.0, ExitReason::Open));
    }
}

#[cfg(test)]
mod tests {
    use bt_candles::Columns;

    use super::*;

    /// Bars from (open, high, low, close), one minute apart.
    fn bars(rows: &[(f64, f64, f64, f64)]) -> Columns {
        let mut c = Columns::default();
        for (i, &(o, h, l, cl)) in rows.iter().enumerate() {
            c.push(i as i64 * 60_000, o, h, l, cl, 1.0);
        }
        c
    }

    fn params() -> SimParams {
        SimParams {
            initial_balance: 1000.0,
            direction: Direction::Long,
            size: 1.0,
            leverage: 1.0,
            stop_loss: None,
            take_profit: None,
            fee_bps: 0.0,
            slippage_bps: 0.0,
        }
    }

    fn run(c: &Columns, signals: &[i8], p: &SimParams) -> (Accumulator, Detail) {
        let mut acc = Accumulator::new(p.initial_balance);
        let mut d = Detail::default();
        simulate(c.view(), signals, p, &mut acc, &mut d);
        (acc, d)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn signal_fills_next_open_with_fees() {
        let c = bars(&[
            (100.0, 101.0, 99.0, 100.5),
            (101.0, 104.0, 100.0, 103.0),
            (103.0, 105.0, 102.0, 104.0),
            (104.0, 106.0, 103.0, 105.0),
            (102.0, 103.0, 100.0, 101.0),
        ]);
        let p = SimParams { fee_bps: 10.0, ..params() };
        let (acc, d) = run(&c, &[1, 0, -1, 0, 0], &p);
        let qty = 1000.0 / 101.0;
        assert_eq!(d.trades.len(), 1);
        let t = d.trades[0];
        assert_eq!((t.side, t.entry_bar, t.exit_bar, t.entry_price, t.exit_price), (1, 1, 3, 101.0, 104.0));
        assert_eq!(t.reason, ExitReason::Signal);
        let exit_fee = qty * 104.0 * 0.001;
        assert!(close(t.fees, 1.0 + exit_fee));
        assert!(close(t.pnl, qty * 3.0 - 1.0 - exit_fee));
        let cash = 999.0 + qty * 3.0 - exit_fee;
        assert!(close(d.equity[1], 999.0 + qty * 2.0));
        assert!(close(d.equity[2], 999.0 + qty * 3.0));
        assert_eq!(d.equity[0], 1000.0);
        assert!(close(d.equity[3], cash) && d.equity[4] == d.equity[3]);
        let m = acc.finish(60_000, 101.0 / 100.5 - 1.0);
        assert_eq!((m.trades, m.win_rate, m.exposure), (1, 1.0, 0.4));
        assert!(close(m.fees, 1.0 + exit_fee));
        assert!(close(m.final_equity, cash));
    }

    #[test]
    fn stop_counts_before_target_and_gaps_fill_at_open() {
        // Entry at 100 (bar 1): stop 98, target 102; bar 1 touches both -> stop at 98.
        let c = bars(&[(100.0, 100.0, 100.0, 100.0), (100.0, 103.0, 97.0, 99.0), (99.0, 99.0, 99.0, 99.0)]);
        let p = SimParams { stop_loss: Some(0.02), take_profit: Some(0.02), ..params() };
        let (_, d) = run(&c, &[1, 0, 0], &p);
        assert_eq!(
            (d.trades[0].exit_bar, d.trades[0].exit_price, d.trades[0].reason),
            (1, 98.0, ExitReason::StopLoss)
        );
        // Bar 2 gaps below the stop: fills at its open, 95.
        let c = bars(&[(100.0, 100.0, 100.0, 100.0), (100.0, 101.0, 99.0, 100.0), (95.0, 96.0, 94.0, 95.0)]);
        let (_, d) = run(&c, &[1, 0, 0], &p);
        assert_eq!((d.trades[0].exit_bar, d.trades[0].exit_price), (2, 95.0));
        // A gap up through the target fills at the open, 105.
        let c =
            bars(&[(100.0, 100.0, 100.0, 100.0), (100.0, 101.0, 99.0, 100.0), (105.0, 106.0, 104.0, 105.0)]);
        let (_, d) = run(&c, &[1, 0, 0], &p);
        assert_eq!((d.trades[0].exit_price, d.trades[0].reason), (105.0, ExitReason::TakeProfit));
    }

    #[test]
    fn both_directions_reverse_at_the_same_open_with_slippage() {
        let c = bars(&[
            (100.0, 100.0, 100.0, 100.0),
            (100.0, 100.0, 100.0, 100.0),
            (90.0, 90.0, 90.0, 90.0),
            (80.0, 80.0, 80.0, 80.0),
            (88.0, 88.0, 88.0, 88.0),
        ]);
        let p = SimParams { direction: Direction::Both, slippage_bps: 100.0, ..params() };
        let (acc, d) = run(&c, &[-1, 0, 1, 0, 0], &p);
        assert_eq!(d.trades.len(), 2);
        let (s, l) = (d.trades[0], d.trades[1]);
        assert_eq!((s.side, s.entry_price, s.exit_bar), (-1, 99.0, 3)); // sell 1 % below 100
        assert!(close(s.exit_price, 80.8)); // buy 1 % above 80
        let qty = 1000.0 / 99.0;
        assert!(close(s.pnl, qty * (99.0 - 80.8)));
        assert_eq!((l.side, l.entry_bar, l.reason), (1, 3, ExitReason::Open));
        assert!(close(l.entry_price, 80.8));
        let cash = 1000.0 + s.pnl;
        assert!(close(l.quantity, cash / 80.8));
        assert!(close(*d.equity.last().expect("equity"), cash + l.quantity * (88.0 - 80.8)));
        assert!(acc.open_position);
        // Long-only ignores the bearish signal: one long from bar 3.
        let (_, d) = run(&c, &[-1, 0, 1, 0, 0], &SimParams { direction: Direction::Long, ..p });
        assert_eq!(d.trades.len(), 1);
        assert_eq!(d.trades[0].entry_bar, 3);
    }

    #[test]
    fn leverage_liquidates_and_stops_trading() {
        // 10x long from 100: liquidation at 90 loses the margin (half the equity).
        let c = bars(&[
            (100.0, 100.0, 100.0, 100.0),
            (100.0, 100.0, 100.0, 100.0),
            (95.0, 96.0, 85.0, 92.0),
            (92.0, 92.0, 92.0, 92.0),
            (92.0, 92.0, 92.0, 92.0),
        ]);
        let p = SimParams { leverage: 10.0, size: 0.5, ..params() };
        let (acc, d) = run(&c, &[1, 0, 1, 1, 0], &p);
        assert_eq!(d.trades.len(), 1);
        let t = d.trades[0];
        assert_eq!((t.exit_bar, t.exit_price, t.reason), (2, 90.0, ExitReason::Liquidation));
        assert!(close(t.pnl, -500.0));
        assert!(close(t.return_on_margin, -1.0));
        assert_eq!(d.equity[2..], [500.0, 500.0, 500.0]);
        assert!(acc.liquidated);
        // A stop nearer than the liquidation price is taken instead.
        let (_, d) = run(&c, &[1, 0, 0, 0, 0], &SimParams { stop_loss: Some(0.05), ..p });
        assert_eq!((d.trades[0].exit_price, d.trades[0].reason), (95.0, ExitReason::StopLoss));
    }

    #[test]
    fn regression_stop_gapped_past_liquidation_liquidates() {
        // 10x long from 100 with a 5 % stop (95, nearer than the liquidation at
        // 90); bar 2 opens at 80, past both: the loss stops at the margin.
        let c = bars(&[(100.0, 100.0, 100.0, 100.0), (100.0, 100.0, 100.0, 100.0), (80.0, 81.0, 79.0, 80.0)]);
        let p = SimParams { leverage: 10.0, size: 0.5, stop_loss: Some(0.05), ..params() };
        let (acc, d) = run(&c, &[1, 0, 0], &p);
        let t = d.trades[0];
        assert_eq!((t.exit_price, t.reason), (90.0, ExitReason::Liquidation));
        assert!(close(t.pnl, -500.0));
        assert!(acc.liquidated);
        // The mirror for a short: 10x short from 100, stop 105, liquidation 110, gap to 120.
        let c =
            bars(&[(100.0, 100.0, 100.0, 100.0), (100.0, 100.0, 100.0, 100.0), (120.0, 121.0, 119.0, 120.0)]);
        let (acc, d) = run(&c, &[-1, 0, 0], &SimParams { direction: Direction::Short, ..p });
        assert_eq!(d.trades[0].reason, ExitReason::Liquidation);
        assert!(close(d.trades[0].exit_price, 110.0));
        assert!(acc.liquidated);
    }
}
