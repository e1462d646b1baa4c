-- Fenced completion of run ($1 id, $2 attempt).
UPDATE backtest_jobs
SET status = 'completed', finished_at = now(), progress = variant_end - variant_start,
    assigned_worker = NULL, heartbeat_at = NULL
WHERE id = $1 AND status = 'running' AND attempt = $2
RETURNING bundle_id
