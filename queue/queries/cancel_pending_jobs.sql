-- Cancels bundle $1's pending jobs at once and asks its running jobs to stop.
UPDATE backtest_jobs
SET status = CASE WHEN status = 'pending' THEN 'cancelled'::backtest_job_status ELSE status END,
    finished_at = CASE WHEN status = 'pending' THEN now() ELSE finished_at END,
    cancel_requested = true
WHERE bundle_id = $1 AND status IN ('pending', 'running')
