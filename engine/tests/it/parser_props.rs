//! The bundle parser never panics. Arbitrary text, generated specs (JSON and
//! TOML, rules included) and mutations of generated and example specs go
//! through `serde_json::from_str::<BundleSpec>`, `Bundle::from_json`,
//! `Bundle::from_toml` and `Bundle::new` with a small variant limit. Every
//! error names a field of the spec (and a rule's error an offset inside the
//! rule's text), and a value of the wrong type names its own field;
//! every accepted bundle counts its variants within the limit and builds
//! its first and last variant.
//!
//! The seed is fixed, so a run is reproducible; the numbers of cases are the
//! `CASES_*` constants: 84,000 in all, about 8 s on one core of the dev
//! profile.

use std::cell::Cell;

use bt_engine::bundle::{Bundle, BundleSpec, Limits, SpecError};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

/// Small, so that accepted grids stay cheap to compile.
const LIMITS: Limits = Limits { max_variants: 2_000 };

const CASES_TEXT: u32 = 20_000;
const CASES_RULES: u32 = 20_000;
const CASES_SPECS: u32 = 12_000;
const CASES_MUTATED: u32 = 16_000;
const CASES_EXAMPLES: u32 = 16_000;

/// The fields an error may name at its root (`bundle`: the document itself).
const ROOTS: [&str; 7] = ["bundle", "name", "initial_balance", "datasets", "strategy", "money", "costs"];

/// Runs `cases` cases of `strategy` with a fixed seed and returns how many ran.
fn run<S: Strategy>(
    seed: u64,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> u32 {
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    let ran = Cell::new(0);
    let result = TestRunner::new(config).run(&strategy, |v| {
        ran.set(ran.get() + 1);
        test(v)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    ran.get()
}

fn check_error(e: &SpecError) -> Result<(), TestCaseError> {
    let root = e.field.split(['.', '[']).next().unwrap_or_default();
    prop_assert!(ROOTS.contains(&root), "the error names no field of the spec: {e:?}");
    prop_assert!(!e.message.is_empty(), "empty message: {e:?}");
    let shown = e.to_string();
    prop_assert!(shown.starts_with(&format!("{}: ", e.field)), "{shown}");
    if let Some(offset) = e.offset {
        prop_assert!(e.field.starts_with("strategy."), "an offset outside a rule: {e:?}");
        let rule = e.rule.as_deref().unwrap_or_default();
        prop_assert!(offset <= rule.len(), "offset {offset} past the rule's {} bytes: {e:?}", rule.len());
    }
    prop_assert!(e.render().starts_with(&shown[..shown.len().min(e.field.len())]));
    Ok(())
}

fn check_bundle(b: &Bundle) -> Result<(), TestCaseError> {
    let n = b.count();
    prop_assert!((1..=LIMITS.max_variants).contains(&n), "{n} variants");
    prop_assert_eq!(n, (b.datasets.len() * b.strategies.len() * b.money.len()) as u64);
    prop_assert_eq!(b.variant(0).map(|v| v.index), Some(0));
    let last = b.variant(n - 1).map(|v| (v.index, v.dataset));
    prop_assert_eq!(last, Some((n - 1, b.datasets.len() - 1)));
    prop_assert!(b.variant(n).is_none());
    Ok(())
}

fn check(result: Result<Bundle, SpecError>) -> Result<(), TestCaseError> {
    match result {
        Ok(b) => check_bundle(&b),
        Err(e) => check_error(&e),
    }
}

/// Both ways in the API and `bt run` take for JSON, and the TOML one.
fn check_text(text: &str) -> Result<(), TestCaseError> {
    if let Ok(spec) = serde_json::from_str::<BundleSpec>(text) {
        check(Bundle::new(spec, LIMITS))?;
    }
    check(Bundle::from_json(text, LIMITS))?;
    check(Bundle::from_toml(text, LIMITS))
}

// ------------------------------------------------------------------ generators

/// Pieces of rules: names the grammar knows, near misses, numbers at the
/// edges, operators, `$params`, and multi-byte characters (offsets are bytes).
const TOKENS: &[&str] = &[
    "sma",
    "ema",
    "wma",
    "rsi",
    "roc",
    "macd",
    "bbands",
    "atr",
    "stoch",
    "adx",
    "supertrend",
    "donchian",
    "highest",
    "lowest",
    "prev",
    "rising",
    "falling",
    "cross_above",
    "cross_below",
    "col",
    "abs",
    "min",
    "max",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "smaa",
    "and",
    "or",
    "not",
    ".upper",
    ".lower",
    ".middle",
    ".signal",
    ".hist",
    ".k",
    ".d",
    ".direction",
    ".plus_di",
    ".x",
    "(",
    ")",
    "(",
    ")",
    ",",
    ",",
    "+",
    "-",
    "*",
    "/",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "=",
    "!",
    "$a",
    "$b",
    "$",
    "$1",
    "0",
    "1",
    "2",
    "14",
    "-1",
    "0.5",
    "1e9",
    "1e400",
    "-0",
    "1e-320",
    "99999999999999999999",
    "nan",
    "inf",
    "\"sig\"",
    "\"",
    "'",
    "é",
    "日本",
    "🦀",
    "\u{0}",
    "\u{feff}",
    " ",
    "  ",
    "\t",
    "\n",
];

fn rule_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.join(" ")),
        prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat()),
        // Deep nesting and long rules, around the parser's bounds.
        (0usize..90, prop::sample::select(vec!["sma(", "(", "not ", "-", "prev("]))
            .prop_map(|(n, open)| format!("{}close{}", open.repeat(n), ", 1)".repeat(n))),
        (4_000usize..4_200).prop_map(|n| "close > 1 and ".repeat(n / 14)),
        any::<String>(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (-3i64..300).prop_map(Value::from),
        2 => prop::sample::select(vec![0.0, 0.5, 0.01, 1.5, -0.0, 1e-320, 1e7, 1e7 + 1.0, 1e300, -1e300, 4.5e15])
            .prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => Just(json!(u64::MAX)),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => number(),
        1 => prop::sample::select(vec!["long", "short", "both", "breakout", "reversion", "", "x"]).prop_map(Value::from),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
    ]
}

/// Any grid: anything a field could hold, mostly wrong.
fn wild_grid() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => scalar(),
        3 => prop::collection::vec(scalar(), 0..5).prop_map(Value::from),
        2 => (number(), number(), number()).prop_map(|(a, b, c)| json!({ "start": a, "stop": b, "step": c })),
        1 => (0.0f64..10.0, 0.0f64..2e6, prop::sample::select(vec![1.0, 0.1, 1e-9, 0.0, -1.0]))
            .prop_map(|(a, b, c)| json!({ "start": a, "stop": b, "step": c })),
        1 => (number(), prop::sample::select(vec!["start", "stop", "step", "by"]))
            .prop_map(|(v, k)| json!({ k: v })),
    ]
}

/// Values that fit many fields (periods, fractions, thresholds).
const GOOD: &[f64] = &[0.0, 0.01, 0.05, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 14.0, 20.0, 30.0, 50.0, 70.0];

/// A small grid of plausible values: one, a list, or a range.
fn good_grid() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(GOOD).prop_map(Value::from),
        prop::sample::subsequence(GOOD, 1..4).prop_map(Value::from),
        (2i64..10, 10i64..40, 1i64..12).prop_map(|(a, b, c)| json!({ "start": a, "stop": b, "step": c })),
    ]
}

fn grid() -> impl Strategy<Value = Value> {
    prop_oneof![3 => good_grid(), 1 => wild_grid()]
}

fn some<T: std::fmt::Debug + Clone>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(0.6, s)
}

/// The presets and their parameters, and kinds and names that are not.
const PRESETS: &[(&str, &[&str])] = &[
    ("sma_cross", &["fast", "slow"]),
    ("ema_cross", &["fast", "slow"]),
    ("rsi", &["period", "lower", "upper"]),
    ("macd_cross", &["fast", "slow", "signal"]),
    ("bollinger", &["period", "k", "mode"]),
    ("supertrend", &["period", "multiplier"]),
    ("donchian", &["period"]),
    ("SMA_cross", &["fast", "slow"]),
    ("", &[]),
];
const STRAY_PARAMS: &[&str] = &["fast", "period", "mode", "entry_lng", "params", "kind "];
const RULE_TEMPLATES: &[&str] = &[
    "close > sma(close, $a)",
    "cross_above(ema(close, $a), ema(close, $b))",
    "rsi(close, 14) < $a",
    "close < open and volume > 0",
    "highest(high, $a) > prev(close, 1)",
    "bbands(close, $a, 2).upper < close",
    "col(\"sig\") > 0.5",
    "falling(close, $b)",
];
const MONEY: &[&str] =
    &["stop_loss", "take_profit", "trailing_stop", "max_bars", "leverage", "size", "direction", "margin"];
const TICKERS: &[&str] =
    &["BTCUSD", "ethusd", " SOL ", "", ".hidden", "../etc", "A-B_C.D", "日本", "BTCUSD "];
const TIMEFRAMES: &[&str] = &["1m", "5m", "1h", "4h", "1d", "1w", "1M", "2h", "0m", "h", "1h "];
const TIMES: &[&str] = &[
    "2024-01-05",
    "2024-02-30",
    "2024-01-05T10:00:00Z",
    "2024-01-05T10:00:00+14:00",
    "9999-12-31",
    "0000-01-01",
    "x",
];

fn preset_value() -> impl Strategy<Value = Value> {
    prop::sample::select(PRESETS).prop_flat_map(|(kind, names)| {
        (
            prop::collection::vec(some(prop_oneof![4 => good_grid(), 1 => wild_grid()]), names.len()),
            prop::option::weighted(0.1, (prop::sample::select(STRAY_PARAMS), grid())),
        )
            .prop_map(move |(grids, stray)| {
                let mut m = Map::new();
                m.insert("kind".into(), kind.into());
                for (name, g) in names.iter().zip(grids) {
                    if let Some(g) = g {
                        m.insert((*name).into(), g);
                    }
                }
                if let Some((k, g)) = stray {
                    m.insert(k.into(), g);
                }
                Value::Object(m)
            })
    })
}

fn rules_value() -> impl Strategy<Value = Value> {
    let rule =
        prop_oneof![2 => prop::sample::select(RULE_TEMPLATES).prop_map(String::from), 1 => rule_text()];
    let name = prop_oneof![4 => prop::sample::select(vec!["a", "b"]), 1 => prop::sample::select(vec!["c", "1x", "", "a b"])];
    (
        [
            prop::option::weighted(0.9, rule.clone()),
            prop::option::weighted(0.6, rule.clone()),
            prop::option::weighted(0.6, rule.clone()),
            prop::option::weighted(0.6, rule),
        ],
        prop::collection::vec((name, grid()), 0..4),
        any::<bool>(),
    )
        .prop_map(|(texts, params, as_pairs)| {
            let mut m = Map::new();
            for (name, t) in ["entry_long", "exit_long", "entry_short", "exit_short"].iter().zip(texts) {
                if let Some(t) = t {
                    m.insert((*name).into(), t.into());
                }
            }
            if !params.is_empty() {
                let p = if as_pairs {
                    params.into_iter().map(|(k, g)| json!([k, g])).collect::<Vec<_>>().into()
                } else {
                    Value::Object(params.into_iter().map(|(k, g)| (k.to_owned(), g)).collect())
                };
                m.insert("params".into(), p);
            }
            Value::Object(m)
        })
}

fn spec_value() -> impl Strategy<Value = Value> {
    let tickers = prop_oneof![
        6 => prop::sample::subsequence(vec!["BTCUSD", "ETHUSD", "SOLUSD"], 1..3),
        1 => prop::collection::vec(prop::sample::select(TICKERS), 0..4),
    ];
    let timeframes = prop_oneof![
        6 => prop::sample::subsequence(vec!["1m", "1h", "1d"], 1..3),
        1 => prop::collection::vec(prop::sample::select(TIMEFRAMES), 0..4),
    ];
    let time = || prop::option::weighted(0.2, prop::sample::select(TIMES));
    let datasets = (tickers, timeframes, time(), time()).prop_map(|(tickers, timeframes, from, to)| {
        let mut d = json!({ "tickers": tickers, "timeframes": timeframes });
        if let Some(f) = from {
            d["from"] = f.into();
        }
        if let Some(t) = to {
            d["to"] = t.into();
        }
        d
    });
    let money = prop::collection::vec((prop::sample::select(MONEY), grid()), 0..3)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, g)| (k.to_owned(), g)).collect()));
    let costs = (some(number()), some(number())).prop_map(|(fee, slip)| {
        let mut c = Map::new();
        if let Some(f) = fee {
            c.insert("fee_bps".into(), f);
        }
        if let Some(s) = slip {
            c.insert("slippage_bps".into(), s);
        }
        Value::Object(c)
    });
    let strategy = prop_oneof![preset_value(), rules_value()];
    let balance = prop_oneof![4 => prop::sample::select(vec![1.0, 100.0, 10_000.0, 1e9]).prop_map(Value::from), 1 => number()];
    (some(".{0,210}"), some(balance), datasets, strategy, some(money), some(costs)).prop_map(
        |(name, balance, datasets, strategy, money, costs)| {
            let mut m = Map::new();
            if let Some(n) = name {
                m.insert("name".into(), n.into());
            }
            if let Some(b) = balance {
                m.insert("initial_balance".into(), b);
            }
            m.insert("datasets".into(), datasets);
            m.insert("strategy".into(), strategy);
            if let Some(x) = money {
                m.insert("money".into(), x);
            }
            if let Some(x) = costs {
                m.insert("costs".into(), x);
            }
            Value::Object(m)
        },
    )
}

/// A value as a TOML inline value; `None` for what TOML cannot say (null).
fn toml_inline(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        // JSON's strings and numbers are TOML's (a control character or an
        // integer past i64 is a TOML error, which is fine here).
        Value::Bool(_) | Value::Number(_) | Value::String(_) => v.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(toml_inline).collect::<Option<Vec<_>>>()?.join(", ")),
        Value::Object(m) => format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| Some(format!("{} = {}", Value::from(k.as_str()), toml_inline(v)?)))
                .collect::<Option<Vec<_>>>()?
                .join(", ")
        ),
    })
}

/// A spec as TOML: top-level values first, then a `[table]` per object.
fn toml_text(spec: &Value) -> Option<String> {
    let m = spec.as_object()?;
    let mut out = String::new();
    for (k, v) in m.iter().filter(|(_, v)| !v.is_object()) {
        out += &format!("{k} = {}\n", toml_inline(v)?);
    }
    for (k, v) in m.iter().filter(|(_, v)| v.is_object()) {
        out += &format!("[{k}]\n");
        for (k, v) in v.as_object()? {
            out += &format!("{} = {}\n", Value::from(k.as_str()), toml_inline(v)?);
        }
    }
    Some(out)
}

/// A spec as JSON text and, where TOML can say it (no nulls), TOML text.
fn texts(spec: &Value) -> Vec<String> {
    let mut out = vec![spec.to_string()];
    out.extend(toml_text(spec));
    out
}

/// Pieces that break documents in interesting ways.
const SPLICES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "=",
    "\n",
    "[strategy]\n",
    "[strategy.params]\n",
    "[money]\n",
    "null",
    "nan",
    "inf",
    "-inf",
    "1e999",
    "-",
    "0",
    "\"x\"",
    "{\"start\": 1}",
    "[]",
    "{}",
    "é",
    "\u{0}",
    "\\u0000",
    "\\ud800",
    "#",
    "'''",
    "\"\"\"",
];

/// One edit: delete a range, insert a splice, or duplicate a range.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, &'static str),
    Duplicate(usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), 1usize..12).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), prop::sample::select(SPLICES)).prop_map(|(at, s)| Edit::Insert(at, s)),
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::Duplicate(at, n)),
    ];
    prop::collection::vec(edit, 1..5)
}

fn boundary(s: &str, at: usize) -> usize {
    let mut i = at % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut s = text.to_owned();
    for e in edits {
        match *e {
            Edit::Delete(at, n) => {
                let a = boundary(&s, at);
                let b = boundary(&s, a + n.min(s.len() - a));
                s.replace_range(a..b, "");
            }
            Edit::Insert(at, piece) => {
                let a = boundary(&s, at);
                s.insert_str(a, piece);
            }
            Edit::Duplicate(at, n) => {
                let a = boundary(&s, at);
                let b = boundary(&s, a + n.min(s.len() - a));
                let piece = s[a..b].to_owned();
                s.insert_str(b, &piece);
            }
        }
    }
    s
}

const EXAMPLES: [&str; 8] = [
    include_str!("../../../examples/sma_cross.toml"),
    include_str!("../../../examples/rsi_both.json"),
    include_str!("../../../examples/rules_bollinger_reversion.toml"),
    include_str!("../../../examples/rules_column_signal.toml"),
    include_str!("../../../examples/rules_donchian_short.toml"),
    include_str!("../../../examples/rules_macd_time_exit.toml"),
    include_str!("../../../examples/rules_sma_rsi_adx.toml"),
    include_str!("../../../examples/rules_stoch_trend.toml"),
];

// ------------------------------------------------------------------ properties

#[test]
fn arbitrary_text_never_panics_the_bundle_parser() {
    let ran = run(1, CASES_TEXT, any::<String>(), |text| check_text(&text));
    assert_eq!(ran, CASES_TEXT);
}

#[test]
fn arbitrary_rules_never_panic_and_errors_point_inside_the_rule() {
    let strategy =
        (prop::sample::select(vec!["entry_long", "exit_long", "entry_short", "exit_short"]), rule_text());
    let ran = run(2, CASES_RULES, strategy, |(rule, text)| {
        let mut spec = json!({
            "datasets": { "tickers": ["BTCUSD"], "timeframes": ["1h"] },
            "strategy": { "entry_long": "close > open", "params": { "a": [2, 5], "b": 3 } },
        });
        spec["strategy"][rule] = text.clone().into();
        let spec: BundleSpec =
            serde_json::from_value(spec).map_err(|e| TestCaseError::fail(e.to_string()))?;
        match Bundle::new(spec, LIMITS) {
            Ok(b) => check_bundle(&b),
            Err(e) => {
                check_error(&e)?;
                // An error in the rule that was replaced is that rule's, with its text.
                if e.offset.is_some() {
                    prop_assert_eq!(&e.field, &format!("strategy.{rule}"));
                    prop_assert_eq!(e.rule.as_deref(), Some(text.as_str()));
                }
                Ok(())
            }
        }
    });
    assert_eq!(ran, CASES_RULES);
}

#[test]
fn generated_specs_never_panic_and_every_error_names_a_field() {
    let (accepted, refused, mistyped) = (Cell::new(0), Cell::new(0), Cell::new(0));
    let ran = run(3, CASES_SPECS, spec_value(), |spec| {
        for text in texts(&spec) {
            check_text(&text)?;
        }
        // Well-formed JSON with both required keys and no unknown one: an
        // error is in a field below the document, and names that field.
        match BundleSpec::from_json(&spec.to_string()) {
            Ok(s) => match Bundle::new(s, LIMITS) {
                Ok(b) => {
                    accepted.set(accepted.get() + 1);
                    check_bundle(&b)
                }
                Err(e) => {
                    refused.set(refused.get() + 1);
                    check_error(&e)
                }
            },
            Err(e) => {
                mistyped.set(mistyped.get() + 1);
                check_error(&e)?;
                prop_assert_ne!(e.field.as_str(), "bundle", "{}", e);
                Ok(())
            }
        }
    });
    assert_eq!(ran, CASES_SPECS);
    // The generator reaches every outcome, not only serde's errors.
    let counts = (accepted.get(), refused.get(), mistyped.get());
    assert!(counts.0 * 100 >= CASES_SPECS, "{counts:?} accepted, refused, mistyped");
    assert!(counts.1 * 4 >= CASES_SPECS, "{counts:?} accepted, refused, mistyped");
    assert!(counts.2 * 10 >= CASES_SPECS, "{counts:?} accepted, refused, mistyped");
}

/// `base` with the value at JSON pointer `at` set (its parent must exist).
fn with(base: &Value, at: &str, v: Value) -> Value {
    let mut out = base.clone();
    let (parent, key) = at.rsplit_once('/').unwrap_or_default();
    match out.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.insert(key.into(), v);
        }
        Some(Value::Array(a)) => a[key.parse::<usize>().unwrap_or_default()] = v,
        _ => panic!("{at}: no parent in {base}"),
    }
    out
}

/// A value of the wrong type is named by its field, in JSON and TOML alike
/// (every one of these was `bundle` before, whatever the field).
#[test]
fn a_mistyped_value_names_its_field() {
    let rules = json!({
        "name": "typed",
        "datasets": { "tickers": ["BTCUSD"], "timeframes": ["1h"] },
        "strategy": { "entry_long": "close > sma(close, $a)", "params": { "a": [5, 10] } },
        "money": { "stop_loss": [0, 0.02] },
        "costs": { "fee_bps": 10 },
    });
    let preset = with(&rules, "/strategy", json!({ "kind": "sma_cross", "fast": [5, 10], "slow": 20 }));
    for base in [&rules, &preset] {
        assert_eq!(Bundle::from_json(&base.to_string(), LIMITS).map(|b| b.count()), Ok(4));
    }
    let cases = [
        (&rules, "/name", json!(5), "name"),
        (&rules, "/initial_balance", json!("ten"), "initial_balance"),
        (&rules, "/datasets/tickers", json!("BTCUSD"), "datasets.tickers"),
        (&rules, "/datasets/tickers/0", json!(7), "datasets.tickers[0]"),
        (&rules, "/datasets/from", json!([2024]), "datasets.from"),
        (&rules, "/strategy/kind", json!("SMA"), "strategy.kind"),
        (&rules, "/strategy/exit_long", json!(1), "strategy.exit_long"),
        (&rules, "/strategy/params/a", json!({ "start": 1 }), "strategy.params.a"),
        (&rules, "/strategy/params", json!(3), "strategy.params"),
        (&rules, "/money/stop_loss", json!(true), "money.stop_loss"),
        (&rules, "/money/stop_loss/1", json!({ "x": 1 }), "money.stop_loss"),
        (&rules, "/money/margin", json!(1), "money.margin"),
        (&rules, "/costs/fee_bps", json!("ten"), "costs.fee_bps"),
        // A preset's parameters are a flattened table: serde names the strategy.
        (&preset, "/strategy/fast", json!({ "start": 1 }), "strategy"),
        (&preset, "/strategy/kind", json!(["sma_cross"]), "strategy.kind"),
        // The document itself: a required key missing, an unknown one.
        (&rules, "/colour", json!(1), "bundle"),
    ];
    for (base, at, v, field) in cases {
        let spec = with(base, at, v);
        let e = BundleSpec::from_json(&spec.to_string()).expect_err("mistyped");
        assert_eq!((at, e.field.as_str()), (at, field), "{e}");
        let toml = toml_text(&spec).expect("toml");
        let e = BundleSpec::from_toml(&toml).expect_err("mistyped");
        assert_eq!((at, e.field.as_str()), (at, field), "TOML: {e}\n{toml}");
    }
    let mut no_datasets = rules.clone();
    no_datasets.as_object_mut().map(|m| m.remove("datasets"));
    assert_eq!(BundleSpec::from_json(&no_datasets.to_string()).map_err(|e| e.field), Err("bundle".into()));
}

#[test]
fn mutated_generated_specs_never_panic() {
    let ran = run(4, CASES_MUTATED, (spec_value(), edits()), |(spec, edits)| {
        for text in texts(&spec) {
            check_text(&mutate(&text, &edits))?;
        }
        Ok(())
    });
    assert_eq!(ran, CASES_MUTATED);
}

#[test]
fn mutated_examples_never_panic() {
    for text in EXAMPLES {
        // The seeds are valid bundles.
        let b = Bundle::from_toml(text, Limits::default())
            .or_else(|_| Bundle::from_json(text, Limits::default()));
        assert!(b.is_ok(), "{text}: {b:?}");
    }
    let ran = run(5, CASES_EXAMPLES, (prop::sample::select(EXAMPLES.to_vec()), edits()), |(text, edits)| {
        check_text(&mutate(text, &edits))
    });
    assert_eq!(ran, CASES_EXAMPLES);
}
