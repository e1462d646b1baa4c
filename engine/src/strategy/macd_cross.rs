//! `macd_cross`: long when the MACD line crosses above its signal line,
//! short when it crosses below.

use super::{Param, Preset, reversal, slow_above_fast};

pub(super) static PRESET: Preset = Preset {
    params: &[Param::whole("fast"), Param::whole("slow"), Param::whole("signal")],
    check: slow_above_fast,
    rules: |_| {
        reversal(
            "cross_above(macd(close, $fast, $slow, $signal), macd(close, $fast, $slow, $signal).signal)",
            "cross_below(macd(close, $fast, $slow, $signal), macd(close, $fast, $slow, $signal).signal)",
        )
    },
};
