//! Splitting a bundle into jobs.

use crate::types::NewJob;

/// Most variants one job runs by default, whatever its bars: a job's
/// results are held in memory and written together, so none may be huge.
pub const MAX_JOB_VARIANTS: u64 = 250_000;

/// Variants per job of a dataset with `bars` bars: about
/// `target_bar_variants` bars x variants, at least one, at most
/// `max_job_variants`.
pub fn job_variants(bars: u64, target_bar_variants: u64, max_job_variants: u64) -> u64 {
    (target_bar_variants / bars.max(1)).clamp(1, max_job_variants.max(1))
}

/// One job per dataset and chunk of variants, each chunk about
/// `target_bar_variants` bars x variants (at least one variant, at most
/// `max_job_variants`): fine enough for progress, rescue and many workers,
/// coarse enough that the queue is never the bottleneck. `datasets` gives
/// (ticker, timeframe, bars) in bundle order; dataset `i` owns variants
/// `[i * per_dataset, (i + 1) * per_dataset)`.
pub fn plan_jobs(
    datasets: &[(String, String, u64)],
    per_dataset: u64,
    target_bar_variants: u64,
    max_job_variants: u64,
) -> Vec<NewJob> {
    let mut jobs = Vec::new();
    for (i, (ticker, timeframe, bars)) in datasets.iter().enumerate() {
        let chunk = job_variants(*bars, target_bar_variants, max_job_variants);
        let base = i as u64 * per_dataset;
        let mut start = 0;
        while start < per_dataset {
            let end = (start + chunk).min(per_dataset);
            jobs.push(NewJob {
                dataset_index: i as i32,
                ticker: ticker.clone(),
                timeframe: timeframe.clone(),
                variant_start: (base + start) as i64,
                variant_end: (base + end) as i64,
            });
            start = end;
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_follow_bars_times_variants() {
        let ds = vec![("A".to_owned(), "1m".to_owned(), 1_000_000), ("B".to_owned(), "1h".to_owned(), 1_000)];
        // 2.5e9 bar-variants per job: 2,500 variants of A, all 9,000 of B at most 2.5e6 each.
        let jobs = plan_jobs(&ds, 9_000, 2_500_000_000, MAX_JOB_VARIANTS);
        let a: Vec<(i64, i64)> =
            jobs.iter().filter(|j| j.ticker == "A").map(|j| (j.variant_start, j.variant_end)).collect();
        assert_eq!(a, [(0, 2500), (2500, 5000), (5000, 7500), (7500, 9000)]);
        let b: Vec<(i64, i64)> =
            jobs.iter().filter(|j| j.ticker == "B").map(|j| (j.variant_start, j.variant_end)).collect();
        assert_eq!(b, [(9000, 18000)]);
        assert_eq!(jobs[4].dataset_index, 1);
        // Huge datasets still get one variant per job.
        assert_eq!(plan_jobs(&ds[..1], 3, 10, MAX_JOB_VARIANTS).len(), 3);
    }

    #[test]
    fn jobs_are_capped_by_variants_whatever_their_bars() {
        // A daily dataset: 1,000 bars would make 200,000-variant jobs; the cap cuts them to 75,000.
        let ds = vec![("D".to_owned(), "1d".to_owned(), 1_000)];
        let jobs = plan_jobs(&ds, 200_000, 200_000_000, 75_000);
        let r: Vec<(i64, i64)> = jobs.iter().map(|j| (j.variant_start, j.variant_end)).collect();
        assert_eq!(r, [(0, 75_000), (75_000, 150_000), (150_000, 200_000)]);
        assert_eq!(job_variants(1_000, 200_000_000, MAX_JOB_VARIANTS), 200_000);
        assert_eq!(job_variants(10, 200_000_000, MAX_JOB_VARIANTS), MAX_JOB_VARIANTS);
        assert_eq!(job_variants(10, 200_000_000, 0), 1);
    }
}
