//! The queue benchmark: enqueue N empty jobs, drain them with W claimers that
//! claim and complete in batches, check every job completed exactly once, and
//! print jobs/s for each phase. Runs in a fresh database it creates and drops.
//!
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!  cargo run --release -p bt-benches --bin queue -- [--jobs 100000] [--claimers 8] [--batch 64] [--bundle-jobs 10000]`

use std::collections::HashSet;
use std::io::Write;
use std::time::Instant;

use bt_queue::{NewBundle, NewJob, Store};
use sqlx::{Connection, Executor};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn arg(args: &[String], name: &str, default: usize) -> Result<usize, Error> {
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(args.get(i + 1).ok_or(format!("{name} needs a value"))?.parse()?),
        None => Ok(default),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (jobs, claimers, batch) =
        (arg(&args, "--jobs", 100_000)?, arg(&args, "--claimers", 8)?, arg(&args, "--batch", 64)?);
    let bundle_jobs = arg(&args, "--bundle-jobs", 10_000)?.max(1);
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("bt_queue_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&url).await?;
    admin.execute(format!("CREATE DATABASE {db}").as_str()).await?;
    let bench_url = match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => return Err("DATABASE_URL has no database name".into()),
    };
    let result = run(&bench_url, jobs, claimers, batch, bundle_jobs).await;
    admin.execute(format!("DROP DATABASE {db} WITH (FORCE)").as_str()).await?;
    result
}

async fn run(url: &str, jobs: usize, claimers: usize, batch: usize, bundle_jobs: usize) -> Result<(), Error> {
    let store = Store::connect(url, claimers as u32 + 2).await?;
    store.migrate().await?;
    // Enqueue: bundles of up to `bundle_jobs` jobs, each one transaction with one jobs insert.
    let started = Instant::now();
    let mut left = jobs;
    while left > 0 {
        let n = left.min(bundle_jobs);
        let b = NewBundle {
            id: uuid::Uuid::new_v4(),
            owner: "bench".into(),
            name: "queue bench".into(),
            spec: serde_json::json!({}),
            variant_count: n as i64,
            priority: 0,
            max_attempts: 3,
            execution: Default::default(),
            jobs: (0..n as i64)
                .map(|k| NewJob {
                    dataset_index: 0,
                    ticker: "X".into(),
                    timeframe: "1m".into(),
                    variant_start: k,
                    variant_end: k + 1,
                })
                .collect(),
        };
        store.enqueue_bundle(&b).await?;
        left -= n;
    }
    let enqueue_s = started.elapsed().as_secs_f64();
    // Drain: W claimers, claim a batch, complete it in one transaction.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..claimers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let got = store.claim(&format!("bench-{w}"), batch as i64).await?;
                if got.is_empty() {
                    return Ok::<_, Error>(ids);
                }
                let done: Vec<(&bt_queue::Job, &[bt_queue::ResultRow])> =
                    got.iter().map(|j| (j, &[][..])).collect();
                let ok = store.complete_many(&done).await?;
                if ok.iter().any(|o| !o) {
                    return Err("a fresh claim could not be completed".into());
                }
                ids.extend(got.iter().map(|j| j.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for id in t.await?? {
            if !seen.insert(id) {
                return Err(format!("job {id} claimed twice").into());
            }
        }
    }
    let drain_s = started.elapsed().as_secs_f64();
    let depth = store.queue_depth().await?;
    if seen.len() != jobs || depth.completed != jobs as i64 || depth.pending + depth.running != 0 {
        return Err(format!("{} claimed, {depth:?}", seen.len()).into());
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "jobs {jobs}, claimers {claimers}, batch {batch}, jobs per bundle {bundle_jobs}")?;
    writeln!(out, "enqueue          {enqueue_s:>7.3} s {:>10.0} jobs/s", jobs as f64 / enqueue_s)?;
    writeln!(out, "claim+complete   {drain_s:>7.3} s {:>10.0} jobs/s", jobs as f64 / drain_s)?;
    writeln!(out, "every job completed exactly once")?;
    Ok(())
}
