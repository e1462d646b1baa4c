//! `bollinger`: the close crossing a Bollinger band. `breakout` goes long
//! when it crosses above the upper band and short below the lower;
//! `reversion` the other way round.

use super::{Param, ParamKind, Preset, Value, no_check, reversal};

const ABOVE: &str = "cross_above(close, bbands(close, $period, $k).upper)";
const BELOW: &str = "cross_below(close, bbands(close, $period, $k).lower)";

pub(super) static PRESET: Preset = Preset {
    params: &[
        Param::whole("period"),
        Param::positive("k"),
        Param { name: "mode", kind: ParamKind::Choice(&["breakout", "reversion"]) },
    ],
    check: no_check,
    rules: |v| match v.get(2) {
        Some(Value::Text(m)) if m == "reversion" => reversal(BELOW, ABOVE),
        _ => reversal(ABOVE, BELOW),
    },
};
