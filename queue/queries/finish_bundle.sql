-- Ends bundle $1 when none of its jobs is pending or running: failed if any job
-- failed, else cancelled if any was cancelled, else completed.
UPDATE bundles b
SET status = CASE
        WHEN EXISTS (SELECT 1 FROM backtest_jobs WHERE bundle_id = b.id AND status = 'failed') THEN 'failed'
        WHEN EXISTS (SELECT 1 FROM backtest_jobs WHERE bundle_id = b.id AND status = 'cancelled') THEN 'cancelled'
        ELSE 'completed' END::bundle_status,
    finished_at = now(),
    started_at = coalesce(b.started_at, now()),
    error = (SELECT last_error FROM backtest_jobs WHERE bundle_id = b.id AND status = 'failed' ORDER BY id LIMIT 1)
WHERE b.id = $1 AND b.status IN ('pending', 'running')
  AND NOT EXISTS (SELECT 1 FROM backtest_jobs WHERE bundle_id = b.id AND status IN ('pending', 'running'))
RETURNING status
