//! Technical indicators as batch kernels over `&[f64]`, following TA-Lib's
//! conventions exactly (each function documents its own).
//!
//! Running sums, smoothing and quotients are computed in TA-Lib's order of
//! operations, so the outputs equal TA-Lib's bit for bit (each kernel names
//! where it departs): two averages TA-Lib makes exactly equal, as on prices on
//! a tick grid, are exactly equal here too, and a strict cross does not fire
//! on one-ulp rounding noise that TA-Lib-based tools never see.
//!
//! Every kernel writes into caller-provided output slices of the input's
//! length, with `NaN` during the warm-up (TA-Lib's "lookback"): lengths and
//! periods are checked once at the boundary, then a loop that cannot fail runs.
//! Kernels allocate only where noted (the Donchian channel's window deques).

// Kernels index several equally long columns by bar number; iterator chains
// over four zipped slices read worse and compile to the same loop.
#![allow(clippy::needless_range_loop)]

pub mod average;
pub mod momentum;
pub mod spec;
pub mod volatility;

#[cfg(test)]
pub(crate) mod reference;

pub use average::{ema, sma, wma};
pub use momentum::{adx, macd, roc, rsi, stoch};
pub use volatility::{atr, bbands, donchian, supertrend, true_range};

/// Invalid arguments to an indicator kernel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndicatorError {
    #[error("{name} must be at least {min}, got {value}")]
    Period { name: &'static str, value: usize, min: usize },
    #[error("{name} has length {got}, expected {expected}")]
    Length { name: &'static str, got: usize, expected: usize },
    #[error("{name} must be finite, got {value}")]
    Parameter { name: &'static str, value: String },
}

pub(crate) fn check_period(name: &'static str, value: usize, min: usize) -> Result<(), IndicatorError> {
    if value < min { Err(IndicatorError::Period { name, value, min }) } else { Ok(()) }
}

pub(crate) fn check_len(name: &'static str, got: usize, expected: usize) -> Result<(), IndicatorError> {
    if got != expected { Err(IndicatorError::Length { name, got, expected }) } else { Ok(()) }
}

/// Fills `out[..n.min(out.len())]` with NaN (the warm-up).
pub(crate) fn warmup(out: &mut [f64], n: usize) {
    let n = n.min(out.len());
    out[..n].fill(f64::NAN);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TA-Lib 0.6.4's outputs (testdata/talib_fixture.py) on tick-grid bars:
    /// name, then each bar's f64 as hex bits or `nan`.
    fn fixture() -> Vec<(String, Vec<f64>)> {
        let bits = |w: &str| {
            if w == "nan" { f64::NAN } else { f64::from_bits(u64::from_str_radix(w, 16).expect("hex")) }
        };
        include_str!("testdata/talib_fixture.txt")
            .lines()
            .map(|l| {
                let mut w = l.split(' ');
                let name = w.next().expect("name").to_owned();
                (name, w.map(bits).collect())
            })
            .collect()
    }

    /// Every output of the indicator `spec` (`kind:params`), named as in the fixture.
    fn outputs(spec: &str, h: &[f64], l: &[f64], c: &[f64]) -> Vec<(String, Vec<f64>)> {
        let mut parts = spec.split(':');
        let kind = parts.next().expect("kind");
        let p: Vec<usize> = parts.map(|v| v.parse().expect("param")).collect();
        let n = c.len();
        let col = || vec![0.0; n];
        let named = |outs: Vec<Vec<f64>>, suffixes: &[&str]| {
            outs.into_iter().zip(suffixes).map(|(v, s)| (format!("{spec}{s}"), v)).collect::<Vec<_>>()
        };
        match kind {
            "sma" | "wma" | "ema" | "rsi" | "roc" => {
                let mut o = col();
                let f = match kind {
                    "sma" => sma,
                    "wma" => wma,
                    "ema" => ema,
                    "rsi" => rsi,
                    _ => roc,
                };
                f(c, p[0], &mut o).expect(spec);
                named(vec![o], &[""])
            }
            "atr" => {
                let mut o = col();
                atr(h, l, c, p[0], &mut o).expect(spec);
                named(vec![o], &[""])
            }
            "adx" => {
                let (mut a, mut pd, mut md) = (col(), col(), col());
                adx(h, l, c, p[0], &mut a, &mut pd, &mut md).expect(spec);
                named(vec![a, pd, md], &["", ".plus_di", ".minus_di"])
            }
            "bbands" => {
                let (mut u, mut m, mut lo) = (col(), col(), col());
                bbands(c, p[0], p[1] as f64, &mut u, &mut m, &mut lo).expect(spec);
                named(vec![u, m, lo], &[".upper", ".middle", ".lower"])
            }
            "stoch" => {
                let (mut k, mut d) = (col(), col());
                stoch(h, l, c, p[0], p[1], p[2], &mut k, &mut d).expect(spec);
                named(vec![k, d], &[".k", ".d"])
            }
            "macd" => {
                let (mut m, mut s, mut hi) = (col(), col(), col());
                macd(c, p[0], p[1], p[2], &mut m, &mut s, &mut hi).expect(spec);
                named(vec![m, s, hi], &["", ".signal", ".hist"])
            }
            _ => panic!("unknown fixture indicator {spec}"),
        }
    }

    #[test]
    fn outputs_equal_talib_bit_for_bit_on_tick_grid_prices() {
        let fx = fixture();
        let input = |name: &str| fx.iter().find(|(n, _)| n == name).expect(name).1.clone();
        let (h, l, c) = (input("high"), input("low"), input("close"));
        let (mut checked, mut failed) = (0, Vec::new());
        for (name, want) in &fx[3..] {
            let spec = name.split('.').next().expect("spec");
            let got = outputs(spec, &h, &l, &c).into_iter().find(|(n, _)| n == name).expect(name).1;
            // The bands' deviation is two-pass on purpose (see `bbands`): TA-Lib's
            // running sum of squares leaves flat windows up to 3e-6 wide at 100.
            if name.ends_with(".upper") || name.ends_with(".lower") {
                for (g, w) in got.iter().zip(want).filter(|(_, w)| !w.is_nan()) {
                    assert!((g - w).abs() <= 1e-7 * w.abs(), "{name}: got {g}, TA-Lib {w}");
                }
                continue;
            }
            let bad: Vec<usize> = (0..got.len())
                .filter(|&i| got[i].to_bits() != want[i].to_bits() && !(got[i].is_nan() && want[i].is_nan()))
                .collect();
            if let Some(&i) = bad.first() {
                failed.push(format!(
                    "{name}: {} bars, first {i}: got {:?}, TA-Lib {:?}",
                    bad.len(),
                    got[i],
                    want[i]
                ));
            }
            checked += 1;
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
        assert_eq!(checked, 40);
    }
}
