//! Indicator specs as users write them (`macd:12:26:9`) and their named
//! output columns (`macd_12_26_9`, `macd_12_26_9_signal`, `macd_12_26_9_hist`).

use std::fmt;
use std::str::FromStr;

use bt_candles::CandlesView;

use crate::indicators::{self as ind, IndicatorError};

/// One indicator with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorSpec {
    pub kind: &'static str,
    pub params: Vec<f64>,
}

/// Kinds, their parameter names and output suffixes (empty: the bare name).
pub(crate) const KINDS: [(&str, &[&str], &[&str]); 12] = [
    ("sma", &["period"], &[""]),
    ("ema", &["period"], &[""]),
    ("wma", &["period"], &[""]),
    ("rsi", &["period"], &[""]),
    ("roc", &["period"], &[""]),
    ("macd", &["fast", "slow", "signal"], &["", "signal", "hist"]),
    ("bbands", &["period", "k"], &["upper", "middle", "lower"]),
    ("atr", &["period"], &[""]),
    ("stoch", &["fastk", "slowk", "slowd"], &["k", "d"]),
    ("adx", &["period"], &["", "plus_di", "minus_di"]),
    ("supertrend", &["period", "multiplier"], &["", "direction"]),
    ("donchian", &["period"], &["upper", "middle", "lower"]),
];

/// A spec that does not parse, with the text it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("indicator {spec:?}: {message}")]
pub struct SpecParseError {
    pub spec: String,
    pub message: String,
}

impl FromStr for IndicatorSpec {
    type Err = SpecParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |message: String| SpecParseError { spec: s.to_owned(), message };
        let mut parts = s.trim().split(':');
        let name = parts.next().unwrap_or_default().to_ascii_lowercase();
        let Some(&(kind, names, _)) = KINDS.iter().find(|(k, _, _)| *k == name) else {
            let all: Vec<&str> = KINDS.iter().map(|k| k.0).collect();
            return Err(bad(format!("unknown indicator (one of {})", all.join(", "))));
        };
        let params: Vec<f64> = parts
            .map(|p| p.trim().parse::<f64>().map_err(|_| bad(format!("{p:?} is not a number"))))
            .collect::<Result<_, _>>()?;
        if params.len() != names.len() {
            return Err(bad(format!("expected {} parameter(s): {kind}:{}", names.len(), names.join(":"))));
        }
        for (p, n) in params.iter().zip(names) {
            let integral = !matches!(*n, "k" | "multiplier");
            if !p.is_finite() || *p <= 0.0 || (integral && p.fract() != 0.0) {
                return Err(bad(format!(
                    "{n} must be a positive {}",
                    if integral { "whole number" } else { "number" }
                )));
            }
        }
        Ok(Self { kind, params })
    }
}

impl fmt::Display for IndicatorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p: Vec<String> = self.params.iter().map(|v| v.to_string()).collect();
        write!(f, "{}_{}", self.kind, p.join("_"))
    }
}

impl IndicatorSpec {
    /// Output column names: `<kind>_<params joined by _>[_<output>]`.
    pub fn column_names(&self) -> Vec<String> {
        let outputs = KINDS.iter().find(|k| k.0 == self.kind).map_or(&[""][..], |k| k.2);
        outputs.iter().map(|o| if o.is_empty() { self.to_string() } else { format!("{self}_{o}") }).collect()
    }

    /// Computes the outputs over `c`, NaN during warm-up, named as `column_names`.
    pub fn compute(&self, c: CandlesView<'_>) -> Result<Vec<(String, Vec<f64>)>, IndicatorError> {
        let n = c.len();
        let p = |i: usize| self.params[i] as usize;
        let mut outs: Vec<Vec<f64>> = self.column_names().iter().map(|_| vec![f64::NAN; n]).collect();
        match (self.kind, outs.as_mut_slice()) {
            ("sma", [o]) => ind::sma(c.close, p(0), o)?,
            ("ema", [o]) => ind::ema(c.close, p(0), o)?,
            ("wma", [o]) => ind::wma(c.close, p(0), o)?,
            ("rsi", [o]) => ind::rsi(c.close, p(0), o)?,
            ("roc", [o]) => ind::roc(c.close, p(0), o)?,
            ("macd", [a, b, h]) => ind::macd(c.close, p(0), p(1), p(2), a, b, h)?,
            ("bbands", [u, m, l]) => ind::bbands(c.close, p(0), self.params[1], u, m, l)?,
            ("atr", [o]) => ind::atr(c.high, c.low, c.close, p(0), o)?,
            ("stoch", [k, d]) => ind::stoch(c.high, c.low, c.close, p(0), p(1), p(2), k, d)?,
            ("adx", [a, pd, md]) => ind::adx(c.high, c.low, c.close, p(0), a, pd, md)?,
            ("supertrend", [s, d]) => ind::supertrend(c.high, c.low, c.close, p(0), self.params[1], s, d)?,
            ("donchian", [u, m, l]) => ind::donchian(c.high, c.low, p(0), u, m, l)?,
            _ => {}
        }
        Ok(self.column_names().into_iter().zip(outs).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_columns() {
        let s: IndicatorSpec = "macd:12:26:9".parse().expect("macd");
        assert_eq!(s.column_names(), ["macd_12_26_9", "macd_12_26_9_signal", "macd_12_26_9_hist"]);
        let b: IndicatorSpec = "bbands:20:2".parse().expect("bbands");
        assert_eq!(b.column_names(), ["bbands_20_2_upper", "bbands_20_2_middle", "bbands_20_2_lower"]);
        assert_eq!(
            "stoch:14:3:3".parse::<IndicatorSpec>().expect("s").column_names(),
            ["stoch_14_3_3_k", "stoch_14_3_3_d"]
        );
        assert_eq!("adx:14".parse::<IndicatorSpec>().expect("adx").column_names()[0], "adx_14");
        assert_eq!(
            "supertrend:10:2.5".parse::<IndicatorSpec>().expect("st").column_names()[1],
            "supertrend_10_2.5_direction"
        );
    }

    #[test]
    fn rejects_bad_specs_with_the_reason() {
        let e = |s: &str| s.parse::<IndicatorSpec>().expect_err(s).to_string();
        assert_eq!(
            e("macd:12:26"),
            "indicator \"macd:12:26\": expected 3 parameter(s): macd:fast:slow:signal"
        );
        assert_eq!(e("sma:x"), "indicator \"sma:x\": \"x\" is not a number");
        assert_eq!(e("sma:2.5"), "indicator \"sma:2.5\": period must be a positive whole number");
        assert!(e("foo:1").starts_with("indicator \"foo:1\": unknown indicator (one of sma, ema,"));
    }
}
