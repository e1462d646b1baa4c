-- Fenced completion of several runs at once: ($1 ids, $2 attempts) as arrays.
-- Returns the ids that were still theirs to complete.
UPDATE backtest_jobs j
SET status = 'completed', finished_at = now(), progress = j.variant_end - j.variant_start,
    assigned_worker = NULL, heartbeat_at = NULL
FROM UNNEST($1::bigint[], $2::int[]) AS u (id, attempt)
WHERE j.id = u.id AND j.status = 'running' AND j.attempt = u.attempt
RETURNING j.id
