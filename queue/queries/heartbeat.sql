-- A fenced heartbeat and progress write: applies only to the run ($1 id, $2 attempt)
-- that is still running. $3 variants done (NULL keeps the old value).
-- Returns whether cancellation was requested; no row means the run was lost.
UPDATE backtest_jobs
SET heartbeat_at = now(), progress = coalesce($3, progress)
WHERE id = $1 AND status = 'running' AND attempt = $2
RETURNING cancel_requested
