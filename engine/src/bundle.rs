//! Bundle specs (TOML or JSON), their validation, and their expansion into
//! numbered variants.
//!
//! # Variant order
//! A bundle's variants are the cartesian product of
//! `datasets x strategy grid x money-management grid`, numbered from 0 with the
//! **last** factor varying fastest:
//! - datasets: tickers in the order given, each with every timeframe in the
//!   order given (ticker-major);
//! - strategy parameters in the kind's order (e.g. `sma_cross`: fast, slow),
//!   the last parameter fastest, each grid's values in order (ranges ascending);
//! - money management: stop_loss, take_profit, leverage, size, direction
//!   (direction fastest).
//!
//! So `variant = (dataset * S + strategy) * M + money`, where S and M are the
//! sizes of the strategy and money grids, and a variant index alone identifies
//! a variant of a given spec.

use std::collections::BTreeMap;
use std::fmt;

use bt_candles::{TimeRange, Timeframe, normalise_ticker, time::parse_timestamp_text};
use serde::{Deserialize, Serialize};

use crate::sim::{Direction, SimParams};
use crate::strategy::{BandMode, Strategy};

/// An invalid spec, naming the field: `strategy.fast: start 50 > stop 10`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

fn err<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError { field: field.into(), message: message.into() })
}

/// One value of a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Num(f64),
    Text(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Num(v) => write!(f, "{v}"),
            Self::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// A parameter's values: one value, a list, or an inclusive range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Grid {
    /// `{ start, stop, step }`: start, start + step, ... up to and including stop.
    Range {
        start: f64,
        stop: f64,
        step: f64,
    },
    List(Vec<Scalar>),
    One(Scalar),
}

/// Largest number of values one range may expand to.
const MAX_RANGE: f64 = 1_000_000.0;

impl Grid {
    fn values(&self, field: &str) -> Result<Vec<Scalar>, SpecError> {
        let v = match self {
            Self::One(s) => vec![s.clone()],
            Self::List(l) => l.clone(),
            Self::Range { start, stop, step } => {
                if !(start.is_finite() && stop.is_finite() && step.is_finite()) {
                    return err(field, "range bounds must be finite numbers");
                }
                if start > stop {
                    return err(field, format!("start {start} > stop {stop}"));
                }
                if *step <= 0.0 {
                    return err(field, format!("step {step} must be positive"));
                }
                let count = ((stop - start) / step + 1e-9).floor() + 1.0;
                if count > MAX_RANGE {
                    return err(field, format!("range has {count} values, more than {MAX_RANGE}"));
                }
                // start + k*step, rounded to 12 significant decimals so 0.1 steps stay clean.
                (0..count as usize)
                    .map(|k| Scalar::Num(((start + k as f64 * step) * 1e12).round() / 1e12))
                    .collect()
            }
        };
        if v.is_empty() {
            return err(field, "empty grid");
        }
        Ok(v)
    }
}

/// Which datasets a bundle runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub tickers: Vec<String>,
    pub timeframes: Vec<String>,
    /// Inclusive start, RFC 3339 or YYYY-MM-DD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Exclusive end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// The strategy kind and a grid per parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategySpec {
    pub kind: String,
    #[serde(flatten)]
    pub params: BTreeMap<String, Grid>,
}

/// Money-management grids. Omitted: no stop, no target, leverage 1, size 1, long.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneySpec {
    /// Fractions of the entry price (0.02 = 2 %); 0 means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<Grid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<Grid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leverage: Option<Grid>,
    /// Margin per position as a fraction of equity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Grid>,
    /// "long", "short" or "both".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Grid>,
}

/// Costs, the same for every variant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostSpec {
    #[serde(default)]
    pub fee_bps: f64,
    #[serde(default)]
    pub slippage_bps: f64,
}

fn default_balance() -> f64 {
    10_000.0
}

/// A bundle as submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_balance")]
    pub initial_balance: f64,
    pub datasets: DatasetSpec,
    pub strategy: StrategySpec,
    #[serde(default)]
    pub money: MoneySpec,
    #[serde(default)]
    pub costs: CostSpec,
}

impl BundleSpec {
    pub fn from_toml(text: &str) -> Result<Self, SpecError> {
        toml::from_str(text)
            .map_err(|e| SpecError { field: "bundle".into(), message: e.message().to_owned() })
    }

    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        serde_json::from_str(text).map_err(|e| SpecError { field: "bundle".into(), message: e.to_string() })
    }
}

/// A dataset of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetRef {
    pub ticker: String,
    pub timeframe: Timeframe,
}

/// One money-management combination.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Money {
    pub stop_loss: Option<f64>,
    pub take_profit: Option<f64>,
    pub leverage: f64,
    pub size: f64,
    pub direction: Direction,
}

/// Limits applied when validating a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_variants: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_variants: 50_000_000 }
    }
}

/// A validated bundle: its datasets, strategy grid and money grid, expanded.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub spec: BundleSpec,
    pub datasets: Vec<DatasetRef>,
    pub range: TimeRange,
    pub strategies: Vec<Strategy>,
    pub money: Vec<Money>,
}

/// One variant, built alone from its index.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub index: u64,
    pub dataset: usize,
    pub strategy: Strategy,
    pub money: Money,
}

fn num(field: &str, s: &Scalar) -> Result<f64, SpecError> {
    match s {
        Scalar::Num(v) if v.is_finite() => Ok(*v),
        other => err(field, format!("{other} is not a number")),
    }
}

fn whole(field: &str, s: &Scalar) -> Result<usize, SpecError> {
    let v = num(field, s)?;
    if v < 1.0 || v.fract() != 0.0 || v > 1e7 {
        return err(field, format!("{v} is not a whole number from 1 to 10000000"));
    }
    Ok(v as usize)
}

fn text<'a>(field: &str, s: &'a Scalar) -> Result<&'a str, SpecError> {
    match s {
        Scalar::Text(t) => Ok(t),
        other => err(field, format!("{other} is not text")),
    }
}

impl Bundle {
    /// Validates a spec; every error names its field.
    pub fn new(spec: BundleSpec, limits: Limits) -> Result<Self, SpecError> {
        if !(spec.initial_balance.is_finite() && spec.initial_balance > 0.0) {
            return err("initial_balance", format!("{} must be a positive number", spec.initial_balance));
        }
        let d = &spec.datasets;
        if d.tickers.is_empty() {
            return err("datasets.tickers", "empty list");
        }
        if d.timeframes.is_empty() {
            return err("datasets.timeframes", "empty list");
        }
        let mut datasets = Vec::new();
        for (i, t) in d.tickers.iter().enumerate() {
            let ticker =
                normalise_ticker(t).or_else(|e| err(format!("datasets.tickers[{i}]"), e.to_string()))?;
            for (j, tf) in d.timeframes.iter().enumerate() {
                let timeframe = tf
                    .parse::<Timeframe>()
                    .or_else(|e| err(format!("datasets.timeframes[{j}]"), e.to_string()))?;
                datasets.push(DatasetRef { ticker: ticker.clone(), timeframe });
            }
        }
        let time = |field: &str, v: &Option<String>| -> Result<Option<i64>, SpecError> {
            v.as_deref()
                .map(|s| {
                    parse_timestamp_text(s)
                        .map_or_else(|| err(field, format!("{s:?} is not a date or RFC 3339 time")), Ok)
                })
                .transpose()
        };
        let range = TimeRange::new(time("datasets.from", &d.from)?, time("datasets.to", &d.to)?);
        if let (Some(a), Some(b)) = (range.start, range.end)
            && a >= b
        {
            return err("datasets.to", "must be later than datasets.from");
        }
        // Count before expanding: a spec of huge grids gets the limit error,
        // not an out-of-memory.
        let budget = Budget { limit: limits.max_variants, factor: datasets.len() as u128 };
        let money = expand_money(&spec.money, budget)?;
        let strategies = expand_strategy(
            &spec.strategy,
            Budget { factor: budget.factor * money.len() as u128, ..budget },
        )?;
        let c = &spec.costs;
        for (field, v) in [("costs.fee_bps", c.fee_bps), ("costs.slippage_bps", c.slippage_bps)] {
            if !(v.is_finite() && (0.0..10_000.0).contains(&v)) {
                return err(field, format!("{v} must be between 0 and 10000 basis points"));
            }
        }
        let bundle = Self { spec, datasets, range, strategies, money };
        let count = bundle.count();
        if count > limits.max_variants {
            return err(
                "bundle",
                format!("{count} variants, more than the limit of {}", limits.max_variants),
            );
        }
        Ok(bundle)
    }

    /// Parses and validates TOML.
    pub fn from_toml(text: &str, limits: Limits) -> Result<Self, SpecError> {
        Self::new(BundleSpec::from_toml(text)?, limits)
    }

    /// Parses and validates JSON.
    pub fn from_json(text: &str, limits: Limits) -> Result<Self, SpecError> {
        Self::new(BundleSpec::from_json(text)?, limits)
    }

    /// Variants per dataset.
    pub fn per_dataset(&self) -> u64 {
        self.strategies.len() as u64 * self.money.len() as u64
    }

    /// Number of variants, exact, without expanding them.
    pub fn count(&self) -> u64 {
        self.datasets.len() as u64 * self.per_dataset()
    }

    /// Variant `n` alone, or `None` past the end.
    pub fn variant(&self, n: u64) -> Option<Variant> {
        if n >= self.count() {
            return None;
        }
        let m = self.money.len() as u64;
        let s = self.strategies.len() as u64;
        Some(Variant {
            index: n,
            dataset: (n / (s * m)) as usize,
            strategy: self.strategies[(n / m % s) as usize],
            money: self.money[(n % m) as usize],
        })
    }

    /// The simulator settings of one money combination.
    pub fn sim_params(&self, money: &Money) -> SimParams {
        SimParams {
            initial_balance: self.spec.initial_balance,
            direction: money.direction,
            size: money.size,
            leverage: money.leverage,
            stop_loss: money.stop_loss,
            take_profit: money.take_profit,
            fee_bps: self.spec.costs.fee_bps,
            slippage_bps: self.spec.costs.slippage_bps,
        }
    }
}

/// The variant limit, and what the grid being expanded is multiplied by.
#[derive(Debug, Clone, Copy)]
struct Budget {
    limit: u64,
    factor: u128,
}

impl Budget {
    fn check(&self, lens: &[usize]) -> Result<(), SpecError> {
        let total = lens.iter().fold(self.factor, |acc, &l| acc.saturating_mul(l as u128));
        if total > u128::from(self.limit) {
            return err("bundle", format!("{total} variants, more than the limit of {}", self.limit));
        }
        Ok(())
    }
}

fn expand_strategy(spec: &StrategySpec, budget: Budget) -> Result<Vec<Strategy>, SpecError> {
    let kinds: Vec<&str> = Strategy::KINDS.iter().map(|(k, _)| *k).collect();
    let Some((kind, names)) = Strategy::KINDS.iter().find(|(k, _)| *k == spec.kind) else {
        return err(
            "strategy.kind",
            format!("unknown strategy {:?} (expected one of {})", spec.kind, kinds.join(", ")),
        );
    };
    for key in spec.params.keys() {
        if !names.contains(&key.as_str()) {
            return err(
                format!("strategy.{key}"),
                format!("unknown parameter for {kind} (expected {})", names.join(", ")),
            );
        }
    }
    let mut grids = Vec::new();
    for name in names.iter() {
        let field = format!("strategy.{name}");
        let grid = spec.params.get(*name).map_or_else(|| err(&field, "missing"), Ok)?;
        grids.push((field.clone(), grid.values(&field)?));
    }
    budget.check(&grids.iter().map(|g| g.1.len()).collect::<Vec<_>>())?;
    // Per-kind checks over whole grids.
    let nums = |i: usize| -> Result<Vec<f64>, SpecError> {
        grids[i].1.iter().map(|s| num(&grids[i].0, s)).collect()
    };
    let wholes = |i: usize| -> Result<Vec<usize>, SpecError> {
        grids[i].1.iter().map(|s| whole(&grids[i].0, s)).collect()
    };
    let slower = |fast: &[usize], slow: &[usize]| -> Result<(), SpecError> {
        let (max_fast, min_slow) =
            (fast.iter().max().copied().unwrap_or(0), slow.iter().min().copied().unwrap_or(0));
        if min_slow <= max_fast {
            return err(
                "strategy.slow",
                format!("must be greater than fast (slow {min_slow} <= fast {max_fast})"),
            );
        }
        Ok(())
    };
    let mut out = Vec::new();
    match *kind {
        "sma_cross" | "ema_cross" => {
            let (fast, slow) = (wholes(0)?, wholes(1)?);
            slower(&fast, &slow)?;
            for &f in &fast {
                for &s in &slow {
                    out.push(if *kind == "sma_cross" {
                        Strategy::SmaCross { fast: f, slow: s }
                    } else {
                        Strategy::EmaCross { fast: f, slow: s }
                    });
                }
            }
        }
        "rsi" => {
            let (period, lower, upper) = (wholes(0)?, nums(1)?, nums(2)?);
            for (field, v) in [("strategy.lower", &lower), ("strategy.upper", &upper)] {
                if let Some(x) = v.iter().find(|x| !(0.0..=100.0).contains(*x)) {
                    return err(field, format!("{x} is outside 0..100"));
                }
            }
            let max_lower = lower.iter().copied().fold(f64::MIN, f64::max);
            let min_upper = upper.iter().copied().fold(f64::MAX, f64::min);
            if min_upper <= max_lower {
                return err(
                    "strategy.upper",
                    format!("must be greater than lower (upper {min_upper} <= lower {max_lower})"),
                );
            }
            for &p in &period {
                for &l in &lower {
                    for &u in &upper {
                        out.push(Strategy::Rsi { period: p, lower: l, upper: u });
                    }
                }
            }
        }
        "macd_cross" => {
            let (fast, slow, signal) = (wholes(0)?, wholes(1)?, wholes(2)?);
            slower(&fast, &slow)?;
            for &f in &fast {
                for &s in &slow {
                    for &g in &signal {
                        out.push(Strategy::MacdCross { fast: f, slow: s, signal: g });
                    }
                }
            }
        }
        "bollinger" => {
            let (period, k) = (wholes(0)?, nums(1)?);
            if let Some(x) = k.iter().find(|x| **x <= 0.0) {
                return err("strategy.k", format!("{x} must be positive"));
            }
            let mut modes = Vec::new();
            for s in &grids[2].1 {
                modes.push(match text("strategy.mode", s)? {
                    "breakout" => BandMode::Breakout,
                    "reversion" => BandMode::Reversion,
                    other => return err("strategy.mode", format!("{other:?} is not breakout or reversion")),
                });
            }
            for &p in &period {
                for &kk in &k {
                    for &m in &modes {
                        out.push(Strategy::Bollinger { period: p, k: kk, mode: m });
                    }
                }
            }
        }
        "supertrend" => {
            let (period, mult) = (wholes(0)?, nums(1)?);
            if let Some(x) = mult.iter().find(|x| **x <= 0.0) {
                return err("strategy.multiplier", format!("{x} must be positive"));
            }
            for &p in &period {
                for &m in &mult {
                    out.push(Strategy::Supertrend { period: p, multiplier: m });
                }
            }
        }
        _ => {
            for p in wholes(0)? {
                out.push(Strategy::Donchian { period: p });
            }
        }
    }
    Ok(out)
}

fn expand_money(spec: &MoneySpec, budget: Budget) -> Result<Vec<Money>, SpecError> {
    let grid = |field: &str, g: &Option<Grid>, default: Scalar| -> Result<Vec<Scalar>, SpecError> {
        match g {
            Some(g) => g.values(field),
            None => Ok(vec![default]),
        }
    };
    let fractions = |field: &str, g: &Option<Grid>, max: f64| -> Result<Vec<Option<f64>>, SpecError> {
        grid(field, g, Scalar::Num(0.0))?
            .iter()
            .map(|s| {
                let v = num(field, s)?;
                if !(0.0..max).contains(&v) {
                    return err(field, format!("{v} must be a fraction in [0, {max}) (0 = none)"));
                }
                Ok((v > 0.0).then_some(v))
            })
            .collect()
    };
    let stop_loss = fractions("money.stop_loss", &spec.stop_loss, 1.0)?;
    let take_profit = fractions("money.take_profit", &spec.take_profit, 100.0)?;
    let mut leverage = Vec::new();
    for s in grid("money.leverage", &spec.leverage, Scalar::Num(1.0))? {
        let v = num("money.leverage", &s)?;
        if !(1.0..=125.0).contains(&v) {
            return err("money.leverage", format!("{v} must be between 1 and 125"));
        }
        leverage.push(v);
    }
    let mut size = Vec::new();
    for s in grid("money.size", &spec.size, Scalar::Num(1.0))? {
        let v = num("money.size", &s)?;
        if !(v > 0.0 && v <= 1.0) {
            return err("money.size", format!("{v} must be a fraction of equity in (0, 1]"));
        }
        size.push(v);
    }
    let mut direction = Vec::new();
    for s in grid("money.direction", &spec.direction, Scalar::Text("long".into()))? {
        direction.push(match text("money.direction", &s)? {
            "long" => Direction::Long,
            "short" => Direction::Short,
            "both" => Direction::Both,
            other => return err("money.direction", format!("{other:?} is not long, short or both")),
        });
    }
    budget.check(&[stop_loss.len(), take_profit.len(), leverage.len(), size.len(), direction.len()])?;
    let mut out = Vec::new();
    for &sl in &stop_loss {
        for &tp in &take_profit {
            for &lev in &leverage {
                for &sz in &size {
                    for &dir in &direction {
                        out.push(Money {
                            stop_loss: sl,
                            take_profit: tp,
                            leverage: lev,
                            size: sz,
                            direction: dir,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
        name = "sma"
        initial_balance = 1000
        [datasets]
        tickers = ["btcusd", "ETHUSD"]
        timeframes = ["1h", "1m"]
        from = "2024-01-02"
        [strategy]
        kind = "sma_cross"
        fast = { start = 5, stop = 50, step = 5 }
        slow = [60, 120]
        [money]
        stop_loss = [0, 0.02]
        direction = ["long", "both"]
        [costs]
        fee_bps = 10
    "#;

    fn bundle(text: &str) -> Result<Bundle, SpecError> {
        Bundle::from_toml(text, Limits::default())
    }

    #[test]
    fn expands_in_documented_order() {
        let b = bundle(SPEC).expect("valid");
        assert_eq!(b.datasets.len(), 4);
        assert_eq!(b.datasets[1], DatasetRef { ticker: "BTCUSD".into(), timeframe: Timeframe::M1 });
        assert_eq!((b.strategies.len(), b.money.len()), (20, 4));
        assert_eq!(b.count(), 4 * 20 * 4);
        assert_eq!(b.range, TimeRange::new(Some(1_704_153_600_000), None));
        let v = b.variant(0).expect("v0");
        assert_eq!((v.dataset, v.strategy), (0, Strategy::SmaCross { fast: 5, slow: 60 }));
        assert_eq!((v.money.stop_loss, v.money.direction), (None, Direction::Long));
        let v = b.variant(1).expect("v1");
        assert_eq!(v.money.direction, Direction::Both);
        let v = b.variant(2).expect("v2");
        assert_eq!((v.money.stop_loss, v.money.direction), (Some(0.02), Direction::Long));
        let v = b.variant(4).expect("v4");
        assert_eq!(v.strategy, Strategy::SmaCross { fast: 5, slow: 120 });
        let v = b.variant(80 * 3 + 4 * 19 + 3).expect("last");
        assert_eq!(
            (v.dataset, v.strategy, v.money.direction),
            (3, Strategy::SmaCross { fast: 50, slow: 120 }, Direction::Both)
        );
        assert_eq!(b.variant(b.count()), None);
        // JSON gives the same bundle.
        let json = serde_json::to_string(&b.spec).expect("json");
        assert_eq!(Bundle::from_json(&json, Limits::default()).expect("json"), b);
    }

    fn message(text: &str) -> String {
        bundle(text).expect_err("invalid").to_string()
    }

    #[test]
    fn errors_name_the_field() {
        let with = |from: &str, to: &str| SPEC.replacen(from, to, 1);
        assert_eq!(
            message(&with("start = 5, stop = 50", "start = 50, stop = 10")),
            "strategy.fast: start 50 > stop 10"
        );
        assert_eq!(
            message(&with("\"sma_cross\"", "\"smacross\"")),
            "strategy.kind: unknown strategy \"smacross\" (expected one of sma_cross, ema_cross, rsi, macd_cross, bollinger, supertrend, donchian)"
        );
        assert_eq!(
            message(&with("[60, 120]", "[40, 120]")),
            "strategy.slow: must be greater than fast (slow 40 <= fast 50)"
        );
        assert_eq!(message(&with("[60, 120]", "[]")), "strategy.slow: empty grid");
        assert_eq!(message(&with("slow = [60, 120]", "")), "strategy.slow: missing");
        assert_eq!(
            message(&with("slow = [60, 120]", "slow = [60]\nslowest = 3")),
            "strategy.slowest: unknown parameter for sma_cross (expected fast, slow)"
        );
        assert_eq!(
            message(&with("\"1m\"", "\"2m\"")),
            "datasets.timeframes[1]: unknown timeframe \"2m\" (expected one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w)"
        );
        assert_eq!(
            message(&with("\"ETHUSD\"", "\"ETH/USD\"")),
            "datasets.tickers[1]: invalid ticker \"ETH/USD\": use letters, digits, '-', '_' and '.'"
        );
        assert_eq!(
            message(&with("[0, 0.02]", "[0, 1.5]")),
            "money.stop_loss: 1.5 must be a fraction in [0, 1) (0 = none)"
        );
        assert_eq!(
            message(&with("\"both\"", "\"sideways\"")),
            "money.direction: \"sideways\" is not long, short or both"
        );
        assert_eq!(
            message(&with("step = 5", "step = 2.5")),
            "strategy.fast: 7.5 is not a whole number from 1 to 10000000"
        );
        assert!(
            message(&with("fee_bps = 10", "fee_bps = 10\nfoo = 1"))
                .starts_with("bundle: unknown field `foo`")
        );
        let small = Bundle::from_toml(SPEC, Limits { max_variants: 100 }).expect_err("limit").to_string();
        assert_eq!(small, "bundle: 320 variants, more than the limit of 100");
        // Huge grids are refused by counting, before anything is expanded.
        let huge = SPEC
            .replace("slow = [60, 120]", "slow = { start = 60, stop = 1000059, step = 1 }")
            .replace("stop_loss = [0, 0.02]", "stop_loss = { start = 0, stop = 0.5, step = 0.000001 }");
        assert_eq!(message(&huge), "bundle: 40000080000000 variants, more than the limit of 50000000");
    }

    #[test]
    fn other_kinds_expand() {
        let rsi = SPEC.replace(
            "kind = \"sma_cross\"\n        fast = { start = 5, stop = 50, step = 5 }\n        slow = [60, 120]",
            "kind = \"rsi\"\n        period = 14\n        lower = [20, 30]\n        upper = { start = 70, stop = 80, step = 10 }",
        );
        let b = bundle(&rsi).expect("rsi");
        assert_eq!(b.strategies[3], Strategy::Rsi { period: 14, lower: 30.0, upper: 80.0 });
        let bb = rsi.replace(
            "kind = \"rsi\"\n        period = 14\n        lower = [20, 30]\n        upper = { start = 70, stop = 80, step = 10 }",
            "kind = \"bollinger\"\n        period = 20\n        k = { start = 1.5, stop = 2.5, step = 0.5 }\n        mode = [\"breakout\", \"reversion\"]",
        );
        let b = bundle(&bb).expect("bollinger");
        assert_eq!(b.strategies.len(), 6);
        assert_eq!(b.strategies[5], Strategy::Bollinger { period: 20, k: 2.5, mode: BandMode::Reversion });
    }
}
