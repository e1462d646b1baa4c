//! `supertrend`: long when the SuperTrend direction flips up, short when it
//! flips down.

use super::{Param, Preset, no_check, reversal};

pub(super) static PRESET: Preset = Preset {
    params: &[Param::whole("period"), Param::positive("multiplier")],
    check: no_check,
    rules: |_| {
        reversal(
            "cross_above(supertrend($period, $multiplier).direction, 0)",
            "cross_below(supertrend($period, $multiplier).direction, 0)",
        )
    },
};
