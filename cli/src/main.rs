//! `bt`: the backtest command line.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod data;
mod indicators;
mod output;
mod run;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// bt: fast bundle backtests on OHLCV candles.
#[derive(Debug, Parser)]
#[command(name = "bt", version, about, propagate_version = true)]
struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `bt=debug`.
    #[arg(long, global = true, env = "BT_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Candle datasets: import, inspect, list, resample, generate.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Run a bundle on the local catalog (no database) and rank its variants.
    Run(run::RunArgs),
    /// Candles plus indicator columns, written as Parquet or CSV.
    Indicators(indicators::IndicatorsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match cli.command {
        Command::Data(cmd) => data::run(cmd, &mut out),
        Command::Run(args) => run::run(args, &mut out),
        Command::Indicators(args) => indicators::run(args, &mut out),
    };
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One clear line: the error and its causes.
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
