//! bt's result metrics, declared once.
//!
//! The [`metrics!`] invocation below is the only list of metrics in bt. It
//! generates the [`Metrics`] struct (a variant's numbers), the [`MetricName`]
//! enum (every name, parsed and printed by serde, clap and `FromStr`), the
//! stored columns ([`MetricName::ALL`] in table order, [`Value`] kinds for
//! `float8`/`bigint`) and the sort whitelist ([`MetricName::from_str`]: a name
//! not declared here is refused before it reaches SQL). The engine computes
//! the struct, the queue stores and ranks by the names, the API and the CLI
//! print them: a metric added here appears everywhere, and a migration adds
//! its column (a queue test compares the table to [`MetricName::ALL`]).
//!
//! This crate depends on serde alone, so the store (which knows nothing of
//! the engine) and the engine share it without pulling each other in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A metric's value as stored: `float8` or `bigint`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Float(f64),
    Int(i64),
}

impl Value {
    /// The value as a float (ranking, printing).
    pub fn as_f64(self) -> f64 {
        match self {
            Self::Float(v) => v,
            Self::Int(v) => v as f64,
        }
    }
}

/// The Rust types a metric may have.
pub trait MetricType: Copy {
    /// Stored as `bigint` (else `float8`).
    const INTEGER: bool;
    fn to_value(self) -> Value;
    /// From a stored value of this type's kind (a float truncates).
    fn from_value(v: Value) -> Self;
}

impl MetricType for f64 {
    const INTEGER: bool = false;
    fn to_value(self) -> Value {
        Value::Float(self)
    }
    fn from_value(v: Value) -> Self {
        v.as_f64()
    }
}

impl MetricType for i64 {
    const INTEGER: bool = true;
    fn to_value(self) -> Value {
        Value::Int(self)
    }
    fn from_value(v: Value) -> Self {
        match v {
            Value::Int(i) => i,
            Value::Float(f) => f as i64,
        }
    }
}

impl MetricType for u64 {
    const INTEGER: bool = true;
    fn to_value(self) -> Value {
        Value::Int(self as i64)
    }
    fn from_value(v: Value) -> Self {
        i64::from_value(v).max(0) as u64
    }
}

/// Which way a metric is better: the default sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

macro_rules! metrics {
    ($( $(#[doc = $doc:literal])+ $field:ident / $variant:ident : $ty:ty, $better:ident; )+) => {
        /// A variant's metrics (see the crate docs; the conventions are
        /// `bt_engine::metrics`'s).
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct Metrics {
            $( $(#[doc = $doc])+ pub $field: $ty, )+
            /// A position was still open at the last bar (marked to its close).
            pub open_position: bool,
            /// A position was liquidated; the variant stopped trading.
            pub liquidated: bool,
        }

        /// A metric's name: one per field of [`Metrics`], written as the field.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum MetricName {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl MetricName {
            /// Every metric, in the stored column order.
            pub const ALL: &'static [MetricName] = &[$(MetricName::$variant),+];

            /// The name as written in bundles, columns, URLs and flags.
            pub const fn as_str(self) -> &'static str {
                match self { $(MetricName::$variant => stringify!($field)),+ }
            }

            /// What it measures, in its unit (the declaration's doc comment).
            pub fn describe(self) -> &'static str {
                match self { $(MetricName::$variant => concat!($($doc),+)),+ }.trim()
            }

            /// Stored as `bigint` (else `float8`).
            pub const fn is_integer(self) -> bool {
                match self { $(MetricName::$variant => <$ty as MetricType>::INTEGER),+ }
            }

            /// Which way it is better.
            pub const fn better(self) -> Better {
                match self { $(MetricName::$variant => Better::$better),+ }
            }
        }

        impl Metrics {
            /// Every metric's name, in the stored column order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($field)),+];

            /// One metric as stored.
            pub fn value(&self, name: MetricName) -> Value {
                match name { $(MetricName::$variant => MetricType::to_value(self.$field)),+ }
            }

            /// One metric as a float (ranking, printing).
            pub fn get(&self, name: MetricName) -> f64 {
                self.value(name).as_f64()
            }

            /// Metrics from a source of stored values (a database row), one
            /// call per metric in [`MetricName::ALL`] order.
            pub fn try_from_values<E>(
                mut value: impl FnMut(MetricName) -> Result<Value, E>,
                open_position: bool,
                liquidated: bool,
            ) -> Result<Self, E> {
                Ok(Self {
                    $( $field: MetricType::from_value(value(MetricName::$variant)?), )+
                    open_position,
                    liquidated,
                })
            }
        }
    };
}

metrics! {
    /// Equity at the last bar's close, in account currency.
    final_equity / FinalEquity: f64, Higher;
    /// `final_equity / initial_balance - 1`.
    total_return / TotalReturn: f64, Higher;
    /// Compound annual growth over the bars' calendar span (365.25-day years).
    cagr / Cagr: f64, Higher;
    /// Largest fall from a running equity peak, as a fraction of the peak.
    max_drawdown / MaxDrawdown: f64, Lower;
    /// Longest time from an equity peak to its recovery (or the end), in milliseconds.
    max_drawdown_duration_ms / MaxDrawdownDurationMs: i64, Lower;
    /// Mean per-bar return / its sample standard deviation x sqrt(bars per year).
    sharpe / Sharpe: f64, Higher;
    /// Mean per-bar return / downside deviation x sqrt(bars per year).
    sortino / Sortino: f64, Higher;
    /// CAGR / max drawdown.
    calmar / Calmar: f64, Higher;
    /// Fraction of closed trades with a positive pnl.
    win_rate / WinRate: f64, Higher;
    /// Gross profit / gross loss of closed trades, in cash (infinite with no loss).
    profit_factor / ProfitFactor: f64, Higher;
    /// Mean net pnl per closed trade, in account currency.
    expectancy / Expectancy: f64, Higher;
    /// Mean return on margin per closed trade (pnl / margin committed).
    avg_trade_return / AvgTradeReturn: f64, Higher;
    /// Closed trades.
    trades / Trades: u64, Higher;
    /// Fraction of bars that closed with a position open.
    exposure / Exposure: f64, Higher;
    /// Entry and exit fees paid, in account currency.
    fees / Fees: f64, Lower;
    /// `last close / first close - 1` of the bars run.
    buy_and_hold_return / BuyAndHoldReturn: f64, Higher;
    /// Best closed trade's return on its entry notional (pnl / (quantity x entry price)).
    best_trade / BestTrade: f64, Higher;
    /// Worst closed trade's return on its entry notional.
    worst_trade / WorstTrade: f64, Higher;
    /// Mean return on entry notional of the closed trades with a positive pnl.
    avg_winning_trade / AvgWinningTrade: f64, Higher;
    /// Mean return on entry notional of the closed trades with a negative pnl.
    avg_losing_trade / AvgLosingTrade: f64, Higher;
    /// Geometric mean of the closed trades' returns on entry notional (0 if one lost everything).
    avg_trade_geometric / AvgTradeGeometric: f64, Higher;
    /// Mean time from entry fill to exit fill of closed trades, in milliseconds.
    avg_trade_duration_ms / AvgTradeDurationMs: f64, Lower;
    /// Longest time from entry fill to exit fill of a closed trade, in milliseconds.
    max_trade_duration_ms / MaxTradeDurationMs: i64, Lower;
    /// Sum of winning trades' returns / sum of losing trades' returns (on entry notional; infinite with no loss).
    profit_factor_pct / ProfitFactorPct: f64, Higher;
    /// Mean return on entry notional per closed trade.
    expectancy_pct / ExpectancyPct: f64, Higher;
    /// System quality number: sqrt(trades) x mean pnl / sample standard deviation of pnl.
    sqn / Sqn: f64, Higher;
    /// Kelly criterion: win rate - (1 - win rate) / (mean winning pnl / mean losing pnl).
    kelly / Kelly: f64, Higher;
}

/// A name that is not a metric; its message lists them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMetric(pub String);

impl fmt::Display for UnknownMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a metric (one of {})", self.0, Metrics::NAMES.join(", "))
    }
}

impl std::error::Error for UnknownMetric {}

impl FromStr for MetricName {
    type Err = UnknownMetric;

    fn from_str(s: &str) -> Result<Self, UnknownMetric> {
        MetricName::ALL.iter().copied().find(|m| m.as_str() == s).ok_or_else(|| UnknownMetric(s.to_owned()))
    }
}

impl fmt::Display for MetricName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MetricName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MetricName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Metrics {
    /// The metrics of a variant that never traded on bars that never moved
    /// (every number 0, no flags): a starting point for tests and builders.
    pub fn zero() -> Self {
        // Every metric accepts a zero of its kind.
        let zero = |m: MetricName| -> Result<Value, ()> {
            Ok(if m.is_integer() { Value::Int(0) } else { Value::Float(0.0) })
        };
        match Self::try_from_values(zero, false, false) {
            Ok(m) => m,
            Err(()) => unreachable!("zero never fails"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_print_and_serialise_alike() {
        assert_eq!(MetricName::ALL.len(), Metrics::NAMES.len());
        for (m, name) in MetricName::ALL.iter().zip(Metrics::NAMES) {
            assert_eq!(m.as_str(), *name);
            assert_eq!(name.parse::<MetricName>(), Ok(*m));
            assert_eq!(serde_json::to_string(m).ok(), Some(format!("\"{name}\"")));
            assert_eq!(serde_json::from_str::<MetricName>(&format!("\"{name}\"")).ok(), Some(*m));
            assert!(!m.describe().is_empty(), "{name}");
        }
        let e = "sharp".parse::<MetricName>().expect_err("typo");
        assert!(
            e.to_string().starts_with("\"sharp\" is not a metric (one of final_equity, total_return"),
            "{e}"
        );
        assert!(serde_json::from_str::<MetricName>("\"variant\"").is_err());
    }

    #[test]
    fn kinds_and_directions_follow_the_declaration() {
        let ints: Vec<&str> = MetricName::ALL.iter().filter(|m| m.is_integer()).map(|m| m.as_str()).collect();
        assert_eq!(ints, ["max_drawdown_duration_ms", "trades", "max_trade_duration_ms"]);
        assert_eq!(MetricName::Sharpe.better(), Better::Higher);
        assert_eq!(MetricName::MaxDrawdown.better(), Better::Lower);
        assert_eq!(
            MetricName::Sqn.describe(),
            "System quality number: sqrt(trades) x mean pnl / sample standard deviation of pnl."
        );
    }

    #[test]
    fn values_round_trip_through_the_stored_kinds() {
        let mut m = Metrics::zero();
        m.sharpe = 1.25;
        m.trades = 7;
        m.max_drawdown_duration_ms = -3;
        m.profit_factor = f64::INFINITY;
        m.max_trade_duration_ms = 86_400_000;
        let back = Metrics::try_from_values(|n| Ok::<_, ()>(m.value(n)), true, false).expect("round trip");
        assert_eq!(back, Metrics { open_position: true, ..m });
        assert_eq!(m.value(MetricName::Trades), Value::Int(7));
        assert_eq!(m.value(MetricName::Sharpe), Value::Float(1.25));
        assert_eq!(m.get(MetricName::MaxTradeDurationMs), 86_400_000.0);
    }
}
