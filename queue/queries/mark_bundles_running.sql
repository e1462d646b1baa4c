-- Bundles $1 (just claimed from) become running, once; in the claim's
-- transaction. A bundle row another transaction holds (a cancel, a job end) is
-- skipped rather than waited for: the claim holds its jobs' row locks, and a
-- cancel locks the bundle before its pending jobs, so waiting could deadlock.
-- The rescuer marks any bundle so skipped (mark_started_bundles).
UPDATE bundles b
SET status = 'running', started_at = coalesce(b.started_at, now())
FROM (SELECT id FROM bundles WHERE id = ANY($1) AND status = 'pending' ORDER BY id FOR UPDATE SKIP LOCKED) AS p
WHERE b.id = p.id AND b.status = 'pending'
