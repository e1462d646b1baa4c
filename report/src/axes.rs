//! The axes of a bundle's variants: every dimension its grids span (ticker,
//! timeframe, each strategy parameter, each money field), with the labels of
//! its values and where it sits in the variant number.
//!
//! A variant's number is a mixed-radix number whose digits are its axes'
//! levels (`Bundle::variant`: dataset, then strategy, then money, each the
//! last fastest), so an axis's level is `(variant / stride) % radix`. That
//! arithmetic needs nothing but the number: the report's page, the API's
//! SQL and this module all decode a variant the same way.

use std::ops::Range;

use bt_engine::bundle::{Bundle, Money};

/// One dimension of a bundle's variants.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// `ticker`, `timeframe`, a strategy parameter's name or a money field.
    pub name: String,
    /// Each level's value as text, in grid order.
    pub labels: Vec<String>,
    /// `dataset`, `strategy` or `money`.
    pub kind: &'static str,
    /// What one step of this axis adds to the variant number.
    pub stride: u64,
}

impl Axis {
    /// Number of levels.
    pub fn radix(&self) -> u64 {
        self.labels.len() as u64
    }

    /// Variant `variant`'s level on this axis.
    pub fn level(&self, variant: u64) -> usize {
        ((variant / self.stride) % self.radix()) as usize
    }
}

/// Every axis of a bundle, in the variant number's digit order (most
/// significant first).
#[derive(Debug, Clone, PartialEq)]
pub struct Axes(pub Vec<Axis>);

impl Axes {
    /// The axes of `bundle`. A strategy parameter named like a dataset or
    /// money axis is called `strategy.<name>`, so names stay unique.
    pub fn of(bundle: &Bundle) -> Self {
        let money_grid = bundle.money_grid();
        let money_len = bundle.money.len() as u64;
        let strategies = bundle.strategies.len() as u64;
        let timeframes = bundle.spec.datasets.timeframes.len().max(1);
        let tickers = bundle.datasets.len() / timeframes;
        let mut axes = Vec::new();
        let per_dataset = strategies * money_len;
        axes.push(Axis {
            name: "ticker".into(),
            labels: (0..tickers).map(|t| bundle.datasets[t * timeframes].ticker.clone()).collect(),
            kind: "dataset",
            stride: per_dataset * timeframes as u64,
        });
        axes.push(Axis {
            name: "timeframe".into(),
            labels: bundle.datasets[..timeframes].iter().map(|d| d.timeframe.as_str().to_owned()).collect(),
            kind: "dataset",
            stride: per_dataset,
        });
        let reserved =
            |n: &str| matches!(n, "ticker" | "timeframe") || money_grid.iter().any(|(m, _)| *m == n);
        let params = &bundle.strategies.params;
        for (k, (name, values)) in params.iter().enumerate() {
            let later: u64 = params[k + 1..].iter().map(|(_, v)| v.len() as u64).product();
            axes.push(Axis {
                name: if reserved(name) { format!("strategy.{name}") } else { name.clone() },
                labels: values.iter().map(ToString::to_string).collect(),
                kind: "strategy",
                stride: money_len * later,
            });
        }
        for (f, &(name, len)) in money_grid.iter().enumerate() {
            let stride: u64 = money_grid[f + 1..].iter().map(|&(_, l)| l as u64).product();
            let labels =
                (0..len as u64).map(|i| money_label(name, &bundle.money[(i * stride) as usize])).collect();
            axes.push(Axis { name: name.into(), labels, kind: "money", stride });
        }
        Self(axes)
    }

    /// The axes with more than one level: those a heatmap can show.
    pub fn varying(&self) -> impl Iterator<Item = (usize, &Axis)> {
        self.0.iter().enumerate().filter(|(_, a)| a.radix() > 1)
    }

    /// The axis named `name`.
    pub fn find(&self, name: &str) -> Option<&Axis> {
        self.0.iter().find(|a| a.name == name)
    }
}

/// A money field's value as text: `none` for an unset stop or bar limit.
fn money_label(field: &str, m: &Money) -> String {
    let opt = |v: Option<f64>| v.map_or_else(|| "none".to_owned(), |x| x.to_string());
    match field {
        "stop_loss" => opt(m.stop_loss),
        "take_profit" => opt(m.take_profit),
        "trailing_stop" => opt(m.trailing_stop),
        "max_bars" => m.max_bars.map_or_else(|| "none".to_owned(), |b| b.to_string()),
        "leverage" => m.leverage.to_string(),
        "size" => m.size.to_string(),
        _ => m.direction.as_str().to_owned(),
    }
}

/// At most `max` bins of `levels` consecutive levels (all of them, one each,
/// when they fit): level `l` is in bin `l * bins / levels`, the rule the
/// API's SQL applies too, so bins differ in size by at most one level.
pub fn bin_count(levels: u64, max: u64) -> u64 {
    levels.min(max.max(1))
}

/// Level `level`'s bin among `bins` bins of `levels` levels.
pub fn bin_of(level: u64, levels: u64, bins: u64) -> u64 {
    level * bins / levels
}

/// The levels of each of `bins` bins of `levels` levels, in order.
pub fn bin_ranges(levels: u64, bins: u64) -> Vec<Range<u64>> {
    // Bin b holds the levels l with floor(l * bins / levels) == b.
    let first = |b: u64| (b * levels).div_ceil(bins);
    (0..bins).map(|b| first(b)..first(b + 1)).collect()
}

/// A bin's label: its level's label, or `first..last` of several.
pub fn bin_label(axis: &Axis, levels: &Range<u64>) -> String {
    let label = |l: u64| axis.labels[l as usize].as_str();
    if levels.end - levels.start <= 1 {
        label(levels.start).to_owned()
    } else {
        format!("{}..{}", label(levels.start), label(levels.end - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_engine::bundle::Limits;

    const SPEC: &str = r#"
        [datasets]
        tickers = ["BTCUSD", "ETHUSD", "SOLUSD"]
        timeframes = ["1m", "1h"]
        [strategy]
        kind = "sma_cross"
        fast = [5, 10, 15]
        slow = { start = 60, stop = 100, step = 20 }
        [money]
        stop_loss = [0, 0.02]
        take_profit = [0.05, 0.1]
        leverage = [1, 2, 3]
        direction = ["long", "both"]
    "#;

    #[test]
    fn every_variant_decodes_to_its_own_parameters() {
        let b = Bundle::from_toml(SPEC, Limits::default()).expect("bundle");
        let axes = Axes::of(&b);
        let names: Vec<&str> = axes.0.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ticker",
                "timeframe",
                "fast",
                "slow",
                "stop_loss",
                "take_profit",
                "trailing_stop",
                "max_bars",
                "leverage",
                "size",
                "direction"
            ]
        );
        let radix: Vec<u64> = axes.0.iter().map(Axis::radix).collect();
        assert_eq!(radix, [3, 2, 3, 3, 2, 2, 1, 1, 3, 1, 2]);
        assert_eq!(radix.iter().product::<u64>(), b.count());
        assert_eq!(
            axes.find("slow").map(|a| a.labels.clone()),
            Some(vec!["60".into(), "80".into(), "100".into()])
        );
        assert_eq!(
            axes.find("stop_loss").map(|a| a.labels.clone()),
            Some(vec!["none".into(), "0.02".into()])
        );
        let varying: Vec<&str> = axes.varying().map(|(_, a)| a.name.as_str()).collect();
        assert_eq!(
            varying,
            ["ticker", "timeframe", "fast", "slow", "stop_loss", "take_profit", "leverage", "direction"]
        );
        for n in 0..b.count() {
            let v = b.variant(n).expect("variant");
            let label = |name: &str| axes.find(name).map(|a| a.labels[a.level(n)].clone()).expect("axis");
            let d = &b.datasets[v.dataset];
            assert_eq!(label("ticker"), d.ticker, "{n}");
            assert_eq!(label("timeframe"), d.timeframe.as_str(), "{n}");
            assert_eq!(label("fast"), v.strategy.params[0].1.to_string(), "{n}");
            assert_eq!(label("slow"), v.strategy.params[1].1.to_string(), "{n}");
            assert_eq!(label("stop_loss"), money_label("stop_loss", &v.money), "{n}");
            assert_eq!(label("take_profit"), money_label("take_profit", &v.money), "{n}");
            assert_eq!(label("leverage"), money_label("leverage", &v.money), "{n}");
            assert_eq!(label("direction"), money_label("direction", &v.money), "{n}");
        }
    }

    #[test]
    fn a_parameter_named_like_a_money_axis_is_renamed() {
        let spec = r#"
            [datasets]
            tickers = ["BTCUSD"]
            timeframes = ["1h"]
            [strategy]
            entry_long = "close > sma(close, $stop_loss)"
            params = { stop_loss = [5, 10] }
        "#;
        let b = Bundle::from_toml(spec, Limits::default()).expect("bundle");
        let axes = Axes::of(&b);
        assert_eq!(axes.find("strategy.stop_loss").map(Axis::radix), Some(2));
        assert_eq!(axes.find("stop_loss").map(Axis::radix), Some(1));
    }

    #[test]
    fn bins_are_consecutive_and_even() {
        for levels in 1..60u64 {
            for max in 1..70u64 {
                let bins = bin_count(levels, max);
                let ranges = bin_ranges(levels, bins);
                assert_eq!(ranges.len() as u64, bins);
                assert_eq!(ranges[0].start, 0);
                assert_eq!(ranges[ranges.len() - 1].end, levels);
                let sizes: Vec<u64> = ranges.iter().map(|r| r.end - r.start).collect();
                assert!(sizes.iter().all(|&s| s >= 1), "{levels} {max}: {sizes:?}");
                assert!(sizes.iter().max().unwrap_or(&0) - sizes.iter().min().unwrap_or(&0) <= 1);
                for (b, r) in ranges.iter().enumerate() {
                    assert!(r.clone().all(|l| bin_of(l, levels, bins) == b as u64), "{levels} {bins} {b}");
                }
            }
        }
        let a = Axis {
            name: "fast".into(),
            labels: (1..=10).map(|v| v.to_string()).collect(),
            kind: "strategy",
            stride: 1,
        };
        assert_eq!(bin_label(&a, &(0..1)), "1");
        assert_eq!(bin_label(&a, &(3..6)), "4..6");
    }
}
