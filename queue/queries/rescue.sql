-- Puts back running jobs whose worker is gone: heartbeat older than $1 seconds,
-- or older than $2 seconds (a grace for the moment between claim and lock)
-- with nobody holding the job's session advisory lock in this database.
-- Jobs at max_attempts fail with the reason. Run under the leader lock.
WITH stale AS (
    SELECT j.id,
           CASE WHEN j.heartbeat_at < now() - $1 * interval '1 second'
                THEN 'heartbeat older than ' || $1 || ' s'
                ELSE 'worker lost its lock (connection closed)' END AS reason
    FROM backtest_jobs j
    WHERE j.status = 'running'
      AND (j.heartbeat_at < now() - $1 * interval '1 second'
           OR (j.heartbeat_at < now() - $2 * interval '1 second'
               AND NOT EXISTS (
                   SELECT 1 FROM pg_locks l
                   WHERE l.locktype = 'advisory' AND l.granted
                     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                     AND l.classid = ((j.id >> 32) & 4294967295)::oid
                     AND l.objid = (j.id & 4294967295)::oid
                     AND l.objsubid = 1)))
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE backtest_jobs j
SET status = CASE WHEN j.attempt >= j.max_attempts THEN 'failed' ELSE 'pending' END::backtest_job_status,
    finished_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
    assigned_worker = NULL, heartbeat_at = NULL, run_after = now(),
    last_error = 'rescued: ' || stale.reason
FROM stale
WHERE j.id = stale.id
RETURNING j.id, j.bundle_id, j.attempt, j.status
