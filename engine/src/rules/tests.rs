//! Rules: compile errors with their positions, evaluation against
//! hand-computed columns, and sharing through the cache.

use bt_candles::{Columns, Extra, ExtraKind};

use super::compile::INDICATORS;
use super::*;
use crate::sim::flags::{ENTER_LONG, ENTER_SHORT, EXIT_LONG, EXIT_SHORT};

fn params(p: &[(&str, f64)]) -> Vec<(String, f64)> {
    p.iter().map(|(n, v)| (n.to_string(), *v)).collect()
}

fn compile(rule: &str, p: &[(&str, f64)]) -> Result<Compiled, RuleError> {
    let r =
        Rules::parse(RuleText { entry_long: Some(rule.into()), ..RuleText::default() }).map_err(|e| e.1)?;
    r.compile(&params(p)).map_err(|e| e.1)
}

fn error(rule: &str, p: &[(&str, f64)]) -> (usize, String) {
    let e = compile(rule, p).expect_err(rule);
    (e.offset, e.message)
}

#[test]
fn errors_name_the_position_and_the_closest_name() {
    let r = "cross_above(sma(close, $fast), smaa(close, $slow))";
    assert_eq!(
        error(r, &[("fast", 5.0), ("slow", 50.0)]),
        (31, "unknown function `smaa`; did you mean `sma`?".into())
    );
    assert_eq!(
        error("macd(close, 12, 26, 9).sgnal > 0", &[]),
        (23, "macd has no output `sgnal`; did you mean `signal`? (outputs: signal, hist)".into())
    );
    assert_eq!(
        error("bbands(close, 20, 2) > close", &[]),
        (0, "pick an output of bbands: .upper, .middle, .lower".into())
    );
    assert_eq!(error("atr(14).upper > 1", &[]), (8, "atr has one output; drop `.upper`".into()));
    assert_eq!(error("sma(close) > 1", &[]), (0, "sma takes 2 arguments: sma(x, period) (got 1)".into()));
    assert_eq!(
        error("prev(close, -1) > close", &[]),
        (12, "look-ahead: prev(x, n) reads n bars back and needs n >= 1, got -1".into())
    );
    assert_eq!(
        error("prev(close, 0) > close", &[]).1,
        "look-ahead: prev(x, n) reads n bars back and needs n >= 1, got 0"
    );
    assert_eq!(
        error("sma(close, $fast) > 1", &[("fats", 5.0)]),
        (11, "parameter `$fast` is not in [strategy.params]; did you mean `$fats`?".into())
    );
    assert_eq!(
        error("sma(close, $p) > 1", &[("p", 2.5)]),
        (11, "period of sma must be a whole number of bars >= 1, got 2.5 ($p = 2.5)".into())
    );
    assert_eq!(error("sma(close, 0) > 1", &[]).1, "period of sma must be a whole number of bars >= 1, got 0");
    assert_eq!(
        error("bbands(close, 20, -2).upper > 1", &[]).1,
        "k of bbands must be a positive number, got -2"
    );
    assert_eq!(
        error("sma(close, 10)", &[]),
        (0, "a rule must be a condition (true or false at each bar), but this is a numeric series; compare it, e.g. `... > 0`".into())
    );
    assert_eq!(
        error("close > 1 and 5", &[]),
        (14, "the right side of `and` must be a condition, but this is a number".into())
    );
    assert_eq!(
        error("(close > 1) + 1 > 0", &[]),
        (0, "the left side of `+` must be a number or numeric series, not a condition".into())
    );
    assert_eq!(
        error("sma(close, close) > 1", &[]),
        (11, "period of sma must be a number or a $parameter, not a numeric series".into())
    );
    assert_eq!(
        error("cross_above(1, 2)", &[]),
        (0, "cross_above of two numbers never fires: give it a series".into())
    );
    assert_eq!(error("col(sig) > 0", &[]).0, 4);
    assert_eq!(error("col(\"close\") > 0", &[]).1, "`close` is a price column: write `close`");
    assert_eq!(error("rising(close > 1, 2)", &[]).1, "rising needs a numeric series, not a condition");
    assert_eq!(
        error("sma(1, 5) > 0", &[]).1,
        "the first argument of sma is the series it reads, e.g. sma(close, ...)"
    );
    assert_eq!(error("adx(close, 14) > 0", &[]).1, "adx takes 1 argument: adx(period) (got 2)");
    assert_eq!(error("hihgest(high, 5) > 0", &[]).1, "unknown function `hihgest`; did you mean `highest`?");
    assert_eq!(
        error("volum > 0", &[]).1.split(" (").next(),
        Some("unknown name `volum`; did you mean `volume`?")
    );
    assert_eq!(error("sma > 0", &[]).1, "`sma` is a function: call it, e.g. `sma(...)`");
}

#[test]
fn every_indicator_of_bt_indicators_is_callable_with_its_outputs() {
    for (name, _, outputs) in crate::indicators::spec::KINDS {
        let sig = INDICATORS.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(sig.outputs, outputs, "{name}");
        assert_eq!(
            sig.param_names().collect::<Vec<_>>(),
            crate::indicators::spec::KINDS
                .iter()
                .find(|k| k.0 == name)
                .map(|k| k.1.to_vec())
                .unwrap_or_default()
        );
        let mut args: Vec<String> = if sig.series { vec!["close".into()] } else { vec![] };
        args.extend(sig.param_names().enumerate().map(|(i, _)| (3 + i).to_string()));
        for o in outputs {
            let call = format!(
                "{name}({}){}",
                args.join(", "),
                if o.is_empty() { String::new() } else { format!(".{o}") }
            );
            compile(&format!("{call} > 0"), &[]).unwrap_or_else(|e| panic!("{call}: {e:?}"));
        }
    }
}

/// Bars from closes (open = previous close, high/low around them), with a
/// data column `sig`.
fn bars(close: &[f64], sig: &[f64]) -> Columns {
    let mut c = Columns::default();
    for (i, &x) in close.iter().enumerate() {
        let o = if i == 0 { x } else { close[i - 1] };
        c.push(i as i64 * 60_000, o, o.max(x) + 0.5, o.min(x) - 0.5, x, 10.0 + i as f64);
    }
    c.extra.push(Extra { name: "sig".into(), kind: ExtraKind::Number, values: sig.to_vec() });
    c
}

/// The entry_long column of a rule on `c`.
fn column(rule: &str, c: &Columns) -> Vec<u8> {
    let p = compile(rule, &[]).unwrap_or_else(|e| panic!("{rule}: {e:?}")).program;
    let mut out = vec![9u8; c.len()];
    p.signals(c.view(), &ExprCache::default(), &mut out).expect("signals");
    out.iter().map(|f| u8::from(f & ENTER_LONG != 0)).collect()
}

#[test]
fn evaluates_against_hand_computed_columns() {
    let close = [10.0, 11.0, 9.0, 12.0, 12.0, 8.0, 13.0];
    let sig = [0.0, 1.0, f64::NAN, -1.0, 0.0, 2.0, 1.0];
    let c = bars(&close, &sig);
    assert_eq!(column("close > open", &c), [0, 1, 0, 1, 0, 0, 1]);
    assert_eq!(column("close >= 12", &c), [0, 0, 0, 1, 1, 0, 1]);
    assert_eq!(column("close == 12 or close < 9", &c), [0, 0, 0, 1, 1, 1, 0]);
    assert_eq!(column("not (close > 10) and close != 9", &c), [1, 0, 0, 0, 0, 1, 0]);
    // Strict crosses: 12 -> 12 is not a cross, nor is a bar that starts on the level.
    assert_eq!(column("cross_above(close, 11.5)", &c), [0, 0, 0, 1, 0, 0, 1]);
    assert_eq!(column("cross_below(close, 12)", &c), [0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(column("cross_below(close, 11)", &c), [0, 0, 0, 0, 0, 1, 0]);
    assert_eq!(column("cross_below(close, 10.5)", &c), [0, 0, 1, 0, 0, 1, 0]);
    assert_eq!(column("cross_above(10.5, close)", &c), [0, 0, 1, 0, 0, 1, 0]);
    // prev: NaN (false) before n bars; rising/falling compare with n bars back.
    assert_eq!(column("close > prev(close, 2)", &c), [0, 0, 0, 1, 1, 0, 1]);
    assert_eq!(column("prev(close > open, 1)", &c), [0, 0, 1, 0, 1, 0, 0]);
    assert_eq!(column("rising(close, 1)", &c), [0, 1, 0, 1, 0, 0, 1]);
    assert_eq!(column("falling(close, 3)", &c), [0, 0, 0, 0, 0, 1, 0]);
    // highest of the last 3 closes: NaN, NaN, 11, 12, 12, 12, 13.
    assert_eq!(column("highest(close, 3) == close", &c), [0, 0, 0, 1, 1, 0, 1]);
    assert_eq!(column("lowest(close, 2) < 9", &c), [0, 0, 0, 0, 0, 1, 1]);
    // Arithmetic with NaN-free columns; volume is 10 + t.
    assert_eq!(column("(close - open) * 2 / volume > 0.1", &c), [0, 1, 0, 1, 0, 0, 1]);
    assert_eq!(column("-close < -11", &c), [0, 0, 0, 1, 1, 0, 1]);
    // A data column; NaN compares false, both ways.
    assert_eq!(column("col(\"sig\") > 0", &c), [0, 1, 0, 0, 0, 1, 1]);
    assert_eq!(column("col(\"sig\") != 0", &c), [0, 1, 0, 1, 0, 1, 1]);
    assert_eq!(column("not (col(\"sig\") <= 0)", &c), [0, 1, 1, 0, 0, 1, 1]);
    assert_eq!(column("highest(col(\"sig\"), 2) >= 1", &c), [0, 1, 0, 0, 0, 1, 1]);
    assert_eq!(column("2 > 1", &c), [1; 7]);
}

#[test]
fn highest_and_lowest_skip_windows_with_nan() {
    let x = [1.0, 3.0, f64::NAN, 2.0, 5.0, 4.0, 0.0];
    let h = eval::extreme(&x, 2, true);
    let l = eval::extreme(&x, 3, false);
    let show = |v: &[f64]| v.iter().map(|x| if x.is_nan() { -1.0 } else { *x }).collect::<Vec<_>>();
    assert_eq!(show(&h), [-1.0, 3.0, -1.0, -1.0, 5.0, 5.0, 4.0]);
    assert_eq!(show(&l), [-1.0, -1.0, -1.0, -1.0, -1.0, 2.0, 0.0]);
}

#[test]
fn an_indicator_of_a_series_starts_after_its_warm_up() {
    let close: Vec<f64> = (0..60).map(|i| 100.0 + (i as f64 * 0.7).sin() * 5.0).collect();
    let c = bars(&close, &vec![0.0; 60]);
    let v = c.view();
    let mut rsi = vec![f64::NAN; 60];
    crate::indicators::rsi(v.close, 14, &mut rsi).expect("rsi");
    let first = rsi.iter().position(|x| !x.is_nan()).expect("warm");
    let mut want = vec![f64::NAN; 60];
    crate::indicators::sma(&rsi[first..], 5, &mut want[first..]).expect("sma");
    let p = compile("sma(rsi(close, 14), 5) > 50", &[]).expect("rule").program;
    let mut out = vec![0u8; 60];
    p.signals(v, &ExprCache::default(), &mut out).expect("signals");
    let got: Vec<u8> = out.iter().map(|f| f & ENTER_LONG).collect();
    let expect: Vec<u8> = want.iter().map(|x| u8::from(*x > 50.0)).collect();
    assert_eq!(got, expect);
    assert!(want[first + 4].is_finite() && want[first + 3].is_nan());
}

#[test]
fn conflicting_rules_cancel_and_entries_reverse() {
    use crate::sim::flags::of;
    assert_eq!(of(true, false, false, false), ENTER_LONG | EXIT_SHORT);
    assert_eq!(of(false, false, true, false), ENTER_SHORT | EXIT_LONG);
    assert_eq!(of(true, true, false, false), 0);
    assert_eq!(of(true, false, true, false), 0);
    assert_eq!(of(true, false, true, true), ENTER_LONG | EXIT_SHORT);
    assert_eq!(of(false, true, false, true), EXIT_LONG | EXIT_SHORT);
}

#[test]
fn identical_subexpressions_are_one_node_and_shared_through_the_cache() {
    let text = RuleText {
        entry_long: Some("cross_above(sma(close, $f), sma(close, 20)) and rsi(close, 14) < $m".into()),
        exit_long: Some("cross_below(sma(close, $f), sma(close, 20))".into()),
        ..RuleText::default()
    };
    let r = Rules::parse(text).expect("parse");
    let a = r.compile(&params(&[("f", 5.0), ("m", 70.0)])).expect("a").program;
    let b = r.compile(&params(&[("f", 5.0), ("m", 60.0)])).expect("b").program;
    // close, sma 5, its output, sma 20, its output, cross up, rsi, its output, <, and, cross down.
    assert_eq!(a.nodes.len(), 11, "{:?}", a.nodes.iter().map(|n| &n.key).collect::<Vec<_>>());
    assert!(a.nodes.iter().any(|n| n.key == "cross_above(sma(close, 5).0, sma(close, 20).0)"));
    let close: Vec<f64> = (0..300).map(|i| 100.0 + (i as f64 / 9.0).sin() * 8.0).collect();
    let c = bars(&close, &vec![0.0; 300]);
    let cache = ExprCache::default();
    let (mut fa, mut fb) = (vec![0u8; 300], vec![0u8; 300]);
    a.signals(c.view(), &cache, &mut fa).expect("a");
    let kept = cache.len();
    b.signals(c.view(), &cache, &mut fb).expect("b");
    // b adds only its own comparison with 60 (its `and` is a root: not kept).
    assert_eq!(cache.len(), kept + 1);
    assert!(fa.iter().any(|f| f & ENTER_LONG != 0) && fa.iter().any(|f| f & EXIT_LONG != 0));
    // A cache at its bound keeps nothing new and gives the same signals.
    let full = ExprCache::with_limit(0);
    let mut fc = vec![0u8; 300];
    b.signals(c.view(), &full, &mut fc).expect("c");
    assert_eq!(fc, fb);
    assert!(full.len() <= 1);
}

#[test]
fn display_substitutes_parameters() {
    let r = Rules::parse(RuleText {
        entry_long: Some("sma(close, $fast) > sma(close, $fast_slow) and $x < 1".into()),
        exit_short: Some("close < 1".into()),
        ..RuleText::default()
    })
    .expect("parse");
    let p = [("fast", "5"), ("fast_slow", "50")].map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(r.display(&p), "entry_long: sma(close, 5) > sma(close, 50) and $x < 1; exit_short: close < 1");
}

#[test]
fn a_missing_data_column_is_an_error_not_a_panic() {
    let p = compile("col(\"other\") > 0", &[]).expect("rule").program;
    let c = bars(&[1.0, 2.0], &[0.0, 0.0]);
    let e = p.signals(c.view(), &ExprCache::default(), &mut [0u8; 2]).expect_err("missing");
    assert_eq!(e, "the dataset has no data column \"other\"");
}

/// The programs of `cross_above(sma(close, $f), sma(close, 20)) and
/// rsi(close, 14) < $m` (entry) and its cross below (exit) for (f, m).
fn sma_rsi_programs(values: &[(f64, f64)]) -> Vec<Program> {
    let r = Rules::parse(RuleText {
        entry_long: Some("cross_above(sma(close, $f), sma(close, 20)) and rsi(close, 14) < $m".into()),
        exit_long: Some("cross_below(sma(close, $f), sma(close, 20))".into()),
        ..RuleText::default()
    })
    .expect("parse");
    values.iter().map(|&(f, m)| r.compile(&params(&[("f", f), ("m", m)])).expect("compile").program).collect()
}

#[test]
fn a_column_is_dropped_when_its_last_user_is_done() {
    let n = 300;
    let close: Vec<f64> = (0..n).map(|i| 100.0 + (i as f64 / 9.0).sin() * 8.0).collect();
    let c = bars(&close, &vec![0.0; n]);
    let [a, b, d] =
        <[Program; 3]>::try_from(sma_rsi_programs(&[(5.0, 70.0), (5.0, 60.0), (10.0, 70.0)])).expect("three");
    let cache = ExprCache::for_users(usize::MAX, [&a, &b, &d]);
    let kept = |cache: &ExprCache| cache.keys();
    let mut got = Vec::new();
    for (p, after_eval, after_release) in [
        // a keeps what b or d read again: close (no bytes), both averages,
        // their cross, rsi and `< 70` (not its own `and`, a rule).
        (&a, 6, 6),
        // b adds nothing (its `< 60` is its own); after it, sma 5 and the
        // cross of 5 and 20 have no user left.
        (&b, 6, 4),
        // d's sma 10 and its cross are its own: never kept.
        (&d, 4, 0),
    ] {
        let mut out = vec![0u8; n];
        p.signals(c.view(), &cache, &mut out).expect("signals");
        assert_eq!(cache.len(), after_eval, "{:?}", kept(&cache));
        cache.release(p);
        assert_eq!(cache.len(), after_release, "{:?}", kept(&cache));
        got.push(out);
    }
    // Averages and rsi are 8 bytes a bar, comparisons and crosses 1.
    assert_eq!(cache.peak(), (3 * 8 + 2) * n);
    assert_eq!(cache.bytes(), 0);
    // The same signals as a cache that keeps everything.
    let all = ExprCache::default();
    for (p, g) in [&a, &b, &d].into_iter().zip(&got) {
        let mut out = vec![0u8; n];
        p.signals(c.view(), &all, &mut out).expect("signals");
        assert_eq!(&out, g);
    }
    assert_eq!(all.len(), 9);
}

#[test]
fn a_counted_cache_never_holds_more_than_its_bound() {
    let n = 300;
    let close: Vec<f64> = (0..n).map(|i| 100.0 + (i as f64 / 7.0).cos() * 5.0).collect();
    let c = bars(&close, &vec![0.0; n]);
    let ps = sma_rsi_programs(&[(5.0, 70.0), (5.0, 60.0), (10.0, 70.0)]);
    // Room for one average and two 1-byte columns: in evaluation order sma 5
    // (8n) fits, sma 20 does not, the cross (n) fits, rsi does not, `< 70` fits.
    let cache = ExprCache::for_users(10 * n, &ps);
    let mut out = vec![0u8; n];
    ps[0].signals(c.view(), &cache, &mut out).expect("signals");
    assert_eq!((cache.bytes(), cache.len()), (10 * n, 4));
    let mut reference = vec![0u8; n];
    ps[0].signals(c.view(), &ExprCache::default(), &mut reference).expect("signals");
    assert_eq!(out, reference);
    for p in &ps {
        cache.release(p);
    }
    assert_eq!((cache.bytes(), cache.len(), cache.peak()), (0, 0, 10 * n));
}

#[test]
fn column_bytes_count_every_column_a_program_computes() {
    let n = 300;
    let ps = sma_rsi_programs(&[(5.0, 70.0)]);
    // Three 8-byte indicators; the cross, `<`, `and` and the cross below 1 byte each.
    assert_eq!(ps[0].column_bytes(n), (3 * 8 + 4) * n);
    let close: Vec<f64> = (0..n).map(|i| 100.0 + i as f64).collect();
    let cache = ExprCache::default();
    ps[0].signals(bars(&close, &vec![0.0; n]).view(), &cache, &mut vec![0u8; n]).expect("signals");
    // The cache holds all but the two rules.
    assert_eq!(cache.bytes() + 2 * n, ps[0].column_bytes(n));
}
