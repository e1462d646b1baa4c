-- Running jobs assigned to worker $1 that it does not know it runs (ids $2):
-- claims whose reply was lost (the connection dropped after the commit), or a
-- restarted worker's under the same id. Only jobs whose advisory lock nobody
-- holds are taken (the lock is taken here, on the worker's rows only: the
-- MATERIALIZED step filters before any lock is tried); at most $3.
WITH mine AS MATERIALIZED (
    SELECT j.id, j.bundle_id, j.dataset_index, j.ticker, j.timeframe, j.variant_start, j.variant_end,
           j.priority, j.attempt, j.max_attempts, j.created_at
    FROM backtest_jobs j
    WHERE j.status = 'running' AND j.assigned_worker = $1 AND NOT (j.id = ANY($2))
    ORDER BY j.id
)
SELECT * FROM mine WHERE pg_try_advisory_lock(mine.id) LIMIT $3
