//! Random rule trees through the whole engine: the sweep's lane kernels, the
//! scalar path and the detail path give the same metrics bit for bit, on 1, 2
//! and 4 threads.

mod parser_props;
mod reference;
mod timeframes;

use bt_candles::{Candles, Extra, ExtraKind, GenerateSpec, generate};
use bt_engine::bundle::{Bundle, Limits};
use bt_engine::sweep::{Kernel, SweepControl, run_variant, sweep_with};

/// SplitMix64.
struct Rng(bt_candles::SplitMix64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }
    /// A period: a number or the parameter `$a`.
    fn period(&mut self) -> String {
        if self.below(3) == 0 { "$a".into() } else { (2 + self.below(20)).to_string() }
    }
}

/// A random numeric series.
fn num(r: &mut Rng, depth: u32) -> String {
    let leaf = depth == 0 || r.below(3) == 0;
    if leaf {
        return match r.below(8) {
            0 => "col(\"sig\")".into(),
            1 => format!("atr({})", r.period()),
            2 => format!("adx({}){}", r.period(), r.pick(&["", ".plus_di", ".minus_di"])),
            3 => format!("stoch({}, 3, 3).{}", r.period(), r.pick(&["k", "d"])),
            4 => format!("donchian({}).{}", r.period(), r.pick(&["upper", "middle", "lower"])),
            5 => format!("supertrend({}, 2){}", r.period(), r.pick(&["", ".direction"])),
            _ => r.pick(&["open", "high", "low", "close", "volume"]).into(),
        };
    }
    let x = num(r, depth - 1);
    match r.below(9) {
        0 => format!("{}({x}, {})", r.pick(&["sma", "ema", "wma", "rsi", "roc"]), r.period()),
        1 => format!("macd({x}, 3, {}, 4){}", 5 + r.below(10), r.pick(&["", ".signal", ".hist"])),
        2 => format!("bbands({x}, {}, 1.5).{}", r.period(), r.pick(&["upper", "middle", "lower"])),
        3 => format!("{}({x}, {})", r.pick(&["highest", "lowest", "prev"]), r.period()),
        4 => format!("({x} {} {})", r.pick(&["+", "-", "*", "/"]), num(r, depth - 1)),
        5 => format!("({x} * {})", r.below(5) as f64 * 0.5),
        6 => format!("-{x}"),
        _ => x,
    }
}

/// A random condition.
fn cond(r: &mut Rng, depth: u32) -> String {
    let d = depth.saturating_sub(1);
    match r.below(if depth == 0 { 4 } else { 8 }) {
        0 => format!("{} {} {}", num(r, d), r.pick(&["<", "<=", ">", ">=", "!="]), num(r, d)),
        1 => format!("cross_{}({}, {})", r.pick(&["above", "below"]), num(r, d), num(r, d)),
        2 => format!("{}({}, {})", r.pick(&["rising", "falling"]), num(r, d), r.period()),
        3 => format!("col(\"sig\") {} {}", r.pick(&[">", "<"]), r.pick(&["0", "0.5", "-0.5"])),
        4 => format!("({} {} {})", cond(r, d), r.pick(&["and", "or"]), cond(r, d)),
        5 => format!("not {}", cond(r, d)),
        6 => format!("prev({}, {})", cond(r, d), r.period()),
        _ => format!("cross_above({}, prev({}, 1))", num(r, d), num(r, d)),
    }
}

fn candles(r: &mut Rng, bars: usize) -> Candles {
    let c = generate(&GenerateSpec { bars, seed: r.next(), ..GenerateSpec::default() });
    let mut cols = c.into_columns();
    let sig: Vec<f64> = (0..bars)
        .map(|_| match r.below(20) {
            0 => f64::NAN,
            k => (k as f64 - 10.0) / 9.0,
        })
        .collect();
    cols.extra.push(Extra { name: "sig".into(), kind: ExtraKind::Number, values: sig });
    Candles::try_from_columns(cols).expect("valid")
}

#[test]
fn random_rule_trees_sweep_equals_detail_on_any_thread_count() {
    let mut r = Rng(bt_candles::SplitMix64(0xD1CE));
    let (mut ran, mut traded) = (0, 0);
    for case in 0..40 {
        let mut rules = Vec::new();
        for name in ["entry_long", "exit_long", "entry_short", "exit_short"] {
            if r.below(3) > 0 || (name == "entry_long" && rules.is_empty()) {
                let depth = 1 + r.below(3) as u32;
                rules.push(format!("{name} = '{}'", cond(&mut r, depth)));
            }
        }
        let rules = rules.join("\n").replace('\'', "\"\"\"");
        let params = if rules.contains("$a") { "[strategy.params]\na = [3, 7]\n" } else { "" };
        let text = format!(
            "[datasets]\ntickers = [\"A\"]\ntimeframes = [\"1m\"]\n[strategy]\n{rules}\n{params}[money]\nstop_loss = [0, 0.01]\ntrailing_stop = [0, 0.02]\nmax_bars = [0, 25]\nleverage = [1, 3]\n[costs]\nfee_bps = 5\n"
        );
        let b = match Bundle::from_toml(&text, Limits::default()) {
            Ok(b) => b,
            Err(e) => panic!("case {case}: {e}\n{text}"),
        };
        let bars = 500 + r.below(2_500) as usize;
        let c = candles(&mut r, bars);
        let run = |kernel: Kernel, threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
            let res =
                pool.install(|| sweep_with(&b, 0, c.view(), 0..b.count(), &SweepControl::default(), kernel));
            format!("{:?}", res.expect("sweep"))
        };
        let scalar = run(Kernel::Scalar, 2);
        assert_eq!(run(Kernel::Auto, 1), scalar, "case {case}: {text}");
        assert_eq!(run(Kernel::Auto, 2), scalar, "case {case}");
        assert_eq!(run(Kernel::Auto, 4), scalar, "case {case}");
        assert_eq!(run(Kernel::Portable, 2), scalar, "case {case}");
        let all =
            sweep_with(&b, 0, c.view(), 0..b.count(), &SweepControl::default(), Kernel::Auto).expect("sweep");
        for _ in 0..4 {
            let i = r.below(b.count());
            let (m, d) = run_variant(&b, i, c.view()).expect("variant");
            assert_eq!(
                format!("{:?}", all[i as usize].metrics),
                format!("{m:?}"),
                "case {case} variant {i}: {text}"
            );
            assert_eq!(*d.equity.last().expect("equity"), m.final_equity);
        }
        ran += 1;
        traded += usize::from(all.iter().any(|v| v.metrics.trades > 0));
    }
    assert_eq!(ran, 40);
    assert!(traded >= 20, "only {traded} of 40 random rule sets traded");
}
