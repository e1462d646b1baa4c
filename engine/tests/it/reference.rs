//! bt beside the tools users know: the fixtures in `tests/fixtures/reference/`
//! were produced by backtesting.py 0.6.6 and vectorbt 1.2.0 themselves
//! (`scripts/reference/make_fixtures.py`, not run in CI) on backtesting.py's
//! GOOG sample with an SMA(10)/SMA(20) cross. Under the matching execution
//! profile, bt's trades equal theirs exactly (bars, sides, reasons) and its
//! prices, sizes, pnl, equity curve and the statistics of the same meaning
//! equal theirs to 1e-9 relative.

use std::path::{Path, PathBuf};

use bt_candles::{Candles, LoadOptions, load};
use bt_engine::bundle::{Bundle, Limits};
use bt_engine::metrics::{DAY_MS, Metrics};
use bt_engine::rules::ExprCache;
use bt_engine::sim::{Detail, ExitReason, Trade, flags};
use bt_engine::sweep::{Kernel, SweepControl, run_variant, sweep_with};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference")
}

fn goog() -> Candles {
    load(&dir().join("goog.csv"), &LoadOptions::default()).expect("goog.csv").candles
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(format!("{name}.json"))).expect("fixture");
    serde_json::from_str(&text).expect("fixture json")
}

/// `a` equals `want` to 1e-9 relative (1e-12 absolute near zero).
fn near(a: f64, want: f64) -> bool {
    (a - want).abs() <= 1e-9 * want.abs() + 1e-12
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

/// The bundle of a case: SMA(10) x SMA(20), fee 0.2 %, 10,000 cash, the
/// profile and its overrides.
fn bundle(direction: &str, stops: Option<(f64, f64)>, execution: &str) -> Bundle {
    let money = match stops {
        Some((sl, tp)) => format!("stop_loss = {sl}\ntake_profit = {tp}\n"),
        None => String::new(),
    };
    let text = format!(
        "initial_balance = 10000\nannualization = \"crypto\"\n\
         [datasets]\ntickers = [\"GOOG\"]\ntimeframes = [\"1d\"]\n\
         [strategy]\nkind = \"sma_cross\"\nfast = 10\nslow = 20\n\
         [money]\ndirection = \"{direction}\"\n{money}\
         [costs]\nfee_bps = 20\n\
         [execution]\n{execution}\n"
    );
    Bundle::from_toml(&text, Limits::default()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn reason(r: ExitReason) -> &'static str {
    match r {
        ExitReason::Signal => "signal",
        ExitReason::StopLoss => "stop_loss",
        ExitReason::TakeProfit => "take_profit",
        ExitReason::End | ExitReason::Open => "end",
        other => other.as_str(),
    }
}

/// Trades equal the fixture's: every field the fixture has.
fn same_trades(case: &str, got: &[Trade], want: &Value) {
    let want = want.as_array().expect("trades");
    assert_eq!(got.len(), want.len(), "{case}: trade count");
    for (k, (t, w)) in got.iter().zip(want).enumerate() {
        let at = format!("{case}: trade {k} ({w})");
        assert_eq!(i64::from(t.side), w["side"].as_i64().expect("side"), "{at}");
        assert_eq!(t.entry_bar as u64, w["entry_bar"].as_u64().expect("entry"), "{at}");
        for (name, v) in [("entry_price", t.entry_price), ("size", t.quantity)] {
            assert!(near(v, f(&w[name])), "{at}: {name} {v}");
        }
        if let Some(exit) = w["exit_bar"].as_u64() {
            assert_eq!(t.exit_bar as u64, exit, "{at}");
            assert_eq!(reason(t.reason), w["exit_reason"].as_str().expect("reason"), "{at}");
            assert!(near(t.exit_price, f(&w["exit_price"])), "{at}: exit_price {}", t.exit_price);
            assert!(near(t.pnl, f(&w["pnl"])), "{at}: pnl {}", t.pnl);
            let ret = t.pnl / (t.quantity * t.entry_price);
            assert!(near(ret, f(&w["return_pct"])), "{at}: return {ret}");
        } else {
            // backtesting.py's open trade: marked to the last close, its entry
            // commission already out of cash (bt's pnl counts it).
            assert_eq!(t.reason, ExitReason::Open, "{at}");
            assert!(near(t.exit_price, f(&w["mark_price"])), "{at}: mark {}", t.exit_price);
            assert!(near(t.pnl + t.fees, f(&w["unrealized_pnl"])), "{at}: unrealized pnl {}", t.pnl + t.fees);
        }
    }
}

fn same_equity(case: &str, got: &[f64], want: &Value) {
    let want = want.as_array().expect("equity");
    assert_eq!(got.len(), want.len(), "{case}: bars");
    for (i, (a, w)) in got.iter().zip(want).enumerate() {
        assert!(near(*a, f(w)), "{case}: equity at bar {i}: {a} vs {w}");
    }
}

/// Runs case `name` of the fixtures: trades, equity and the listed stats
/// (fixture name, bt's value).
fn check(name: &str, b: &Bundle, stats: impl Fn(&Metrics, &Detail) -> Vec<(&'static str, f64)>) {
    let c = goog();
    let want = fixture(name);
    let (m, d) = run_variant(b, 0, c.view()).expect("variant");
    let (closed, open): (Vec<Trade>, Vec<Trade>) =
        d.trades.iter().partition(|t| t.reason != ExitReason::Open);
    same_trades(name, &closed, &want["trades"]);
    same_trades(&format!("{name} (open)"), &open, &want["open_trades"]);
    same_equity(name, &d.equity, &want["equity"]);
    for (stat, got) in stats(&m, &d) {
        let w = f(&want["stats"][stat]);
        assert!(near(got, w), "{name}: {stat} = {got}, {} wants {w}", want["tool"]);
    }
    // The sweep (scalar simulator under a profile) gives the same metrics.
    let swept = sweep_with(b, 0, c.view(), 0..1, &SweepControl::default(), Kernel::Auto).expect("sweep");
    assert_eq!(swept[0].metrics, m, "{name}: sweep == detail");
}

fn days_up(ms: f64) -> f64 {
    (ms / DAY_MS as f64).ceil()
}

/// backtesting.py's statistics that mean what bt's do (README, "Beside
/// backtesting.py and vectorbt", says which differ and why).
fn backtesting_py_stats(m: &Metrics, d: &Detail, exposure: bool) -> Vec<(&'static str, f64)> {
    let peak = d.equity.iter().copied().fold(f64::MIN, f64::max);
    let mut s = vec![
        ("Equity Final [$]", m.final_equity),
        ("Equity Peak [$]", peak),
        ("Return [%]", m.total_return * 100.0),
        ("CAGR [%]", m.cagr * 100.0),
        ("Max. Drawdown [%]", -m.max_drawdown * 100.0),
        ("Max. Drawdown Duration", days_up(m.max_drawdown_duration_ms as f64)),
        ("# Trades", m.trades as f64),
        ("Win Rate [%]", m.win_rate * 100.0),
        ("Best Trade [%]", m.best_trade * 100.0),
        ("Worst Trade [%]", m.worst_trade * 100.0),
        ("Avg. Trade [%]", m.avg_trade_geometric * 100.0),
        ("Max. Trade Duration", days_up(m.max_trade_duration_ms as f64)),
        ("Avg. Trade Duration", days_up(m.avg_trade_duration_ms)),
        ("Profit Factor", m.profit_factor_pct),
        ("Expectancy [%]", m.expectancy_pct * 100.0),
        ("SQN", m.sqn),
        ("Kelly Criterion", m.kelly),
    ];
    if exposure {
        // Both count closed trades only; an open one is in bt's (fees, bars).
        s.extend([("Exposure Time [%]", m.exposure * 100.0), ("Commissions [$]", m.fees)]);
    }
    s
}

/// vectorbt's statistics that mean what bt's do (its annualisation is 365
/// per bar: the bundle's `annualization = "crypto"` on daily bars).
fn vectorbt_stats(m: &Metrics, _: &Detail) -> Vec<(&'static str, f64)> {
    vec![
        ("End Value", m.final_equity),
        ("Total Return [%]", m.total_return * 100.0),
        ("Benchmark Return [%]", m.buy_and_hold_return * 100.0),
        ("Total Fees Paid", m.fees),
        ("Max Drawdown [%]", m.max_drawdown * 100.0),
        ("Total Closed Trades", m.trades as f64),
        ("Win Rate [%]", m.win_rate * 100.0),
        ("Best Trade [%]", m.best_trade * 100.0),
        ("Worst Trade [%]", m.worst_trade * 100.0),
        ("Avg Winning Trade [%]", m.avg_winning_trade * 100.0),
        ("Avg Losing Trade [%]", m.avg_losing_trade * 100.0),
        ("Profit Factor", m.profit_factor),
        ("Expectancy", m.expectancy),
        ("Sharpe Ratio", m.sharpe),
        ("Sortino Ratio", m.sortino),
    ]
}

#[test]
fn bt_signals_are_the_fixtures_crossovers() {
    let c = goog();
    let b = bundle("long", None, "");
    let mut sig = vec![0u8; c.len()];
    b.strategies.get(0).signals(c.view(), &ExprCache::default(), &mut sig).expect("signals");
    let want = fixture("signals");
    let bars = |k: &str| -> Vec<u64> {
        want[k].as_array().expect(k).iter().map(|v| v.as_u64().expect("bar")).collect()
    };
    let up: Vec<u64> =
        (0..sig.len()).filter(|&i| sig[i] & flags::ENTER_LONG != 0).map(|i| i as u64).collect();
    let down: Vec<u64> =
        (0..sig.len()).filter(|&i| sig[i] & flags::ENTER_SHORT != 0).map(|i| i as u64).collect();
    assert_eq!((up.len(), down.len()), (47, 47));
    assert_eq!(up, bars("cross_up"));
    assert_eq!(down, bars("cross_down"));
}

#[test]
fn backtesting_py_long_and_long_short_equal_backtesting_py() {
    let p = "profile = \"backtesting.py\"";
    check("backtesting_py_long", &bundle("long", None, p), |m, d| backtesting_py_stats(m, d, true));
    check("backtesting_py_long_short", &bundle("both", None, p), |m, d| backtesting_py_stats(m, d, true));
    let open_end = format!("{p}\nclose_at_end = false");
    check("backtesting_py_long_open_end", &bundle("long", None, &open_end), |m, d| {
        backtesting_py_stats(m, d, false)
    });
}

#[test]
fn backtesting_py_stops_equal_backtesting_py_from_either_bar() {
    let p = "profile = \"backtesting.py\"";
    check("backtesting_py_sl_tp", &bundle("long", Some((0.05, 0.1)), p), |m, d| {
        backtesting_py_stats(m, d, true)
    });
    check("backtesting_py_sl_tp_tight", &bundle("long", Some((0.021, 0.027)), p), |m, d| {
        backtesting_py_stats(m, d, true)
    });
    let entry_bar = format!("{p}\nstops_from = \"entry_bar\"");
    check(
        "backtesting_py_sl_tp_tight_entry_bar",
        &bundle("long", Some((0.021, 0.027)), &entry_bar),
        |m, d| backtesting_py_stats(m, d, true),
    );
}

#[test]
fn vectorbt_profile_equals_vectorbt_from_signals() {
    let p = "profile = \"vectorbt\"";
    check("vectorbt_long", &bundle("long", None, p), vectorbt_stats);
    check("vectorbt_long_short", &bundle("both", None, p), vectorbt_stats);
    check("vectorbt_sl_tp", &bundle("long", Some((0.05, 0.1)), p), vectorbt_stats);
}
