//! `donchian`: long when the close exceeds the previous bar's `period`-bar
//! high, short when it falls below the previous bar's `period`-bar low.

use super::{Param, Preset, no_check, reversal};

pub(super) static PRESET: Preset = Preset {
    params: &[Param::whole("period")],
    check: no_check,
    rules: |_| {
        reversal("close > prev(donchian($period).upper, 1)", "close < prev(donchian($period).lower, 1)")
    },
};
