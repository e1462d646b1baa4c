//! `bt indicators`: candles plus indicator columns, for research in Polars or pandas.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use bt_candles::{Catalog, TimeRange};
use bt_engine::indicators::spec::IndicatorSpec;
use clap::Args;
use polars::prelude::*;

#[derive(Debug, Args)]
pub struct IndicatorsArgs {
    /// A candle file, or TICKER/TIMEFRAME from the catalog (e.g. BTCUSD/1h).
    target: String,
    /// Indicators, comma-separated: sma:10,ema:12,wma:10,rsi:14,roc:10,macd:12:26:9,
    /// bbands:20:2,atr:14,stoch:14:3:3,adx:14,supertrend:10:3,donchian:20.
    #[arg(long, required = true, value_delimiter = ',')]
    add: Vec<IndicatorSpec>,
    /// Output file (.parquet or .csv): the candles and one column per indicator
    /// output, empty during warm-up.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, env = "BT_CATALOG", default_value = "data")]
    catalog: PathBuf,
}

pub fn run(args: IndicatorsArgs, out: &mut impl Write) -> Result<()> {
    let catalog = Catalog::new(&args.catalog);
    let (loaded, source) = crate::data::load_target(&args.target, TimeRange::ALL, false, &catalog)?;
    let candles = loaded.candles;
    let mut df = bt_candles::to_dataframe(candles.view())?;
    let mut names = Vec::new();
    for spec in &args.add {
        for (name, values) in spec.compute(candles.view()).with_context(|| format!("indicator {spec}"))? {
            let col: Vec<Option<f64>> = values.iter().map(|v| v.is_finite().then_some(*v)).collect();
            df.with_column(Column::new(name.as_str().into(), col))
                .map_err(|e| anyhow::anyhow!("column {name}: {e}"))?;
            names.push(name);
        }
    }
    crate::output::write_frame(&args.out, &mut df)?;
    writeln!(out, "{} rows of {source} with {} -> {}", candles.len(), names.join(", "), args.out.display())?;
    Ok(())
}
