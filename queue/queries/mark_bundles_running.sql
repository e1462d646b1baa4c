-- Bundles $1 (just claimed from) become running, once. Rows are locked in id
-- order, so concurrent calls cannot deadlock on each other.
UPDATE bundles b
SET status = 'running', started_at = coalesce(b.started_at, now())
FROM (SELECT id FROM bundles WHERE id = ANY($1) AND status = 'pending' ORDER BY id FOR UPDATE) AS p
WHERE b.id = p.id AND b.status = 'pending'
