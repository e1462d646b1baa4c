//! Bundle specs (TOML or JSON), their validation, and their expansion into
//! numbered variants.
//!
//! # Variant order
//! A bundle's variants are the cartesian product of
//! `datasets x strategy grid x money-management grid`, numbered from 0 with the
//! **last** factor varying fastest:
//! - datasets: tickers in the order given, each with every timeframe in the
//!   order given (ticker-major);
//! - strategy parameters: a preset's in the kind's order (e.g. `sma_cross`:
//!   fast, slow), a rules strategy's in their declaration order in
//!   `[strategy.params]`; the last parameter fastest, each grid's values in
//!   order (ranges ascending);
//! - money management: stop_loss, take_profit, trailing_stop, max_bars,
//!   leverage, size, direction (direction fastest).
//!
//! So `variant = (dataset * S + strategy) * M + money`, where S and M are the
//! sizes of the strategy and money grids, and a variant index alone identifies
//! a variant of a given spec.

use std::collections::BTreeMap;
use std::fmt;

use bt_candles::{CandlesView, TimeRange, Timeframe, normalise_ticker, time::parse_timestamp_text};
use serde::{Deserialize, Serialize};

use crate::execution::ExecutionSpec;
use crate::metrics::{Annualization, Period};
use crate::rules::{RULES, RuleError, RuleText, Rules, closest};
use crate::sim::{Direction, SimParams};
use crate::strategy::{ParamKind, Strategy, StrategyGrid, StrategyKind, Value};

/// An invalid spec, naming the field: `strategy.fast: start 50 > stop 10`.
/// An error in a rule also gives the byte offset in the rule and its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}{}", offset.map(|o| format!(" (at offset {o})")).unwrap_or_default())]
pub struct SpecError {
    pub field: String,
    pub message: String,
    pub offset: Option<usize>,
    pub rule: Option<String>,
}

impl SpecError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), offset: None, rule: None }
    }

    fn in_rule(rule: &str, text: &str, e: RuleError) -> Self {
        Self {
            field: format!("strategy.{rule}"),
            message: e.message,
            offset: Some(e.offset),
            rule: Some(text.into()),
        }
    }

    /// The error with, for a rule, the rule's text and a caret under the
    /// position:
    /// ```text
    /// strategy.entry_long: unknown function `smaa`; did you mean `sma`?
    ///   smaa(close, 5) > close
    ///   ^
    /// ```
    pub fn render(&self) -> String {
        match (&self.rule, self.offset) {
            (Some(rule), Some(o)) => {
                let col = rule.get(..o.min(rule.len())).map_or(o, |p| p.chars().count());
                format!("{}: {}\n  {rule}\n  {}^", self.field, self.message, " ".repeat(col))
            }
            _ => self.to_string(),
        }
    }
}

fn err<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError::new(field, message))
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

/// A strategy: a preset `kind` with a grid per parameter, or rules with
/// their parameters' grids in `params`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StrategySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<StrategyKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_long: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_long: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_short: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_short: Option<String>,
    /// The rules' `$parameters`, in declaration order.
    #[serde(default, skip_serializing_if = "RuleParams::is_empty")]
    pub params: RuleParams,
    /// A preset's parameter grids.
    #[serde(flatten)]
    pub preset: BTreeMap<String, Grid>,
}

impl StrategySpec {
    /// The rules as given.
    pub fn rule_text(&self) -> RuleText {
        RuleText {
            entry_long: self.entry_long.clone(),
            exit_long: self.exit_long.clone(),
            entry_short: self.entry_short.clone(),
            exit_short: self.exit_short.clone(),
        }
    }
}

/// Rule parameters and their grids, in declaration order (which numbers the
/// variants). Read from a table (TOML `[strategy.params]`, a JSON object) in
/// document order, or from a list of `[name, grid]` pairs; written as pairs,
/// so the order survives stores that sort object keys (PostgreSQL's jsonb).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleParams(pub Vec<(String, Grid)>);

impl RuleParams {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for RuleParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for RuleParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RuleParams;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of parameter grids")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<RuleParams, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Grid>()? {
                    out.push((k, v));
                }
                Ok(RuleParams(out))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut q: A) -> Result<RuleParams, A::Error> {
                let mut out = Vec::new();
                while let Some(pair) = q.next_element::<(String, Grid)>()? {
                    out.push(pair);
                }
                Ok(RuleParams(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Money-management grids. Omitted: no stop, no target, no trailing stop, no
/// bar limit, leverage 1, size 1, and the direction the strategy trades (long for presets and long rules,
/// short for short-only rules, both for rules of both sides).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneySpec {
    /// Fractions of the entry price (0.02 = 2 %); 0 means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<Grid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<Grid>,
    /// Fractions below the best price since entry (above for a short); 0
    /// means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trailing_stop: Option<Grid>,
    /// Bars in a trade before it closes at the next open; 0 means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bars: Option<Grid>,
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
    /// Sharpe's and Sortino's bars per year: `"auto"` (the default),
    /// `"crypto"`, `"equities"` or a number ([`Period::of`] has the rule).
    #[serde(default)]
    pub annualization: Annualization,
    /// Fill conventions: a profile (`bt`, `backtesting.py`, `vectorbt`) and
    /// overrides (see [`crate::execution`]).
    #[serde(default, skip_serializing_if = "ExecutionSpec::is_default")]
    pub execution: ExecutionSpec,
}

impl BundleSpec {
    /// Parses TOML. A wrong value is named by its field (`money.stop_loss`,
    /// `datasets.tickers[0]`); a syntax error, or a missing or unknown
    /// top-level key, by `bundle`.
    pub fn from_toml(text: &str) -> Result<Self, SpecError> {
        let de = toml::Deserializer::parse(text).map_err(|e| SpecError::new("bundle", e.message()))?;
        serde_path_to_error::deserialize(de).map_err(|e| at_path(e.path(), e.inner().message()))
    }

    /// Parses JSON; errors name their field as [`Self::from_toml`]'s do.
    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        Self::from_json_slice(text.as_bytes())
    }

    /// [`Self::from_json`] of bytes (an HTTP body).
    pub fn from_json_slice(bytes: &[u8]) -> Result<Self, SpecError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let spec = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| at_path(e.path(), e.inner().to_string()))?;
        de.end().map_err(|e| SpecError::new("bundle", e.to_string()))?;
        Ok(spec)
    }
}

/// A deserialisation error at `path`: the field is the path down to the
/// first part serde cannot see into (a preset's parameters are a flattened
/// table: `strategy`); an unknown key is named with its table
/// (`money.margin`); `bundle` is the document itself (a syntax error, a
/// missing or unknown top-level key, not a table at all).
fn at_path(path: &serde_path_to_error::Path, message: impl Into<String>) -> SpecError {
    use serde_path_to_error::Segment;
    const TOP: [&str; 8] =
        ["name", "initial_balance", "datasets", "strategy", "money", "costs", "annualization", "execution"];
    if !matches!(path.iter().next(), Some(Segment::Map { key }) if TOP.contains(&key.as_str())) {
        return SpecError::new("bundle", message);
    }
    let mut field = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => field += &format!("[{index}]"),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !field.is_empty() {
                    field.push('.');
                }
                field += key;
            }
            Segment::Unknown => break,
        }
    }
    SpecError::new(field, message)
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
    pub trailing_stop: Option<f64>,
    pub max_bars: Option<u32>,
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
    pub strategies: StrategyGrid,
    pub money: Vec<Money>,
    /// The extra data columns the rules read (`col("name")`).
    pub columns: Vec<String>,
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

/// Longest bundle `name`, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Refuses a list that names one value twice (after normalisation: `btcusd`
/// and `BTCUSD` are the same ticker): `"BTCUSD" is listed 3 times`. A
/// duplicate would run the same dataset again, multiplying the work for
/// nothing.
fn no_duplicates<T: AsRef<str>>(field: &str, values: &[T]) -> Result<(), SpecError> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v.as_ref()).or_default() += 1;
    }
    // The first value (in the list's order) that is listed more than once.
    match values.iter().map(AsRef::as_ref).find(|v| counts[v] > 1) {
        Some(v) => err(field, format!("{v:?} is listed {} times", counts[v])),
        None => Ok(()),
    }
}

impl Bundle {
    /// Validates a spec; every error names its field.
    pub fn new(spec: BundleSpec, limits: Limits) -> Result<Self, SpecError> {
        if !(spec.initial_balance.is_finite() && spec.initial_balance > 0.0) {
            return err("initial_balance", format!("{} must be a positive number", spec.initial_balance));
        }
        let name_chars = spec.name.chars().count();
        if name_chars > MAX_NAME_CHARS {
            return err("name", format!("{name_chars} characters, more than {MAX_NAME_CHARS}"));
        }
        let d = &spec.datasets;
        if d.tickers.is_empty() {
            return err("datasets.tickers", "empty list");
        }
        if d.timeframes.is_empty() {
            return err("datasets.timeframes", "empty list");
        }
        let tickers = d
            .tickers
            .iter()
            .enumerate()
            .map(|(i, t)| {
                normalise_ticker(t).or_else(|e| err(format!("datasets.tickers[{i}]"), e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let timeframes = d
            .timeframes
            .iter()
            .enumerate()
            .map(|(j, tf)| {
                tf.parse::<Timeframe>().or_else(|e| err(format!("datasets.timeframes[{j}]"), e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        no_duplicates("datasets.tickers", &tickers)?;
        no_duplicates("datasets.timeframes", &timeframes.iter().map(|t| t.as_str()).collect::<Vec<_>>())?;
        let datasets: Vec<DatasetRef> = tickers
            .iter()
            .flat_map(|ticker| {
                timeframes.iter().map(|&timeframe| DatasetRef { ticker: ticker.clone(), timeframe })
            })
            .collect();
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
        let rules = spec.strategy.rule_text();
        let direction = match (spec.strategy.kind, rules.has_long(), rules.has_short()) {
            (None, false, true) => "short",
            (None, true, true) => "both",
            _ => "long",
        };
        let money = expand_money(&spec.money, budget, direction)?;
        let (strategies, columns) = expand_strategy(
            &spec.strategy,
            Budget { factor: budget.factor * money.len() as u128, ..budget },
        )?;
        let c = &spec.costs;
        for (field, v) in [("costs.fee_bps", c.fee_bps), ("costs.slippage_bps", c.slippage_bps)] {
            if !(v.is_finite() && (0.0..10_000.0).contains(&v)) {
                return err(field, format!("{v} must be between 0 and 10000 basis points"));
            }
        }
        if let Annualization::BarsPerYear(v) = spec.annualization
            && !(v.is_finite() && v > 0.0)
        {
            return err("annualization", format!("{v} bars per year must be a positive number"));
        }
        // Irregular bars have no length to count a year's bars by.
        if timeframes.contains(&Timeframe::Irregular)
            && !matches!(spec.annualization, Annualization::BarsPerYear(_))
        {
            return err(
                "annualization",
                format!(
                    "{} counts bars per year by the bar length, which irregular bars (datasets.timeframes) do \
                     not have: give the bars per year as a number, e.g. annualization = 252",
                    spec.annualization.as_text()
                ),
            );
        }
        let bundle = Self { spec, datasets, range, strategies, money, columns };
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

    /// The money grid's fields and how many values each lists, in the order
    /// the money combinations are numbered (the last fastest): combination
    /// `k` is `k`'s digits in these radices, as `expand_money` builds them.
    pub fn money_grid(&self) -> [(&'static str, usize); 7] {
        let m = &self.spec.money;
        // The spec was validated, so every grid expands.
        let len = |g: &Option<Grid>| g.as_ref().and_then(|g| g.values("").ok()).map_or(1, |v| v.len());
        [
            ("stop_loss", len(&m.stop_loss)),
            ("take_profit", len(&m.take_profit)),
            ("trailing_stop", len(&m.trailing_stop)),
            ("max_bars", len(&m.max_bars)),
            ("leverage", len(&m.leverage)),
            ("size", len(&m.size)),
            ("direction", len(&m.direction)),
        ]
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
            strategy: self.strategies.get((n / m % s) as usize),
            money: self.money[(n % m) as usize],
        })
    }

    /// What dataset `dataset`'s metrics are measured over, given the bars
    /// run: every path (sweep, lanes, one variant) takes it from here.
    pub fn period(&self, dataset: usize, candles: CandlesView<'_>) -> Period {
        // 1M: 365 / 12 days, so 12 bars a year; irregular (none) needs a number, see `new`.
        let bar_ms = self.datasets[dataset].timeframe.nominal_ms().unwrap_or(0);
        Period::of(candles.ts, bar_ms, self.spec.annualization)
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
            trailing_stop: money.trailing_stop,
            max_bars: money.max_bars,
            fee_bps: self.spec.costs.fee_bps,
            slippage_bps: self.spec.costs.slippage_bps,
            execution: self.spec.execution.resolve(),
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

/// Most strategy combinations compiled one by one at validation; a larger
/// grid compiles a covering set (every value of every parameter at least
/// once) and leaves value-combination errors (`sma(close, $a - $b)` with
/// `$a <= $b`) to the run.
const COMPILE_ALL: usize = 4_096;

/// Indices of a grid that take every value of every parameter at least
/// once (the others at their first value), the first first.
fn covering(lens: &[usize]) -> Vec<usize> {
    let mut out = vec![0];
    let mut stride = 1;
    for &l in lens.iter().rev() {
        out.extend((1..l).map(|k| k * stride));
        stride *= l;
    }
    out
}

fn expand_strategy(spec: &StrategySpec, budget: Budget) -> Result<(StrategyGrid, Vec<String>), SpecError> {
    let rules = spec.rule_text();
    match spec.kind {
        Some(kind) => {
            if rules.any() {
                return err(
                    "strategy.kind",
                    "give either a preset kind or rules (entry_long, exit_long, entry_short, exit_short), not both",
                );
            }
            if !spec.params.is_empty() {
                return err(
                    "strategy.params",
                    format!("[strategy.params] is for rules; {kind}'s parameters go in [strategy] itself"),
                );
            }
            Ok((expand_preset(kind, spec, budget)?, Vec::new()))
        }
        None => expand_rules(rules, spec, budget),
    }
}

fn expand_preset(kind: StrategyKind, spec: &StrategySpec, budget: Budget) -> Result<StrategyGrid, SpecError> {
    let preset = kind.preset();
    let names = kind.params();
    for key in spec.preset.keys() {
        if !names.contains(&key.as_str()) {
            return err(
                format!("strategy.{key}"),
                format!("unknown parameter for {kind} (expected {})", names.join(", ")),
            );
        }
    }
    let mut grids = Vec::new();
    for p in preset.params {
        let field = format!("strategy.{}", p.name);
        let grid = spec.preset.get(p.name).map_or_else(|| err(&field, "missing"), Ok)?;
        grids.push((field, grid.values(&format!("strategy.{}", p.name))?));
    }
    budget.check(&grids.iter().map(|g| g.1.len()).collect::<Vec<_>>())?;
    let mut typed: Vec<Vec<Value>> = Vec::new();
    for (p, (field, values)) in preset.params.iter().zip(&grids) {
        let mut out = Vec::new();
        for s in values {
            out.push(match p.kind {
                ParamKind::Whole => Value::Int(whole(field, s)? as i64),
                ParamKind::Number { min, max, exclusive_min } => {
                    let x = num(field, s)?;
                    if exclusive_min && x <= min {
                        return err(field, format!("{x} must be positive"));
                    }
                    if x < min || x > max {
                        return err(field, format!("{x} is outside {min}..{max}"));
                    }
                    Value::Num(x)
                }
                ParamKind::Choice(words) => {
                    let t = text(field, s)?;
                    if !words.contains(&t) {
                        return err(field, format!("{t:?} is not {}", words.join(" or ")));
                    }
                    Value::Text(t.to_owned())
                }
            });
        }
        typed.push(out);
    }
    (preset.check)(&typed).map_err(|(f, m)| SpecError::new(f, m))?;
    let mut grid =
        StrategyGrid::new(Some(kind), preset.params.iter().map(|p| p.name.to_owned()).zip(typed).collect());
    let lens: Vec<usize> = grid.params.iter().map(|p| p.1.len()).collect();
    for i in covering(&lens) {
        let v: Vec<Value> = grid.values(i).into_iter().map(|(_, v)| v).collect();
        let text = (preset.rules)(&v);
        let r = Rules::parse(text.clone()).map_err(|(rule, e)| {
            SpecError::in_rule(
                rule,
                text.all()[RULES.iter().position(|r| *r == rule).unwrap_or(0)].unwrap_or(""),
                e,
            )
        })?;
        grid.add_template(r);
    }
    Ok(grid)
}

fn expand_rules(
    rules: RuleText,
    spec: &StrategySpec,
    budget: Budget,
) -> Result<(StrategyGrid, Vec<String>), SpecError> {
    if !rules.any() {
        let kinds: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
        return err(
            "strategy",
            format!(
                "give a preset kind ({}) or rules: entry_long, exit_long, entry_short, exit_short",
                kinds.join(", ")
            ),
        );
    }
    if rules.entry_long.is_none() && rules.entry_short.is_none() {
        return err("strategy.entry_long", "rules need an entry: entry_long or entry_short");
    }
    if let Some(key) = spec.preset.keys().next() {
        let hint = match closest(key, RULES.iter().copied()) {
            Some(r) => format!("; did you mean `{r}`?"),
            None => "; rule parameters go in [strategy.params]".into(),
        };
        return err(format!("strategy.{key}"), format!("unknown field{hint}"));
    }
    let parsed = Rules::parse(rules.clone()).map_err(|(rule, e)| {
        let text = rules.all()[RULES.iter().position(|r| *r == rule).unwrap_or(0)].unwrap_or("");
        SpecError::in_rule(rule, text, e)
    })?;
    let mut params: Vec<(String, Vec<Value>)> = Vec::new();
    for (name, grid) in &spec.params.0 {
        let field = format!("strategy.params.{name}");
        let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return err(&field, "a parameter name is letters, digits and `_`, starting with a letter");
        }
        if params.iter().any(|(n, _)| n == name) {
            return err(&field, "declared twice");
        }
        let values = grid
            .values(&field)?
            .iter()
            .map(|s| {
                let x = num(&field, s)?;
                Ok(if x.fract() == 0.0 && x.abs() < 9e15 { Value::Int(x as i64) } else { Value::Num(x) })
            })
            .collect::<Result<Vec<_>, SpecError>>()?;
        params.push((name.clone(), values));
    }
    budget.check(&params.iter().map(|p| p.1.len()).collect::<Vec<_>>())?;
    let mut grid = StrategyGrid::new(None, params);
    let parsed = grid.add_template(parsed);
    let lens: Vec<usize> = grid.params.iter().map(|p| p.1.len()).collect();
    let total = grid.len();
    let indices: Vec<usize> = if total <= COMPILE_ALL { (0..total).collect() } else { covering(&lens) };
    let mut columns = Vec::new();
    for (k, &i) in indices.iter().enumerate() {
        let values: Vec<(String, f64)> =
            grid.values(i).into_iter().map(|(n, v)| (n, v.as_f64().unwrap_or(f64::NAN))).collect();
        let c = parsed.compile(&values).map_err(|(rule, e)| {
            let text = rules.all()[RULES.iter().position(|r| *r == rule).unwrap_or(0)].unwrap_or("");
            let mut e = SpecError::in_rule(rule, text, e);
            if total > 1 && values.iter().any(|(n, _)| e.message.contains(&format!("${n}"))) {
                e.message.push_str(&format!(" in combination {}", display_values(&values)));
            }
            e
        })?;
        if k == 0 {
            if let Some((name, _)) = grid.params.iter().find(|(n, _)| !c.used.contains(n)) {
                return err(format!("strategy.params.{name}"), "not used by any rule");
            }
            columns = c.columns;
        }
    }
    Ok((grid, columns))
}

fn display_values(values: &[(String, f64)]) -> String {
    values.iter().map(|(n, v)| format!("${n} = {v}")).collect::<Vec<_>>().join(", ")
}

fn expand_money(spec: &MoneySpec, budget: Budget, default_direction: &str) -> Result<Vec<Money>, SpecError> {
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
    let trailing_stop = fractions("money.trailing_stop", &spec.trailing_stop, 1.0)?;
    let mut max_bars = Vec::new();
    for s in grid("money.max_bars", &spec.max_bars, Scalar::Num(0.0))? {
        let v = num("money.max_bars", &s)?;
        if !(0.0..=1e7).contains(&v) || v.fract() != 0.0 {
            return err("money.max_bars", format!("{v} is not a whole number from 0 to 10000000 (0 = none)"));
        }
        max_bars.push((v > 0.0).then_some(v as u32));
    }
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
    for s in grid("money.direction", &spec.direction, Scalar::Text(default_direction.into()))? {
        direction.push(match text("money.direction", &s)? {
            "long" => Direction::Long,
            "short" => Direction::Short,
            "both" => Direction::Both,
            other => return err("money.direction", format!("{other:?} is not long, short or both")),
        });
    }
    let lens = [
        stop_loss.len(),
        take_profit.len(),
        trailing_stop.len(),
        max_bars.len(),
        leverage.len(),
        size.len(),
        direction.len(),
    ];
    budget.check(&lens)?;
    let out = (0..lens.iter().product())
        .map(|k: usize| {
            // The digits of `k` in the grids' mixed radix, the last fastest.
            let mut at = [0; 7];
            let mut rest = k;
            for (a, &len) in at.iter_mut().zip(&lens).rev() {
                (*a, rest) = (rest % len, rest / len);
            }
            Money {
                stop_loss: stop_loss[at[0]],
                take_profit: take_profit[at[1]],
                trailing_stop: trailing_stop[at[2]],
                max_bars: max_bars[at[3]],
                leverage: leverage[at[4]],
                size: size[at[5]],
                direction: direction[at[6]],
            }
        })
        .collect();
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
        assert_eq!((v.dataset, v.strategy.to_string().as_str()), (0, "sma_cross(fast=5,slow=60)"));
        assert_eq!((v.money.stop_loss, v.money.direction), (None, Direction::Long));
        let v = b.variant(1).expect("v1");
        assert_eq!(v.money.direction, Direction::Both);
        let v = b.variant(2).expect("v2");
        assert_eq!((v.money.stop_loss, v.money.direction), (Some(0.02), Direction::Long));
        let v = b.variant(4).expect("v4");
        assert_eq!(v.strategy.params, [("fast".into(), Value::Int(5)), ("slow".into(), Value::Int(120))]);
        let v = b.variant(80 * 3 + 4 * 19 + 3).expect("last");
        assert_eq!(
            (v.dataset, v.strategy.to_string().as_str(), v.money.direction),
            (3, "sma_cross(fast=50,slow=120)", Direction::Both)
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
            "strategy.kind: unknown variant `smacross`, expected one of `sma_cross`, `ema_cross`, `rsi`, `macd_cross`, `bollinger`, `supertrend`, `donchian`"
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
            "datasets.timeframes[1]: unknown timeframe \"2m\" (expected one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w 1M irregular)"
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
        let unknown = message(&with("fee_bps = 10", "fee_bps = 10\nfoo = 1"));
        assert!(unknown.starts_with("costs.foo: unknown field `foo`"), "{unknown}");
        let small = Bundle::from_toml(SPEC, Limits { max_variants: 100 }).expect_err("limit").to_string();
        assert_eq!(small, "bundle: 320 variants, more than the limit of 100");
        // Huge grids are refused by counting, before anything is expanded.
        let huge = SPEC
            .replace("slow = [60, 120]", "slow = { start = 60, stop = 1000059, step = 1 }")
            .replace("stop_loss = [0, 0.02]", "stop_loss = { start = 0, stop = 0.5, step = 0.000001 }");
        assert_eq!(message(&huge), "bundle: 40000080000000 variants, more than the limit of 50000000");
    }

    #[test]
    fn annualization_parses_and_its_errors_name_the_field() {
        let with = |v: &str| format!("annualization = {v}\n{SPEC}");
        assert_eq!(bundle(SPEC).expect("default").spec.annualization, Annualization::Auto);
        for (text, want) in [
            ("\"auto\"", Annualization::Auto),
            ("\"crypto\"", Annualization::Crypto),
            ("\"equities\"", Annualization::Equities),
            ("8760", Annualization::BarsPerYear(8760.0)),
            ("1638.5", Annualization::BarsPerYear(1638.5)),
        ] {
            let b = bundle(&with(text)).expect(text);
            assert_eq!(b.spec.annualization, want, "{text}");
            // JSON carries it as given: a word or a number.
            let json = serde_json::to_string(&b.spec).expect("json");
            let value: serde_json::Value = serde_json::from_str(&json).expect("value");
            let given = match want {
                Annualization::BarsPerYear(v) => serde_json::json!(v),
                word => serde_json::json!(word.as_text()),
            };
            assert_eq!(value["annualization"], given, "{json}");
            assert_eq!(Bundle::from_json(&json, Limits::default()).expect("json"), b);
        }
        let expected = "\"auto\", \"crypto\", \"equities\" or a number of bars per year";
        assert_eq!(message(&with("\"weekly\"")), format!("annualization: \"weekly\" is not {expected}"));
        assert_eq!(message(&with("0")), "annualization: 0 bars per year must be a positive number");
        assert_eq!(message(&with("-252")), "annualization: -252 bars per year must be a positive number");
        assert!(message(&with("true")).starts_with("annualization: invalid type: boolean `true`"));
        let json = serde_json::to_string(&bundle(SPEC).expect("valid").spec).expect("json");
        let bad = json.replace("\"annualization\":\"auto\"", "\"annualization\":\"stocks\"");
        // serde_json adds the position.
        let json_error = Bundle::from_json(&bad, Limits::default()).expect_err("stocks").to_string();
        assert!(json_error.starts_with(&format!("annualization: \"stocks\" is not {expected} at line 1")));
        // A spec built in code is checked too.
        let mut spec = bundle(SPEC).expect("valid").spec;
        spec.annualization = Annualization::BarsPerYear(f64::NAN);
        assert_eq!(
            Bundle::new(spec, Limits::default()).expect_err("nan").to_string(),
            "annualization: NaN bars per year must be a positive number"
        );
    }

    #[test]
    fn duplicate_datasets_and_long_names_are_refused() {
        let with = |from: &str, to: &str| SPEC.replacen(from, to, 1);
        // 1,000 x 1,000 copies of one dataset made a million jobs from 16 kB.
        let many = format!("[{}]", ["\"BTCUSD\""; 3].join(", "));
        assert_eq!(
            message(&with("[\"btcusd\", \"ETHUSD\"]", &many)),
            "datasets.tickers: \"BTCUSD\" is listed 3 times"
        );
        // Compared after normalisation.
        assert_eq!(
            message(&with("[\"btcusd\", \"ETHUSD\"]", "[\"ETHUSD\", \" btcusd\", \"BTCUSD\"]")),
            "datasets.tickers: \"BTCUSD\" is listed 2 times"
        );
        assert_eq!(
            message(&with("[\"1h\", \"1m\"]", "[\"1m\", \"1h\", \"1h\"]")),
            "datasets.timeframes: \"1h\" is listed 2 times"
        );
        let name = |n: usize| with("name = \"sma\"", &format!("name = \"{}\"", "é".repeat(n)));
        assert_eq!(bundle(&name(MAX_NAME_CHARS)).expect("200 characters").spec.name.chars().count(), 200);
        assert_eq!(message(&name(MAX_NAME_CHARS + 1)), "name: 201 characters, more than 200");
    }

    #[test]
    fn money_grid_expands_with_exits_in_documented_order() {
        let spec = SPEC.replace(
            "stop_loss = [0, 0.02]",
            "stop_loss = [0, 0.02]\n        take_profit = 0.1\n        trailing_stop = [0, 0.05]\n        max_bars = [0, 20, 100]\n        leverage = [1, 3]",
        );
        let b = bundle(&spec).expect("valid");
        // stop_loss 2 x take_profit 1 x trailing_stop 2 x max_bars 3 x leverage 2 x size 1 x direction 2.
        assert_eq!(b.money.len(), 48);
        let m = |k: usize| {
            let m = b.money[k];
            (m.stop_loss, m.take_profit, m.trailing_stop, m.max_bars, m.leverage, m.direction)
        };
        assert_eq!(m(0), (None, Some(0.1), None, None, 1.0, Direction::Long));
        assert_eq!(m(1), (None, Some(0.1), None, None, 1.0, Direction::Both));
        assert_eq!(m(2), (None, Some(0.1), None, None, 3.0, Direction::Long));
        assert_eq!(m(4), (None, Some(0.1), None, Some(20), 1.0, Direction::Long));
        assert_eq!(m(8), (None, Some(0.1), None, Some(100), 1.0, Direction::Long));
        assert_eq!(m(12), (None, Some(0.1), Some(0.05), None, 1.0, Direction::Long));
        assert_eq!(m(24), (Some(0.02), Some(0.1), None, None, 1.0, Direction::Long));
        assert_eq!(m(47), (Some(0.02), Some(0.1), Some(0.05), Some(100), 3.0, Direction::Both));
        let p = b.sim_params(&b.money[47]);
        assert_eq!((p.trailing_stop, p.max_bars), (Some(0.05), Some(100)));
        let json = serde_json::to_string(&b.spec).expect("json");
        assert_eq!(Bundle::from_json(&json, Limits::default()).expect("json"), b);

        let with = |line: &str| message(&SPEC.replace("stop_loss = [0, 0.02]", line));
        assert_eq!(
            with("trailing_stop = [0.05, 1]"),
            "money.trailing_stop: 1 must be a fraction in [0, 1) (0 = none)"
        );
        assert_eq!(
            with("trailing_stop = -0.01"),
            "money.trailing_stop: -0.01 must be a fraction in [0, 1) (0 = none)"
        );
        assert_eq!(
            with("max_bars = [10, 2.5]"),
            "money.max_bars: 2.5 is not a whole number from 0 to 10000000 (0 = none)"
        );
        assert_eq!(
            with("max_bars = -1"),
            "money.max_bars: -1 is not a whole number from 0 to 10000000 (0 = none)"
        );
        assert_eq!(with("max_bars = \"ten\""), "money.max_bars: \"ten\" is not a number");
        let grid = SPEC.replace("stop_loss = [0, 0.02]", "max_bars = [0, 1, 2]");
        let small = Bundle::from_toml(&grid, Limits { max_variants: 200 }).expect_err("limit").to_string();
        assert_eq!(small, "bundle: 480 variants, more than the limit of 200");
    }

    #[test]
    fn other_kinds_expand() {
        let rsi = SPEC.replace(
            "kind = \"sma_cross\"\n        fast = { start = 5, stop = 50, step = 5 }\n        slow = [60, 120]",
            "kind = \"rsi\"\n        period = 14\n        lower = [20, 30]\n        upper = { start = 70, stop = 80, step = 10 }",
        );
        let b = bundle(&rsi).expect("rsi");
        assert_eq!(b.strategies.get(3).to_string(), "rsi(period=14,lower=30,upper=80)");
        let bb = rsi.replace(
            "kind = \"rsi\"\n        period = 14\n        lower = [20, 30]\n        upper = { start = 70, stop = 80, step = 10 }",
            "kind = \"bollinger\"\n        period = 20\n        k = { start = 1.5, stop = 2.5, step = 0.5 }\n        mode = [\"breakout\", \"reversion\"]",
        );
        let b = bundle(&bb).expect("bollinger");
        assert_eq!(b.strategies.len(), 6);
        assert_eq!(b.strategies.get(5).to_string(), "bollinger(period=20,k=2.5,mode=reversion)");
        assert_eq!(
            b.strategies.get(5).rules_text(),
            "entry_long: cross_below(close, bbands(close, 20, 2.5).lower); entry_short: cross_above(close, bbands(close, 20, 2.5).upper)"
        );
    }
}
