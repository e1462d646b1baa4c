-- Fenced failure of run ($1 id, $2 attempt) with reason $3. While attempts
-- remain and $4 (retryable) is true, the job goes back to pending after an
-- exponential backoff of $5 seconds x 2^(attempt - 1), capped at one hour.
UPDATE backtest_jobs
SET status = CASE WHEN $4 AND attempt < max_attempts THEN 'pending' ELSE 'failed' END::backtest_job_status,
    finished_at = CASE WHEN $4 AND attempt < max_attempts THEN NULL ELSE now() END,
    run_after = now() + least($5 * power(2, attempt - 1), 3600) * interval '1 second',
    assigned_worker = NULL, heartbeat_at = NULL, last_error = $3
WHERE id = $1 AND status = 'running' AND attempt = $2
RETURNING bundle_id, status
