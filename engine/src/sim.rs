//! The position simulator: one variant's signals through fills, stops,
//! liquidation and costs, bar by bar.
//!
//! Fill model (no look-ahead):
//! - a signal at bar `t`'s close fills at bar `t + 1`'s open: first an exit
//!   (an opposite entry implies one) closes the position, then an entry opens
//!   one when flat and the direction allows, so an opposite entry reverses at
//!   the same open (see [`flags`] for how a bar's rules become its signal);
//! - stop loss and take profit are fractions of the entry fill price, checked
//!   on every bar's high and low from the entry bar on; when both are hit in
//!   one bar the stop counts; a gap through a level fills at the open;
//! - a trailing stop `f` lies `f` below the best price since entry for a long
//!   (above it for a short): at bar `i` the best is the highest high of bars
//!   `entry..i` (lowest low for a short), the entry fill on the entry bar, so
//!   the bar that makes a new best never triggers on its own low (no intrabar
//!   order is assumed). It is checked, filled and liquidated like the stop
//!   loss; with both set the nearer level counts (the higher for a long), and
//!   the trade ends as `trailing_stop` only when that is the trailing level;
//! - `max_bars` `N` closes a position entered at bar `e` at bar `e + N`'s
//!   open, as a signal exit would (slippage, reason `max_bars`), before that
//!   open's signal fills, so an entry signal due there opens a new position;
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

use crate::execution::{BarOrder, Execution, Exposure, StopsFrom};
use crate::metrics::{Accumulator, ClosedTrade};

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

/// A bar's signal: bits of what its rules ask for at its close.
pub mod flags {
    pub const ENTER_LONG: u8 = 1;
    pub const EXIT_LONG: u8 = 2;
    pub const ENTER_SHORT: u8 = 4;
    pub const EXIT_SHORT: u8 = 8;

    /// The signal of a bar whose rules say enter/exit long, enter/exit short.
    ///
    /// Conflicts are ignored, as vectorbt's default does: an entry and an exit
    /// of the same side on one bar cancel each other, and so do a long and a
    /// short entry. An entry then implies the opposite side's exit (a reversal).
    /// Branch-free, so loops over columns vectorise.
    #[inline(always)]
    pub fn of(enter_long: bool, exit_long: bool, enter_short: bool, exit_short: bool) -> u8 {
        let (el, xl, es, xs) =
            (u8::from(enter_long), u8::from(exit_long), u8::from(enter_short), u8::from(exit_short));
        let long_ok = 1 ^ (el & xl);
        let short_ok = 1 ^ (es & xs);
        let (el, xl, es, xs) = (el & long_ok, xl & long_ok, es & short_ok, xs & short_ok);
        let both = el & es;
        let (el, es) = (el ^ both, es ^ both);
        (el * ENTER_LONG) | ((xl | es) * EXIT_LONG) | (es * ENTER_SHORT) | ((xs | el) * EXIT_SHORT)
    }

    /// The signal of a preset's +1 (bullish) / -1 (bearish) / 0.
    #[inline(always)]
    pub fn of_side(s: i8) -> u8 {
        of(s > 0, false, s < 0, false)
    }

    /// The side an entry opens: +1, -1 or 0 for none.
    #[inline(always)]
    pub(crate) fn entry_side(f: u8) -> i8 {
        i8::from(f & ENTER_LONG != 0) - i8::from(f & ENTER_SHORT != 0)
    }

    /// Whether `f` closes a position on `side`.
    #[inline(always)]
    pub(crate) fn exits(f: u8, side: i8) -> bool {
        f & if side > 0 { EXIT_LONG } else { EXIT_SHORT } != 0
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
    /// Fraction below the best price since entry (above for a short).
    pub trailing_stop: Option<f64>,
    /// Bars in a trade before it closes at the next open; `None` for no limit.
    pub max_bars: Option<u32>,
    /// Fee per side in basis points of notional.
    pub fee_bps: f64,
    /// Slippage in basis points, against the trader.
    pub slippage_bps: f64,
    /// Sizing, fee, stop and end-of-data conventions.
    pub execution: Execution,
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
    TrailingStop,
    MaxBars,
    Liquidation,
    /// Closed at the last bar's close (`close_at_end`).
    End,
    /// Still open at the end (marked to the last close).
    Open,
}

impl ExitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signal => "signal",
            Self::StopLoss => "stop_loss",
            Self::TakeProfit => "take_profit",
            Self::TrailingStop => "trailing_stop",
            Self::MaxBars => "max_bars",
            Self::Liquidation => "liquidation",
            Self::End => "end",
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
    pub(crate) entry_ts: i64,
    pub(crate) margin: f64,
    pub(crate) entry_fee: f64,
    pub(crate) sl: f64,
    pub(crate) tp: f64,
    pub(crate) liq: f64,
    /// The trailing stop's factor on `best` (`1 - f` long, `1 + f` short);
    /// NaN without one.
    pub(crate) trail: f64,
    /// The best price since entry: the entry fill, then the highest high
    /// (long) or lowest low (short) of the bars done so far.
    pub(crate) best: f64,
    /// The bar whose open closes the position (`max_bars`); `usize::MAX` for
    /// none.
    pub(crate) due: usize,
}

impl Position {
    /// Opens side `s` at bar `bar`'s `open` (its time `ts`): charges the
    /// entry fee to `cash` and `acc`. `None` when the budget buys nothing
    /// (`whole_units` below one unit's price).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open(
        s: i8,
        open: f64,
        bar: usize,
        ts: i64,
        p: &SimParams,
        cash: &mut f64,
        acc: &mut Accumulator,
    ) -> Option<Self> {
        let (fee, slip) = p.costs();
        let side = f64::from(s);
        let price = open * (1.0 + side * slip);
        let margin = p.size * *cash;
        let qty = p.execution.quantity(margin * p.leverage, price, fee);
        if qty.is_nan() || qty <= 0.0 {
            return None;
        }
        let entry_fee = qty * price * fee;
        *cash -= entry_fee;
        acc.fee(entry_fee);
        Some(Self {
            side: s,
            qty,
            entry: price,
            entry_bar: bar,
            entry_ts: ts,
            margin,
            entry_fee,
            sl: p.stop_loss.map_or(f64::NAN, |f| price * (1.0 - side * f)),
            tp: p.take_profit.map_or(f64::NAN, |f| price * (1.0 + side * f)),
            liq: price * (1.0 - side / p.leverage),
            trail: p.trailing_stop.map_or(f64::NAN, |f| 1.0 - side * f),
            best: price,
            due: p.max_bars.map_or(usize::MAX, |b| bar.saturating_add(b as usize)),
        })
    }

    /// The trailing stop's level for the current bar (NaN without one).
    #[inline(always)]
    pub(crate) fn trail_level(&self) -> f64 {
        self.best * self.trail
    }

    /// Takes a finished bar's high and low into the best price.
    #[inline(always)]
    pub(crate) fn track(&mut self, high: f64, low: f64) {
        if self.side > 0 {
            if high > self.best {
                self.best = high;
            }
        } else if low < self.best {
            self.best = low;
        }
    }

    /// The binding stop: the fixed stop or the trailing level, whichever lies
    /// nearer (NaN for none), with the reason it exits with.
    #[inline(always)]
    fn stop(&self) -> (f64, ExitReason) {
        let trail = self.trail_level();
        let fixed_binds = if self.side > 0 { self.sl >= trail } else { self.sl <= trail };
        if fixed_binds || trail.is_nan() {
            (self.sl, ExitReason::StopLoss)
        } else {
            (trail, ExitReason::TrailingStop)
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
        let (stop, why) = self.stop();
        if self.side > 0 {
            let stop_hit = low <= stop; // false when NaN
            let liq_hit = low <= self.liq;
            if stop_hit && !(liq_hit && self.liq > stop) {
                // A gap can carry the stop's fill past the liquidation price.
                let fill = open.min(stop) * (1.0 - slip);
                if fill > self.liq { Some((fill, why)) } else { Some((self.liq, ExitReason::Liquidation)) }
            } else if liq_hit {
                Some((self.liq, ExitReason::Liquidation))
            } else if high >= self.tp {
                Some((open.max(self.tp) * (1.0 - slip), ExitReason::TakeProfit))
            } else {
                None
            }
        } else {
            let stop_hit = high >= stop;
            let liq_hit = high >= self.liq;
            if stop_hit && !(liq_hit && self.liq < stop) {
                let fill = open.max(stop) * (1.0 + slip);
                if fill < self.liq { Some((fill, why)) } else { Some((self.liq, ExitReason::Liquidation)) }
            } else if liq_hit {
                Some((self.liq, ExitReason::Liquidation))
            } else if low <= self.tp {
                Some((open.min(self.tp) * (1.0 + slip), ExitReason::TakeProfit))
            } else {
                None
            }
        }
    }

    /// Closes at `price` on the bar of time `ts`: credits `cash`, records the
    /// trade in `acc`, and returns the exit fee.
    #[inline(always)]
    pub(crate) fn settle(&self, price: f64, fee: f64, ts: i64, cash: &mut f64, acc: &mut Accumulator) -> f64 {
        let side = f64::from(self.side);
        let gross = side * self.qty * (price - self.entry);
        let exit_fee = self.qty * price * fee;
        *cash += gross - exit_fee;
        let pnl = self.pnl(price, exit_fee);
        acc.trade(&ClosedTrade {
            pnl,
            return_on_margin: pnl / self.margin,
            return_on_notional: pnl / (self.qty * self.entry),
            duration_ms: ts - self.entry_ts,
            exit_fee,
        });
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

/// Runs one variant. `signals[t]` holds the [`flags`] of bar `t`'s close. Returns the streaming accumulator the metrics come from.
///
/// This is the reference path: the sweep's lane kernel (`lanes.rs`) must give
/// bit-identical accumulators.
pub fn simulate<R: Recorder>(
    bars: CandlesView<'_>,
    signals: &[u8],
    p: &SimParams,
    acc: &mut Accumulator,
    rec: &mut R,
) {
    let n = bars.len().min(signals.len());
    let (fee, slip) = p.costs();
    let mut cash = p.initial_balance;
    let mut pos: Option<Position> = None;
    let mut stopped = false;
    let stops_on_entry_bar = p.execution.stops_from == StopsFrom::EntryBar;
    let close_at_end = p.execution.close_at_end;
    let stops_first = p.execution.bar_order == BarOrder::StopsFirst;
    let exposure_any_time = p.execution.exposure == Exposure::AnyTime;

    let close_position = |pos: &Position,
                          bar: usize,
                          price: f64,
                          reason: ExitReason,
                          cash: &mut f64,
                          acc: &mut Accumulator,
                          rec: &mut R| {
        let exit_fee = pos.settle(price, fee, bars.ts[bar], cash, acc);
        rec.trade(&pos.trade(bars, bar, price, exit_fee, reason));
    };

    for i in 0..n {
        let open = bars.open[i];
        let (high, low) = (bars.high[i], bars.low[i]);
        // A position was open at some time in this bar (`exposure = "any_time"`).
        let mut held = pos.is_some();
        // 0. `bar_order = "stops_first"`: the position held at the open meets
        // its stops on the bar's range before any signal; a stop exit drops
        // the bar's signals.
        let mut checked = false;
        let mut skip_signals = false;
        if stops_first {
            checked = true;
            if let Some(ps) = pos.as_ref().filter(|ps| ps.entry_bar < i || stops_on_entry_bar)
                && let Some((price, reason)) = ps.exit_within(open, high, low, slip)
            {
                close_position(ps, i, price, reason, &mut cash, acc, rec);
                pos = None;
                skip_signals = true;
                if reason == ExitReason::Liquidation {
                    stopped = true;
                    acc.liquidated = true;
                }
            }
        }
        // 1. A position `max_bars` old closes at this open, then last bar's
        // signal fills at it.
        if let Some(ps) = pos.as_ref().filter(|ps| ps.due == i) {
            let price = ps.signal_exit_price(open, slip);
            close_position(ps, i, price, ExitReason::MaxBars, &mut cash, acc, rec);
            pos = None;
        }
        if i > 0 && !stopped && !skip_signals {
            let f = signals[i - 1];
            if f != 0 {
                if let Some(ps) = pos.as_ref().filter(|ps| flags::exits(f, ps.side)) {
                    let price = ps.signal_exit_price(open, slip);
                    close_position(ps, i, price, ExitReason::Signal, &mut cash, acc, rec);
                    pos = None;
                }
                let s = flags::entry_side(f);
                if s != 0 && pos.is_none() && p.direction.allows(s) && cash > 0.0 {
                    pos = Position::open(s, open, i, bars.ts[i], p, &mut cash, acc);
                    held |= pos.is_some();
                }
            }
        }
        // 2. Stops, liquidation and targets within the bar (from the bar
        // after the entry under `stops_from = "next_bar"`; a position
        // checked at step 0 is not checked again).
        if let Some(ps) = pos
            .as_ref()
            .filter(|ps| (!checked || ps.entry_bar == i) && (ps.entry_bar < i || stops_on_entry_bar))
            && let Some((price, reason)) = ps.exit_within(open, high, low, slip)
        {
            close_position(ps, i, price, reason, &mut cash, acc, rec);
            pos = None;
            if reason == ExitReason::Liquidation {
                stopped = true;
                acc.liquidated = true;
            }
        }
        // The bar's extremes move the trailing stop from the next bar on.
        if let Some(ps) = pos.as_mut() {
            ps.track(high, low);
        }
        // `close_at_end`: a position still open after the last bar's events
        // closes at that bar's open, as backtesting.py's `finalize_trades`
        // (a second pass over the last bar).
        if close_at_end
            && i + 1 == n
            && let Some(ps) = pos.as_ref()
        {
            let price = ps.signal_exit_price(open, slip);
            close_position(ps, i, price, ExitReason::End, &mut cash, acc, rec);
            pos = None;
        }
        // 3. Mark to the close.
        let equity = match pos.as_ref() {
            Some(ps) => cash + f64::from(ps.side) * ps.qty * (bars.close[i] - ps.entry),
            None => cash,
        };
        acc.bar(bars.ts[i], equity, pos.is_some() || (exposure_any_time && held));
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
    use crate::execution::{FeeMode, Sizing};
    use crate::metrics::{Annualization, Period};

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
            trailing_stop: None,
            max_bars: None,
            fee_bps: 0.0,
            slippage_bps: 0.0,
            execution: Execution::BT,
        }
    }

    fn run(c: &Columns, signals: &[i8], p: &SimParams) -> (Accumulator, Detail) {
        let mut acc = Accumulator::new(p.initial_balance);
        let mut d = Detail::default();
        let signals: Vec<u8> = signals.iter().map(|&s| flags::of_side(s)).collect();
        simulate(c.view(), &signals, p, &mut acc, &mut d);
        (acc, d)
    }

    fn minutes(c: &Columns) -> Period {
        Period::of(&c.ts, 60_000, Annualization::Crypto)
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
        let m = acc.finish(&minutes(&c), 101.0 / 100.5 - 1.0);
        assert_eq!((m.trades, m.win_rate, m.exposure), (1, 1.0, 0.4));
        assert!(close(m.fees, 1.0 + exit_fee));
        assert!(close(m.final_equity, cash));
    }

    fn exec(sizing: Sizing, fee: FeeMode, stops_from: StopsFrom, close_at_end: bool) -> Execution {
        Execution { sizing, fee, stops_from, close_at_end, ..Execution::BT }
    }

    #[test]
    fn whole_units_with_the_fee_inside_buy_what_the_budget_pays_for() {
        let c = bars(&[
            (100.0, 101.0, 99.0, 100.5),
            (100.5, 104.0, 100.0, 103.0),
            (103.0, 105.0, 102.0, 104.0),
            (104.0, 106.0, 103.0, 105.0),
        ]);
        let p = SimParams {
            fee_bps: 20.0,
            execution: exec(Sizing::WholeUnits, FeeMode::Inside, StopsFrom::EntryBar, false),
            ..params()
        };
        let (acc, d) = run(&c, &[1, 0, -1, 0], &p);
        // 1000 / (100.5 x 1.002) = 9.93: 9 units.
        let t = d.trades[0];
        assert_eq!((t.quantity, t.entry_price, t.exit_price), (9.0, 100.5, 104.0));
        let fees = 9.0 * 100.5 * 0.002 + 9.0 * 104.0 * 0.002;
        assert!(close(t.fees, fees) && close(t.pnl, 9.0 * 3.5 - fees));
        assert!(close(acc.finish(&minutes(&c), 0.0).final_equity, 1000.0 + 9.0 * 3.5 - fees));
        // Fractional with the fee inside: the fee and the units spend exactly the cash.
        let p = SimParams {
            execution: exec(Sizing::Fractional, FeeMode::Inside, StopsFrom::EntryBar, false),
            ..p
        };
        let (_, d) = run(&c, &[1, 0, -1, 0], &p);
        let q = d.trades[0].quantity;
        assert_eq!(q, 1000.0 / (100.5 + 100.5 * 0.002));
        assert!(close(q * 100.5 * 1.002, 1000.0));
        // Not one unit affordable: no trade, no fee.
        let p = SimParams {
            initial_balance: 50.0,
            execution: exec(Sizing::WholeUnits, FeeMode::Inside, StopsFrom::EntryBar, false),
            ..p
        };
        let (acc, d) = run(&c, &[1, 0, -1, 0], &p);
        assert!(d.trades.is_empty());
        assert_eq!((acc.fees, acc.finish(&minutes(&c), 0.0).final_equity), (0.0, 50.0));
    }

    #[test]
    fn stops_from_the_next_bar_ignore_the_entry_bars_range() {
        // Entry at 100 on bar 1, whose low (94) is under the 5 % stop (95).
        let c = bars(&[
            (100.0, 100.0, 100.0, 100.0),
            (100.0, 101.0, 94.0, 99.0),
            (99.0, 100.0, 96.0, 97.0),
            (97.0, 98.0, 93.0, 94.0),
        ]);
        let p = SimParams { stop_loss: Some(0.05), ..params() };
        let (_, d) = run(&c, &[1, 0, 0, 0], &p);
        assert_eq!((d.trades[0].exit_bar, d.trades[0].exit_price), (1, 95.0));
        let p =
            SimParams { execution: exec(Sizing::Fractional, FeeMode::OnTop, StopsFrom::NextBar, false), ..p };
        let (_, d) = run(&c, &[1, 0, 0, 0], &p);
        assert_eq!(
            (d.trades[0].exit_bar, d.trades[0].exit_price, d.trades[0].reason),
            (3, 95.0, ExitReason::StopLoss)
        );
    }

    #[test]
    fn close_at_end_settles_the_last_position_at_the_last_close() {
        let c =
            bars(&[(100.0, 100.0, 100.0, 100.0), (100.0, 101.0, 99.0, 100.0), (101.0, 111.0, 100.0, 110.0)]);
        let p = SimParams { fee_bps: 10.0, ..params() };
        let (acc, d) = run(&c, &[1, 0, 0], &p);
        assert_eq!(d.trades[0].reason, ExitReason::Open);
        let open = acc.finish(&minutes(&c), 0.0);
        assert_eq!((open.trades, open.open_position), (0, true));
        let p =
            SimParams { execution: exec(Sizing::Fractional, FeeMode::OnTop, StopsFrom::EntryBar, true), ..p };
        let (acc, d) = run(&c, &[1, 0, 0], &p);
        let t = d.trades[0];
        // At the last bar's open, as backtesting.py's finalize_trades.
        assert_eq!((t.exit_bar, t.exit_price, t.reason), (2, 101.0, ExitReason::End));
        let m = acc.finish(&minutes(&c), 0.0);
        assert_eq!((m.trades, m.open_position, m.win_rate), (1, false, 1.0));
        // The last bar's equity is the cash after the exit fee.
        let q = 10.0;
        let cash = 1000.0 - 1.0 + q * 1.0 - q * 101.0 * 0.001;
        assert!(close(*d.equity.last().expect("equity"), cash) && close(m.final_equity, cash));
        assert!(close(open.final_equity, 999.0 + q * 10.0));
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

    #[test]
    fn trailing_stop_follows_the_best_price_from_the_next_bar_on() {
        // Long from 100 with a 12.5 % trailing stop: levels 87.5 (entry bar),
        // 98 (best 112), 105 (best 120). Bar 2 makes the new high 120 and dips
        // to 99, under 105, without exiting: its high only counts from bar 3.
        let rows = [
            (100.0, 100.0, 100.0, 100.0),
            (100.0, 112.0, 90.0, 110.0),
            (110.0, 120.0, 99.0, 118.0),
            (118.0, 119.0, 104.0, 110.0),
            (110.0, 110.0, 110.0, 110.0),
        ];
        let p = SimParams { trailing_stop: Some(0.125), ..params() };
        let (acc, d) = run(&bars(&rows), &[1, 0, 0, 0, 0], &p);
        assert_eq!(d.trades.len(), 1);
        let t = d.trades[0];
        assert_eq!(
            (t.entry_bar, t.exit_bar, t.exit_price, t.reason),
            (1, 3, 105.0, ExitReason::TrailingStop)
        );
        assert_eq!(t.pnl, 50.0);
        assert_eq!(d.equity, [1000.0, 1100.0, 1180.0, 1050.0, 1050.0]);
        assert!(!acc.open_position);
        // Bar 3 gaps under the level: the fill is its open, 100.
        let mut gap = rows;
        gap[3] = (100.0, 101.0, 95.0, 98.0);
        let (_, d) = run(&bars(&gap), &[1, 0, 0, 0, 0], &p);
        assert_eq!((d.trades[0].exit_bar, d.trades[0].exit_price), (3, 100.0));
        // With 1 % slippage: in at 101, levels 88.375, 98, 105; out at 105 × 0.99.
        let (_, d) = run(&bars(&rows), &[1, 0, 0, 0, 0], &SimParams { slippage_bps: 100.0, ..p });
        assert!(close(d.trades[0].entry_price, 101.0) && d.trades[0].exit_bar == 3);
        assert!(close(d.trades[0].exit_price, 103.95));
        // A fixed stop at 95 lies nearer than the trailing 87.5: bar 1's low
        // 90 hits it, and the trade ends as a stop loss.
        let (_, d) = run(&bars(&rows), &[1, 0, 0, 0, 0], &SimParams { stop_loss: Some(0.05), ..p });
        assert_eq!((d.trades[0].exit_bar, d.trades[0].exit_price), (1, 95.0));
        assert_eq!(d.trades[0].reason, ExitReason::StopLoss);
        // A fixed stop at 80 lies further: the trailing stop exits as before.
        let (_, d) = run(&bars(&rows), &[1, 0, 0, 0, 0], &SimParams { stop_loss: Some(0.2), ..p });
        assert_eq!((d.trades[0].exit_price, d.trades[0].reason), (105.0, ExitReason::TrailingStop));
    }

    #[test]
    fn trailing_stop_of_a_short_follows_the_lowest_low() {
        // Short from 100 with a 12.5 % trailing stop: levels 112.5, 99 (best
        // 88), 90 (best 80). Bar 2 makes the new low 80 and rises to 98, over
        // 90, without exiting; bar 3 opens at 95, past 90: filled at the open.
        let c = bars(&[
            (100.0, 100.0, 100.0, 100.0),
            (100.0, 110.0, 88.0, 90.0),
            (90.0, 98.0, 80.0, 85.0),
            (95.0, 96.0, 94.0, 95.0),
        ]);
        let p = SimParams { direction: Direction::Short, trailing_stop: Some(0.125), ..params() };
        let (_, d) = run(&c, &[-1, 0, 0, 0], &p);
        assert_eq!(d.trades.len(), 1);
        let t = d.trades[0];
        assert_eq!((t.side, t.entry_bar, t.exit_bar, t.exit_price), (-1, 1, 3, 95.0));
        assert_eq!((t.reason, t.pnl), (ExitReason::TrailingStop, 50.0));
        // A 5 % fixed stop (105) lies nearer than the trailing 112.5: bar 1's
        // high 110 reaches it.
        let (_, d) = run(&c, &[-1, 0, 0, 0], &SimParams { stop_loss: Some(0.05), ..p });
        assert_eq!((d.trades[0].exit_bar, d.trades[0].exit_price), (1, 105.0));
        assert_eq!(d.trades[0].reason, ExitReason::StopLoss);
    }

    #[test]
    fn trailing_stop_past_liquidation_liquidates() {
        // 10x long from 100: liquidation at 90. A 5 % trailing stop rises to
        // 110 × 0.95 = 104.5 after bar 1; bar 2 gaps to 80, past both.
        let c = bars(&[(100.0, 100.0, 100.0, 100.0), (100.0, 110.0, 100.0, 110.0), (80.0, 81.0, 79.0, 80.0)]);
        let p = SimParams { leverage: 10.0, size: 0.5, trailing_stop: Some(0.05), ..params() };
        let (acc, d) = run(&c, &[1, 0, 0], &p);
        assert_eq!((d.trades[0].exit_price, d.trades[0].reason), (90.0, ExitReason::Liquidation));
        assert!(acc.liquidated);
    }

    #[test]
    fn max_bars_closes_at_the_open_n_bars_after_entry() {
        let flat = |v: f64| (v, v, v, v);
        let c =
            bars(&[flat(100.0), flat(100.0), flat(102.0), flat(104.0), flat(103.0), flat(101.0), flat(99.0)]);
        let p = SimParams { max_bars: Some(2), ..params() };
        // In at bar 1's open, out at bar 3's; the bar-2 signal then opens
        // again at that same open, and that trade ends at bar 5's.
        let (acc, d) = run(&c, &[1, 0, 1, 0, 0, 0, 0], &p);
        let trades: Vec<_> = d
            .trades
            .iter()
            .map(|t| (t.entry_bar, t.entry_price, t.exit_bar, t.exit_price, t.reason))
            .collect();
        assert_eq!(
            trades,
            [(1, 100.0, 3, 104.0, ExitReason::MaxBars), (3, 104.0, 5, 101.0, ExitReason::MaxBars)]
        );
        let q2 = 1040.0 / 104.0;
        assert_eq!(d.equity[..4], [1000.0, 1000.0, 1020.0, 1040.0]);
        assert!(close(d.equity[5], 1040.0 - 3.0 * q2) && d.equity[6] == d.equity[5]);
        assert_eq!(acc.finish(&minutes(&c), 0.0).trades, 2);
        // A stop within the earlier bars still applies.
        let c = bars(&[flat(100.0), flat(100.0), (100.0, 100.0, 97.0, 99.0), flat(104.0)]);
        let (_, d) = run(&c, &[1, 0, 0, 0], &SimParams { stop_loss: Some(0.02), ..p });
        assert_eq!((d.trades[0].exit_bar, d.trades[0].reason), (2, ExitReason::StopLoss));
        // One bar, with 1 % slippage: in at 101, out at bar 2's open × 0.99.
        let (_, d) = run(&c, &[1, 0, 0, 0], &SimParams { max_bars: Some(1), slippage_bps: 100.0, ..p });
        assert!(close(d.trades[0].entry_price, 101.0) && d.trades[0].exit_bar == 2);
        assert!(close(d.trades[0].exit_price, 99.0));
        assert_eq!(d.trades[0].reason, ExitReason::MaxBars);
    }
}
