-- Puts back running jobs whose worker is gone: heartbeat older than $1 seconds,
-- or no session holds the job's advisory lock now and none did when the
-- rescuer looked at least $2 seconds ago (unlocked_since, set by
-- mark_unlocked on an earlier pass and cleared when the lock is back).
-- Jobs at max_attempts fail with the reason. Run under the leader lock.
WITH held AS MATERIALIZED (
    SELECT (l.classid::bigint << 32) | l.objid::bigint AS id
    FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
), stale AS (
    SELECT j.id,
           CASE WHEN j.heartbeat_at < now() - $1 * interval '1 second'
                THEN 'heartbeat older than ' || $1 || ' s'
                ELSE 'worker lost its lock (connection closed)' END AS reason
    FROM backtest_jobs j
    WHERE j.status = 'running'
      AND (j.heartbeat_at < now() - $1 * interval '1 second'
           OR (j.unlocked_since <= now() - $2 * interval '1 second'
               AND NOT EXISTS (SELECT 1 FROM held WHERE held.id = j.id)))
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE backtest_jobs j
SET status = CASE WHEN j.attempt >= j.max_attempts THEN 'failed' ELSE 'pending' END::backtest_job_status,
    finished_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
    assigned_worker = NULL, heartbeat_at = NULL, run_after = now(), unlocked_since = NULL,
    last_error = 'rescued: ' || stale.reason
FROM stale
WHERE j.id = stale.id
RETURNING j.id, j.bundle_id, j.attempt, j.status
