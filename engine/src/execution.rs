//! Execution conventions: how a fill is sized, how its fee is paid, when
//! stops start to act, and what happens to a position open at the end. A
//! bundle's `[execution]` table picks a `profile` (bt's own conventions, or
//! backtesting.py's or vectorbt's, so their users get the numbers they know)
//! and may override each option:
//!
//! | option | `bt` | `backtesting.py` | `vectorbt` |
//! |---|---|---|---|
//! | `sizing` | `fractional` | `whole_units` | `fractional` |
//! | `fee` | `on_top` | `inside` | `inside` |
//! | `stops_from` | `entry_bar` | `next_bar` | `entry_bar` |
//! | `close_at_end` | `false` | `true` | `false` |
//! | `bar_order` | `signals_first` | `signals_first` | `stops_first` |
//! | `exposure` | `at_close` | `any_time` | `at_close` |
//!
//! - `sizing`: `fractional` buys `budget / price` units (any fraction);
//!   `whole_units` rounds down to whole units, and an entry that cannot buy
//!   one unit is skipped. The budget is margin x leverage (margin: `size` x
//!   cash).
//! - `fee`: `on_top` spends the whole budget on units and pays the fee
//!   besides; `inside` keeps the fee within the budget: `budget / (price x (1
//!   + fee))` units (backtesting.py's commission-adjusted price, vectorbt's
//!   `size = inf`).
//! - `stops_from`: `entry_bar` checks stop loss, take profit, trailing stop
//!   and liquidation on the entry bar's range already; `next_bar` from the
//!   bar after it (a stop set in backtesting.py's `next()` once the trade
//!   exists).
//! - `close_at_end`: close a position still open after the last bar's
//!   events at that bar's open (fees and slippage as a signal exit), as
//!   backtesting.py's `finalize_trades` does (a second pass over the last
//!   bar); the last bar's equity is then the cash. Without it the position
//!   stays open, marked to the last close, and out of the trade statistics.
//! - `bar_order`: `signals_first` fills the previous bar's signal at the
//!   open, then checks the stops on the bar's range; `stops_first` checks
//!   the stops of the position held at the open first, and a stop exit drops
//!   the bar's signals (vectorbt's `from_signals`).
//! - `exposure`: `at_close` counts the bars that close with a position open;
//!   `any_time` the bars a position was held at any time, entry and exit bars
//!   included (backtesting.py's Exposure Time).
//!
//! The sweep's lane kernel runs `bt`'s conventions; a bundle with any other
//! runs the scalar simulator (same results, fewer variants per second).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A set of conventions by the tool it mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Profile {
    #[default]
    #[serde(rename = "bt")]
    Bt,
    #[serde(rename = "backtesting.py")]
    BacktestingPy,
    #[serde(rename = "vectorbt")]
    Vectorbt,
}

/// How an entry's quantity is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sizing {
    Fractional,
    WholeUnits,
}

/// Whether the entry fee comes out of the position's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeMode {
    OnTop,
    Inside,
}

/// The first bar whose range a position's stops are checked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopsFrom {
    EntryBar,
    NextBar,
}

/// The order of a bar's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarOrder {
    SignalsFirst,
    StopsFirst,
}

/// Which bars count as exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    AtClose,
    AnyTime,
}

/// The `[execution]` table as written: a profile and overrides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionSpec {
    #[serde(default)]
    pub profile: Profile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing: Option<Sizing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<FeeMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stops_from: Option<StopsFrom>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_at_end: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bar_order: Option<BarOrder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure: Option<Exposure>,
}

impl ExecutionSpec {
    /// Whether the table says nothing (bt's conventions): left out of a
    /// stored spec then.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The profile's options with the overrides applied.
    pub fn resolve(&self) -> Execution {
        let p = Execution::of(self.profile);
        Execution {
            sizing: self.sizing.unwrap_or(p.sizing),
            fee: self.fee.unwrap_or(p.fee),
            stops_from: self.stops_from.unwrap_or(p.stops_from),
            close_at_end: self.close_at_end.unwrap_or(p.close_at_end),
            bar_order: self.bar_order.unwrap_or(p.bar_order),
            exposure: self.exposure.unwrap_or(p.exposure),
        }
    }
}

/// The conventions a simulation runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Execution {
    pub sizing: Sizing,
    pub fee: FeeMode,
    pub stops_from: StopsFrom,
    pub close_at_end: bool,
    pub bar_order: BarOrder,
    pub exposure: Exposure,
}

impl Default for Execution {
    fn default() -> Self {
        Self::BT
    }
}

impl Execution {
    /// bt's own conventions (the sweep's lane kernel runs these).
    pub const BT: Self = Self {
        sizing: Sizing::Fractional,
        fee: FeeMode::OnTop,
        stops_from: StopsFrom::EntryBar,
        close_at_end: false,
        bar_order: BarOrder::SignalsFirst,
        exposure: Exposure::AtClose,
    };

    /// A profile's options.
    pub const fn of(profile: Profile) -> Self {
        match profile {
            Profile::Bt => Self::BT,
            Profile::BacktestingPy => Self {
                sizing: Sizing::WholeUnits,
                fee: FeeMode::Inside,
                stops_from: StopsFrom::NextBar,
                close_at_end: true,
                bar_order: BarOrder::SignalsFirst,
                exposure: Exposure::AnyTime,
            },
            Profile::Vectorbt => Self {
                sizing: Sizing::Fractional,
                fee: FeeMode::Inside,
                stops_from: StopsFrom::NextBar,
                close_at_end: false,
                bar_order: BarOrder::StopsFirst,
                exposure: Exposure::AtClose,
            },
        }
    }

    /// Units bought with `budget` at fill price `price` and fee fraction
    /// `fee`: 0 when not one whole unit can be bought under `whole_units`.
    #[inline(always)]
    pub(crate) fn quantity(&self, budget: f64, price: f64, fee: f64) -> f64 {
        let unit_cost = match self.fee {
            FeeMode::OnTop => price,
            // backtesting.py's adjusted price plus commission per unit.
            FeeMode::Inside => price + price * fee,
        };
        let q = budget / unit_cost;
        match self.sizing {
            Sizing::Fractional => q,
            Sizing::WholeUnits => q.floor(),
        }
    }
}

impl Sizing {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fractional => "fractional",
            Self::WholeUnits => "whole_units",
        }
    }
}

impl FeeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnTop => "on_top",
            Self::Inside => "inside",
        }
    }
}

impl StopsFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EntryBar => "entry_bar",
            Self::NextBar => "next_bar",
        }
    }
}

impl BarOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignalsFirst => "signals_first",
            Self::StopsFirst => "stops_first",
        }
    }
}

impl Exposure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AtClose => "at_close",
            Self::AnyTime => "any_time",
        }
    }
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bt => "bt",
            Self::BacktestingPy => "backtesting.py",
            Self::Vectorbt => "vectorbt",
        }
    }
}

impl fmt::Display for Execution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sizing {}, fee {}, stops_from {}, close_at_end {}, bar_order {}, exposure {}",
            self.sizing.as_str(),
            self.fee.as_str(),
            self.stops_from.as_str(),
            self.close_at_end,
            self.bar_order.as_str(),
            self.exposure.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_set_their_options_and_overrides_win() {
        let spec = |t: &str| toml::from_str::<ExecutionSpec>(t).map_err(|e| e.to_string());
        assert_eq!(spec("").map(|s| s.resolve()), Ok(Execution::BT));
        let b = spec("profile = \"backtesting.py\"").expect("profile").resolve();
        assert_eq!(
            (b.sizing, b.fee, b.stops_from, b.close_at_end),
            (Sizing::WholeUnits, FeeMode::Inside, StopsFrom::NextBar, true)
        );
        let v = spec("profile = \"vectorbt\"\nclose_at_end = true\nstops_from = \"entry_bar\"").expect("vbt");
        let v = v.resolve();
        assert_eq!(
            (v.sizing, v.fee, v.stops_from, v.close_at_end),
            (Sizing::Fractional, FeeMode::Inside, StopsFrom::EntryBar, true)
        );
        assert!(spec("profile = \"zipline\"").expect_err("unknown").contains("zipline"));
        assert!(spec("sizing = \"round\"").expect_err("unknown").contains("fractional"));
        assert!(spec("slippage = 1").expect_err("unknown field").contains("slippage"));
        assert_eq!(
            b.to_string(),
            "sizing whole_units, fee inside, stops_from next_bar, close_at_end true, bar_order signals_first, exposure any_time"
        );
        let v = spec("profile = \"vectorbt\"").expect("vbt").resolve();
        assert_eq!(
            (v.bar_order, v.exposure, v.stops_from),
            (BarOrder::StopsFirst, Exposure::AtClose, StopsFrom::NextBar)
        );
    }

    #[test]
    fn quantities_follow_sizing_and_fee() {
        let q = |sizing, fee| Execution { sizing, fee, ..Execution::BT }.quantity(10_000.0, 300.0, 0.002);
        assert_eq!(q(Sizing::Fractional, FeeMode::OnTop), 10_000.0 / 300.0);
        assert_eq!(q(Sizing::Fractional, FeeMode::Inside), 10_000.0 / (300.0 + 300.0 * 0.002));
        assert_eq!(q(Sizing::WholeUnits, FeeMode::OnTop), 33.0);
        // 10,000 / 300.6 = 33.27: 33 units; at 303.1 a unit, 32.99: 32.
        assert_eq!(q(Sizing::WholeUnits, FeeMode::Inside), 33.0);
        let e = Execution { sizing: Sizing::WholeUnits, fee: FeeMode::Inside, ..Execution::BT };
        assert_eq!(e.quantity(10_000.0, 302.5, 0.002), 32.0);
        assert_eq!(e.quantity(100.0, 302.5, 0.002), 0.0);
    }
}
