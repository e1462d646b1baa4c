-- The rescuer's first look: running jobs whose advisory lock no session holds
-- get unlocked_since = now() (rescue.sql puts them back on a later pass if the
-- lock is still missing then); jobs whose lock is held again lose the mark.
-- Rows another transaction is writing are skipped until the next pass.
WITH held AS MATERIALIZED (
    SELECT (l.classid::bigint << 32) | l.objid::bigint AS id
    FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
), look AS (
    SELECT j.id, EXISTS (SELECT 1 FROM held WHERE held.id = j.id) AS locked
    FROM backtest_jobs j
    WHERE j.status = 'running'
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE backtest_jobs j
SET unlocked_since = CASE WHEN look.locked THEN NULL ELSE now() END
FROM look
WHERE j.id = look.id AND look.locked = (j.unlocked_since IS NOT NULL)
RETURNING j.id, look.locked
