-- Fenced release of run ($1 id, $2 attempt) back to pending (graceful shutdown):
-- the attempt stays (so the old run stays fenced off) and one more is allowed.
UPDATE backtest_jobs
SET status = 'pending', max_attempts = max_attempts + 1, assigned_worker = NULL,
    heartbeat_at = NULL, run_after = now(), progress = 0
WHERE id = $1 AND status = 'running' AND attempt = $2
RETURNING bundle_id
