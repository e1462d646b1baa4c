//! `ema_cross`: long when the fast EMA of the close crosses above the slow
//! one, short when it crosses below.

use super::{Param, Preset, reversal, slow_above_fast};

pub(super) static PRESET: Preset = Preset {
    params: &[Param::whole("fast"), Param::whole("slow")],
    check: slow_above_fast,
    rules: |_| {
        reversal(
            "cross_above(ema(close, $fast), ema(close, $slow))",
            "cross_below(ema(close, $fast), ema(close, $slow))",
        )
    },
};
