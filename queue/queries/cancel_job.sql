-- Fenced stop of run ($1 id, $2 attempt) after its bundle was cancelled.
UPDATE backtest_jobs
SET status = 'cancelled', finished_at = now(), assigned_worker = NULL, heartbeat_at = NULL
WHERE id = $1 AND status = 'running' AND attempt = $2
RETURNING bundle_id
