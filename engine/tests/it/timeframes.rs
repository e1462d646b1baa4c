//! The engine on calendar months and irregular bars: what annualisation
//! makes of them.

use bt_candles::{GenerateSpec, Timeframe, generate};
use bt_engine::bundle::{Bundle, Limits};
use bt_engine::metrics::Annualization;

fn bundle(timeframe: &str, annualization: &str) -> Result<Bundle, bt_engine::bundle::SpecError> {
    let text = format!(
        "{annualization}[datasets]\ntickers = [\"A\"]\ntimeframes = [\"{timeframe}\"]\n\
         [strategy]\nkind = \"sma_cross\"\nfast = [3]\nslow = [12]\n"
    );
    Bundle::from_toml(&text, Limits::default())
}

#[test]
fn calendar_months_are_12_bars_a_year_under_every_word() {
    let months = generate(&GenerateSpec { bars: 36, timeframe: Timeframe::Month, ..GenerateSpec::default() });
    for word in ["", "annualization = \"crypto\"\n", "annualization = \"equities\"\n"] {
        let b = bundle("1M", word).expect("bundle");
        assert_eq!(b.datasets[0].timeframe, Timeframe::Month);
        let p = b.period(0, months.view());
        assert_eq!(p.bars_per_year, 12.0, "{word:?}");
        // 2024-01-01 .. 2026-12-01: 1,065 days.
        assert_eq!(p.span_ms, 1_065 * 86_400_000);
    }
    let p = bundle("1M", "annualization = 11.5\n").expect("bundle").period(0, months.view());
    assert_eq!((p.bars_per_year, p.basis), (11.5, Annualization::BarsPerYear(11.5)));
}

#[test]
fn irregular_bars_need_a_number_of_bars_per_year() {
    for word in
        ["", "annualization = \"auto\"\n", "annualization = \"crypto\"\n", "annualization = \"equities\"\n"]
    {
        let e = bundle("irregular", word).expect_err("refused");
        assert_eq!(e.field, "annualization", "{word:?}");
        assert!(e.message.contains("irregular bars (datasets.timeframes) do not have"), "{}", e.message);
    }
    let irregular =
        generate(&GenerateSpec { bars: 100, timeframe: Timeframe::Irregular, ..GenerateSpec::default() });
    let b = bundle("irregular", "annualization = 98280\n").expect("a number");
    let p = b.period(0, irregular.view());
    assert_eq!((p.bars_per_year, p.span_ms), (98_280.0, irregular.ts()[99] - irregular.ts()[0]));
}
