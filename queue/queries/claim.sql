-- Claims up to $2 pending jobs in lanes $3 for worker $1, highest priority first,
-- then fair key (owners interleaved), then age, skipping rows other claimers hold
-- and jobs whose run_after (retry backoff) is in the future. Bumps the attempt
-- that fences every later write. Served by idx_status_priority.
--
-- With $4, each claimed job's session advisory lock is taken in this same
-- statement, on the worker's liveness session: no moment exists in which the
-- job is running and unlocked while its worker lives, so the rescuer can act
-- as soon as a lock goes missing. (Session locks outlive a rolled-back
-- transaction: on any error the caller drops the session.)
WITH picked AS (
    SELECT id FROM backtest_jobs
    WHERE status = 'pending' AND run_after <= now() AND lane = ANY($3)
    ORDER BY priority DESC, fair_key, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE backtest_jobs j
    SET status = 'running', attempt = j.attempt + 1, assigned_worker = $1,
        started_at = now(), heartbeat_at = now(), progress = 0, unlocked_since = NULL
    FROM picked
    WHERE j.id = picked.id
    RETURNING j.id, j.bundle_id, j.dataset_index, j.ticker, j.timeframe, j.variant_start,
              j.variant_end, j.priority, j.fair_key, j.attempt, j.max_attempts, j.created_at
)
SELECT c.id, c.bundle_id, c.dataset_index, c.ticker, c.timeframe, c.variant_start, c.variant_end,
       c.priority, c.attempt, c.max_attempts, c.created_at,
       CASE WHEN $4 THEN pg_try_advisory_lock(c.id) ELSE false END AS locked
FROM claimed c
ORDER BY c.priority DESC, c.fair_key, c.id
