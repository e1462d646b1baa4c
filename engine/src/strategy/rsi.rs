//! `rsi`: long when the RSI crosses up through `lower`, short when it
//! crosses down through `upper`.

use super::{Param, Preset, Value, reversal};

fn check(v: &[Vec<Value>]) -> Result<(), (String, String)> {
    let nums = |k: usize| v[k].iter().filter_map(Value::as_f64);
    let max_lower = nums(1).fold(f64::MIN, f64::max);
    let min_upper = nums(2).fold(f64::MAX, f64::min);
    if min_upper <= max_lower {
        return Err((
            "strategy.upper".into(),
            format!("must be greater than lower (upper {min_upper} <= lower {max_lower})"),
        ));
    }
    Ok(())
}

pub(super) static PRESET: Preset = Preset {
    params: &[Param::whole("period"), Param::range("lower", 0.0, 100.0), Param::range("upper", 0.0, 100.0)],
    check,
    rules: |_| {
        reversal("cross_above(rsi(close, $period), $lower)", "cross_below(rsi(close, $period), $upper)")
    },
};
