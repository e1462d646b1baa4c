//! Strategies: the seven presets and user rules, both compiled to
//! [`rules`](crate::rules) programs, so one evaluator serves every strategy.
//!
//! A strategy grid ([`StrategyGrid`]) holds each parameter's values and
//! builds the strategy of any index on demand (parameters in declaration
//! order, the last fastest), so a grid of a million combinations costs its
//! value lists, not a million programs. Each preset lives in its own file:
//! its parameters, their checks, and its rules.

mod bollinger;
#[cfg(test)]
mod cache;
mod donchian;
mod ema_cross;
mod macd_cross;
#[cfg(test)]
pub(crate) mod reference;
mod rsi;
mod sma_cross;
mod supertrend;

use std::fmt;
use std::sync::Arc;

use bt_candles::CandlesView;
use serde::{Deserialize, Serialize};

use crate::rules::{ExprCache, RuleText, Rules};

/// A preset strategy kind, as `kind` in a bundle spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    SmaCross,
    EmaCross,
    Rsi,
    MacdCross,
    Bollinger,
    Supertrend,
    Donchian,
}

impl StrategyKind {
    pub const ALL: [StrategyKind; 7] = [
        Self::SmaCross,
        Self::EmaCross,
        Self::Rsi,
        Self::MacdCross,
        Self::Bollinger,
        Self::Supertrend,
        Self::Donchian,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::SmaCross => "sma_cross",
            Self::EmaCross => "ema_cross",
            Self::Rsi => "rsi",
            Self::MacdCross => "macd_cross",
            Self::Bollinger => "bollinger",
            Self::Supertrend => "supertrend",
            Self::Donchian => "donchian",
        }
    }

    /// The preset's definition.
    pub fn preset(self) -> &'static Preset {
        match self {
            Self::SmaCross => &sma_cross::PRESET,
            Self::EmaCross => &ema_cross::PRESET,
            Self::Rsi => &rsi::PRESET,
            Self::MacdCross => &macd_cross::PRESET,
            Self::Bollinger => &bollinger::PRESET,
            Self::Supertrend => &supertrend::PRESET,
            Self::Donchian => &donchian::PRESET,
        }
    }

    /// The parameter names, in grid order.
    pub fn params(self) -> Vec<&'static str> {
        self.preset().params.iter().map(|p| p.name).collect()
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A typed parameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Int(i64),
    Num(f64),
    Text(String),
}

impl Value {
    /// The number a rule sees (`None` for text).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::Int(v) => Some(v as f64),
            Self::Num(v) => Some(v),
            Self::Text(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(v) => write!(f, "{v}"),
            Self::Num(v) => write!(f, "{v}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// How a preset parameter is read and checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// A whole number from 1 to 10,000,000 (a period).
    Whole,
    /// A number in `[min, max]` (`exclusive_min`: `> min`).
    Number { min: f64, max: f64, exclusive_min: bool },
    /// One of these words.
    Choice(&'static [&'static str]),
}

/// A preset parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamKind,
}

impl Param {
    pub const fn whole(name: &'static str) -> Self {
        Self { name, kind: ParamKind::Whole }
    }
    pub const fn positive(name: &'static str) -> Self {
        Self { name, kind: ParamKind::Number { min: 0.0, max: f64::MAX, exclusive_min: true } }
    }
    pub const fn range(name: &'static str, min: f64, max: f64) -> Self {
        Self { name, kind: ParamKind::Number { min, max, exclusive_min: false } }
    }
}

/// Checks across a preset's grids; an error is (field, message).
pub type CheckFn = fn(&[Vec<Value>]) -> Result<(), (String, String)>;

/// A preset: its parameters, the checks across their grids (field, message),
/// and its rules for one combination.
#[derive(Debug)]
pub struct Preset {
    pub params: &'static [Param],
    pub check: CheckFn,
    pub rules: fn(&[Value]) -> RuleText,
}

/// A preset that goes long on `bull` and short on `bear`; each entry closes
/// the opposite position (a reversal).
pub(crate) fn reversal(bull: &str, bear: &str) -> RuleText {
    RuleText { entry_long: Some(bull.into()), entry_short: Some(bear.into()), ..RuleText::default() }
}

/// `slow` must exceed `fast` for every pair of the grids.
pub(crate) fn slow_above_fast(v: &[Vec<Value>]) -> Result<(), (String, String)> {
    let max =
        |k: usize, f: fn(f64, f64) -> f64, init: f64| v[k].iter().filter_map(Value::as_f64).fold(init, f);
    let (max_fast, min_slow) = (max(0, f64::max, f64::MIN), max(1, f64::min, f64::MAX));
    if min_slow <= max_fast {
        return Err((
            "strategy.slow".into(),
            format!("must be greater than fast (slow {min_slow} <= fast {max_fast})"),
        ));
    }
    Ok(())
}

/// No checks across grids.
pub(crate) fn no_check(_: &[Vec<Value>]) -> Result<(), (String, String)> {
    Ok(())
}

/// One strategy with concrete parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Strategy {
    /// The preset, or `None` for user rules.
    pub kind: Option<StrategyKind>,
    /// Parameter values in grid order.
    pub params: Vec<(String, Value)>,
    rules: Arc<Rules>,
}

impl Strategy {
    /// `rules` or the preset's name.
    pub fn kind_name(&self) -> &'static str {
        self.kind.map_or("rules", StrategyKind::name)
    }

    /// The rules with this strategy's parameter values in place of `$names`.
    pub fn rules_text(&self) -> String {
        self.rules.display(&self.text_params())
    }

    /// Each rule (entry_long...) with the parameter values in place, as
    /// (rule, text), for the rules given.
    pub fn rules(&self) -> Vec<(&'static str, String)> {
        let p = self.text_params();
        crate::rules::RULES
            .iter()
            .zip(self.rules.text.all())
            .filter_map(|(name, r)| r.map(|r| (*name, crate::rules::substitute(r, &p))))
            .collect()
    }

    fn text_params(&self) -> Vec<(String, String)> {
        self.params.iter().map(|(n, v)| (n.clone(), v.to_string())).collect()
    }

    fn numbers(&self) -> Vec<(String, f64)> {
        self.params.iter().filter_map(|(n, v)| v.as_f64().map(|x| (n.clone(), x))).collect()
    }

    /// The compiled program of this strategy.
    pub fn program(&self) -> Result<crate::rules::Program, String> {
        self.rules
            .compile(&self.numbers())
            .map(|c| c.program)
            .map_err(|(rule, e)| format!("strategy.{rule}: {} (at offset {})", e.message, e.offset))
    }

    /// Writes the signal [`flags`](crate::sim::flags) of every bar into
    /// `out` (the length of the candles). The bundle validated the
    /// parameters; an error here means a combination it did not try.
    pub fn signals(&self, c: CandlesView<'_>, cache: &ExprCache, out: &mut [u8]) -> Result<(), String> {
        self.program()?.signals(c, cache, out)
    }
}

impl fmt::Display for Strategy {
    /// `sma_cross(fast=5,slow=60)` for a preset; `rules(fast=5,slow=60)` for rules.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params: Vec<String> = self.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(f, "{}({})", self.kind_name(), params.join(","))
    }
}

/// A strategy grid: every combination of its parameters' values, built on
/// demand.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyGrid {
    pub kind: Option<StrategyKind>,
    /// Parameter names and their values, in grid order (the last fastest).
    pub params: Vec<(String, Vec<Value>)>,
    /// Rules by template (presets whose rules depend on a choice have more
    /// than one); user rules have one.
    templates: Vec<(RuleText, Arc<Rules>)>,
}

impl StrategyGrid {
    pub(crate) fn new(kind: Option<StrategyKind>, params: Vec<(String, Vec<Value>)>) -> Self {
        Self { kind, params, templates: Vec::new() }
    }

    /// Adds a parsed template (deduplicated by text).
    pub(crate) fn add_template(&mut self, rules: Rules) -> Arc<Rules> {
        if let Some((_, r)) = self.templates.iter().find(|(t, _)| *t == rules.text) {
            return Arc::clone(r);
        }
        let r = Arc::new(rules);
        self.templates.push((r.text.clone(), Arc::clone(&r)));
        r
    }

    /// Number of combinations.
    pub fn len(&self) -> usize {
        self.params.iter().map(|(_, v)| v.len()).product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parameter values of combination `i` (last parameter fastest).
    pub fn values(&self, mut i: usize) -> Vec<(String, Value)> {
        let mut out: Vec<(String, Value)> = Vec::with_capacity(self.params.len());
        for (name, vals) in self.params.iter().rev() {
            out.push((name.clone(), vals[i % vals.len()].clone()));
            i /= vals.len();
        }
        out.reverse();
        out
    }

    /// The rules template of a combination's values.
    fn template(&self, values: &[(String, Value)]) -> Arc<Rules> {
        match self.kind {
            Some(k) => {
                let v: Vec<Value> = values.iter().map(|(_, v)| v.clone()).collect();
                let text = (k.preset().rules)(&v);
                let found = self.templates.iter().find(|(t, _)| *t == text).map(|(_, r)| Arc::clone(r));
                // Templates were all parsed with the bundle; parse a missing one now.
                found.unwrap_or_else(|| Arc::new(Rules::parse(text).expect("preset rules parse")))
            }
            None => Arc::clone(&self.templates[0].1),
        }
    }

    /// Strategy `i` (`i < len()`).
    pub fn get(&self, i: usize) -> Strategy {
        let params = self.values(i);
        Strategy { kind: self.kind, rules: self.template(&params), params }
    }
}

#[cfg(test)]
mod tests {
    use bt_candles::{GenerateSpec, generate};

    use super::reference::{BandMode, Strategy as Hand};
    use super::*;
    use crate::bundle::{Bundle, Limits};
    use crate::metrics::{Accumulator, Annualization, Period};
    use crate::sim::{Direction, NoRecord, SimParams, flags, simulate};
    use crate::strategy::cache::IndicatorCache;

    /// SplitMix64.
    struct Rng(bt_candles::SplitMix64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0.next_u64()
        }
        fn int(&mut self, lo: u64, hi: u64) -> u64 {
            lo + self.next() % (hi - lo + 1)
        }
        fn pick<T: Copy>(&mut self, v: &[T]) -> T {
            v[(self.next() % v.len() as u64) as usize]
        }
    }

    /// A random preset spec and its hand-written strategy.
    fn random_preset(rng: &mut Rng) -> (String, Hand) {
        match rng.int(0, 6) {
            0 | 1 => {
                let (f, s) = (rng.int(1, 30) as usize, rng.int(31, 120) as usize);
                if rng.next().is_multiple_of(2) {
                    (
                        format!("kind = \"sma_cross\"\nfast = {f}\nslow = {s}"),
                        Hand::SmaCross { fast: f, slow: s },
                    )
                } else {
                    (
                        format!("kind = \"ema_cross\"\nfast = {f}\nslow = {s}"),
                        Hand::EmaCross { fast: f, slow: s },
                    )
                }
            }
            2 => {
                let (p, l, u) = (
                    rng.int(2, 30) as usize,
                    rng.pick(&[20.0, 25.5, 30.0, 45.0]),
                    rng.pick(&[55.0, 70.0, 80.25]),
                );
                (
                    format!("kind = \"rsi\"\nperiod = {p}\nlower = {l}\nupper = {u}"),
                    Hand::Rsi { period: p, lower: l, upper: u },
                )
            }
            3 => {
                let (f, s, g) = (rng.int(2, 15) as usize, rng.int(16, 40) as usize, rng.int(2, 12) as usize);
                (
                    format!("kind = \"macd_cross\"\nfast = {f}\nslow = {s}\nsignal = {g}"),
                    Hand::MacdCross { fast: f, slow: s, signal: g },
                )
            }
            4 => {
                let (p, k) = (rng.int(2, 40) as usize, rng.pick(&[0.5, 1.0, 1.5, 2.0, 2.75]));
                let m = rng.pick(&[BandMode::Breakout, BandMode::Reversion]);
                let mode = if m == BandMode::Breakout { "breakout" } else { "reversion" };
                (
                    format!("kind = \"bollinger\"\nperiod = {p}\nk = {k}\nmode = \"{mode}\""),
                    Hand::Bollinger { period: p, k, mode: m },
                )
            }
            5 => {
                let (p, m) = (rng.int(2, 30) as usize, rng.pick(&[0.5, 1.0, 2.0, 3.5]));
                (
                    format!("kind = \"supertrend\"\nperiod = {p}\nmultiplier = {m}"),
                    Hand::Supertrend { period: p, multiplier: m },
                )
            }
            _ => {
                let p = rng.int(1, 60) as usize;
                (format!("kind = \"donchian\"\nperiod = {p}"), Hand::Donchian { period: p })
            }
        }
    }

    #[test]
    fn presets_equal_the_hand_written_strategies_bit_for_bit() {
        let mut rng = Rng(bt_candles::SplitMix64(0xB17));
        let mut fired = [0usize; 7];
        for case in 0..140 {
            let (spec, hand) = random_preset(&mut rng);
            let text = format!("[datasets]\ntickers = [\"A\"]\ntimeframes = [\"1m\"]\n[strategy]\n{spec}\n");
            let b = Bundle::from_toml(&text, Limits::default()).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(b.strategies.len(), 1);
            let c = generate(&GenerateSpec {
                bars: 200 + rng.int(0, 3_000) as usize,
                seed: rng.next(),
                volatility: Some(rng.pick(&[0.001, 0.004, 0.02])),
                ..GenerateSpec::default()
            });
            let mut want = vec![0i8; c.len()];
            hand.signals(c.view(), &IndicatorCache::default(), &mut want);
            let want: Vec<u8> = want.iter().map(|&s| flags::of_side(s)).collect();
            let mut got = vec![0u8; c.len()];
            b.strategies.get(0).signals(c.view(), &ExprCache::default(), &mut got).expect("signals");
            assert_eq!(got, want, "case {case}: {spec}");
            let kind = StrategyKind::ALL.iter().position(|k| Some(*k) == b.strategies.kind).unwrap_or(0);
            fired[kind] += usize::from(want.iter().any(|&f| f != 0));
            // And so the simulator's metrics are the same, bit for bit.
            for direction in [Direction::Long, Direction::Both] {
                let p = SimParams { direction, ..b.sim_params(&b.money[0]) };
                let run = |sig: &[u8]| {
                    let mut acc = Accumulator::new(p.initial_balance);
                    simulate(c.view(), sig, &p, &mut acc, &mut NoRecord);
                    format!("{:?}", acc.finish(&Period::of(c.view().ts, 60_000, Annualization::Auto), 0.0))
                };
                assert_eq!(run(&got), run(&want));
            }
        }
        assert!(fired.iter().all(|&n| n > 0), "every kind must fire in some case: {fired:?}");
    }

    #[test]
    fn grids_build_any_index_in_declaration_order() {
        let text = "[datasets]\ntickers = [\"A\"]\ntimeframes = [\"1m\"]\n[strategy]\nentry_long = \"sma(close, $b) > sma(close, $a) and close > $c\"\n[strategy.params]\nb = [5, 10]\na = [20, 30, 40]\nc = 1.5\n";
        let b = Bundle::from_toml(text, Limits::default()).expect("bundle");
        assert_eq!(b.strategies.len(), 6);
        let s = b.strategies.get(4);
        assert_eq!(s.to_string(), "rules(b=10,a=30,c=1.5)");
        assert_eq!(s.params[2].1, Value::Num(1.5));
        assert_eq!(s.params[0].1, Value::Int(10));
        assert_eq!(s.rules(), [("entry_long", "sma(close, 10) > sma(close, 30) and close > 1.5".to_owned())]);
        assert_eq!(s.kind_name(), "rules");
    }

    const RULES: &str = r#"
        [datasets]
        tickers = ["A"]
        timeframes = ["1m"]
        [strategy]
        entry_long = "cross_above(sma(close, $fast), sma(close, $slow)) and rsi(close, 14) < $rsi_max"
        exit_long = "cross_below(sma(close, $fast), sma(close, $slow))"
        [strategy.params]
        slow = [50, 100]
        fast = [5, 10]
        rsi_max = [60, 70]
    "#;

    fn rules_error(text: &str) -> crate::bundle::SpecError {
        Bundle::from_toml(text, Limits::default()).expect_err("invalid")
    }

    #[test]
    fn rules_bundles_expand_and_survive_a_store_that_sorts_keys() {
        let b = Bundle::from_toml(RULES, Limits::default()).expect("bundle");
        assert_eq!(b.count(), 8);
        // Declaration order, the last fastest: slow, fast, rsi_max.
        let v = b.variant(5).expect("v5");
        assert_eq!(v.strategy.to_string(), "rules(slow=100,fast=5,rsi_max=70)");
        assert_eq!(v.money.direction, Direction::Long);
        assert_eq!(
            v.strategy.rules_text(),
            "entry_long: cross_above(sma(close, 5), sma(close, 100)) and rsi(close, 14) < 70; exit_long: cross_below(sma(close, 5), sma(close, 100))"
        );
        // serde_json's Value sorts object keys, as jsonb does: the order holds.
        let stored = serde_json::to_value(&b.spec).expect("json");
        assert_eq!(stored["strategy"]["params"][0][0], "slow");
        let back: crate::bundle::BundleSpec = serde_json::from_value(stored).expect("back");
        assert_eq!(Bundle::new(back, Limits::default()).expect("bundle"), b);
        // JSON objects are read in document order too.
        let json = r#"{"datasets":{"tickers":["A"],"timeframes":["1m"]},"strategy":{"entry_short":"close < $z","params":{"z":[1,2],"a":[3]},"exit_short":"close > $a"}}"#;
        let j = Bundle::from_json(json, Limits::default()).expect("json");
        assert_eq!(j.strategies.get(1).to_string(), "rules(z=2,a=3)");
        assert_eq!(j.money[0].direction, Direction::Short);
        let both = RULES.replace("[strategy.params]", "exit_short = \"close > 1\"\n[strategy.params]");
        assert_eq!(
            Bundle::from_toml(&both, Limits::default()).expect("both").money[0].direction,
            Direction::Both
        );
    }

    #[test]
    fn bad_rules_are_refused_naming_field_offset_and_closest_name() {
        let e = rules_error(
            &RULES.replace("smaa", "x").replace("sma(close, $slow)) and", "smaa(close, $slow)) and"),
        );
        assert_eq!((e.field.as_str(), e.offset), ("strategy.entry_long", Some(31)));
        assert_eq!(e.message, "unknown function `smaa`; did you mean `sma`?");
        assert_eq!(
            e.render(),
            "strategy.entry_long: unknown function `smaa`; did you mean `sma`?\n  cross_above(sma(close, $fast), smaa(close, $slow)) and rsi(close, 14) < $rsi_max\n                                 ^"
        );
        let e = rules_error(&RULES.replace("rsi_max = [60, 70]", "rsi_max = [60, 70]\nunused = 3"));
        assert_eq!(e.to_string(), "strategy.params.unused: not used by any rule");
        let e = rules_error(&RULES.replace("fast = [5, 10]\n", ""));
        assert_eq!(
            e.to_string(),
            "strategy.entry_long: parameter `$fast` is not in [strategy.params] (at offset 23)"
        );
        let e = rules_error(&RULES.replace("fast = [5, 10]", "fast = [5, 0]"));
        assert_eq!(
            e.to_string(),
            "strategy.entry_long: period of sma must be a whole number of bars >= 1, got 0 ($fast = 0) in combination $slow = 50, $fast = 0, $rsi_max = 60 (at offset 23)"
        );
        let e = rules_error(&RULES.replace("exit_long", "exit_lng"));
        assert_eq!(e.to_string(), "strategy.exit_lng: unknown field; did you mean `exit_long`?");
        let e = rules_error(&RULES.replace("[strategy]", "[strategy]\nkind = \"sma_cross\""));
        assert_eq!(e.field, "strategy.kind");
        let e = rules_error(&RULES.replace("entry_long", "exit_short"));
        assert_eq!(e.to_string(), "strategy.entry_long: rules need an entry: entry_long or entry_short");
        let e = rules_error(&RULES.replace("exit_long = \"", "exit_long = \"prev(close, -1) > close or "));
        assert_eq!(e.field, "strategy.exit_long");
        assert!(e.message.starts_with("look-ahead"), "{e}");
        let e = rules_error(&RULES.replace("rsi_max = [60, 70]", "rsi_max = [\"high\"]"));
        assert_eq!(e.to_string(), "strategy.params.rsi_max: \"high\" is not a number");
    }
}
