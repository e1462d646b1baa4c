-- A worker's liveness session takes the locks of jobs $1 again (after a
-- reconnect) and clears the rescuer's unlocked mark of each it got, so the
-- rescuer's next look starts over. Returns (id, got) per job.
WITH l AS MATERIALIZED (
    SELECT u.id, pg_try_advisory_lock(u.id) AS got FROM UNNEST($1::bigint[]) AS u (id)
), cleared AS (
    UPDATE backtest_jobs j SET unlocked_since = NULL
    FROM l
    WHERE j.id = l.id AND l.got AND j.status = 'running' AND j.unlocked_since IS NOT NULL
)
SELECT id, got FROM l
