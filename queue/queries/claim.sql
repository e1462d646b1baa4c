-- Claims up to $2 pending jobs in lanes $3 for worker $1, highest priority first, then
-- oldest (ids grow with age), skipping rows other claimers hold and jobs whose
-- run_after (retry backoff) is in the future. Bumps the attempt that fences
-- every later write. Served by idx_status_priority.
--
-- The bundles are marked running by a separate statement (mark_bundles_running):
-- a claim holds row locks on jobs (including rows it re-checked and skipped),
-- and waiting for a bundle row while holding them deadlocks against `complete`,
-- which locks the bundle first and then its job.
WITH picked AS (
    SELECT id FROM backtest_jobs
    WHERE status = 'pending' AND run_after <= now() AND lane = ANY($3)
    ORDER BY priority DESC, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE backtest_jobs j
    SET status = 'running', attempt = j.attempt + 1, assigned_worker = $1,
        started_at = now(), heartbeat_at = now(), progress = 0
    FROM picked
    WHERE j.id = picked.id
    RETURNING j.id, j.bundle_id, j.dataset_index, j.ticker, j.timeframe, j.variant_start,
              j.variant_end, j.priority, j.attempt, j.max_attempts, j.created_at
)
SELECT * FROM claimed ORDER BY priority DESC, id
