//! `bt`: the backtest command line.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod data;
mod indicators;
mod output;
mod report;
mod run;
mod service;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// bt: fast bundle backtests on OHLCV candles.
#[derive(Debug, Parser)]
#[command(name = "bt", version, about, propagate_version = true)]
struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `bt=debug`
    /// [default: `info` for `bt work`, `warn` otherwise].
    #[arg(long, global = true, env = "BT_LOG")]
    log: Option<String>,
    /// Log lines as text or as JSON objects (one per line).
    #[arg(long, global = true, env = "BT_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
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
    /// An HTML report of a bundle's results: from a results file or a stored bundle.
    Report(Box<report::ReportArgs>),
    /// Candles plus indicator columns, written as Parquet or CSV.
    Indicators(indicators::IndicatorsArgs),
    /// Compute worker: claim jobs from PostgreSQL and run them on all cores.
    Work(Box<bt_service::WorkerArgs>),
    /// Apply the job store's migrations (or revert the last N with --down N).
    Migrate(service::MigrateArgs),
    /// Validate a bundle and enqueue it as jobs; prints the bundle id.
    Submit(service::SubmitArgs),
    /// A bundle's state, job counts, progress and ETA.
    Status(service::StatusArgs),
    /// A bundle's ranked results, or all of them to a file.
    Results(service::ResultsArgs),
    /// The HTTP API (with --workers N, also runs bundles itself).
    Serve(Box<service::ServeArgs>),
    /// API keys: create, revoke, list.
    #[command(subcommand)]
    Keys(service::KeysCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level =
        if matches!(cli.command, Command::Work(_) | Command::Serve(_)) { "info" } else { "warn" };
    let level = cli.log.as_deref().unwrap_or(default_level);
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match cli.command {
        Command::Data(cmd) => data::run(cmd, &mut out),
        Command::Run(args) => run::run(args, &mut out),
        Command::Report(args) => report::run(*args, &mut out),
        Command::Indicators(args) => indicators::run(args, &mut out),
        Command::Work(args) => service::work(*args),
        Command::Migrate(args) => service::migrate(args, &mut out),
        Command::Submit(args) => service::submit(args, &mut out),
        Command::Status(args) => service::status(args, &mut out),
        Command::Results(args) => service::results(args, &mut out),
        Command::Serve(args) => service::serve(*args),
        Command::Keys(cmd) => service::keys(cmd, &mut out),
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
