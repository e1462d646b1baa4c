-- The first fair key for $2 new jobs of owner $1 at priority $3: the head of
-- the pending queue at that priority (so a newcomer's jobs interleave with
-- what is queued), or later when the owner already has keys past the head (its
-- own earlier jobs come first); with nothing pending at that priority, past
-- every key handed out. Locks the owner's row: one owner's submissions are
-- numbered one after another.
WITH head AS (
    SELECT fair_key FROM backtest_jobs
    WHERE status = 'pending' AND priority = $3
    ORDER BY priority DESC, fair_key, id
    LIMIT 1
), vt AS (
    SELECT coalesce((SELECT fair_key FROM head), (SELECT max(next_key) FROM owner_queue), 0) AS v
)
INSERT INTO owner_queue AS q (owner, next_key)
VALUES ($1, (SELECT v FROM vt) + $2)
ON CONFLICT (owner) DO UPDATE SET next_key = greatest(q.next_key, (SELECT v FROM vt)) + $2
RETURNING next_key - $2
