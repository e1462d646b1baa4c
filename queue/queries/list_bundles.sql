-- One page of owner $1's bundles, newest first ($2 limit, $3 offset), served by idx_bundles_owner.
SELECT id, name, status, execution, variant_count, job_count, priority, created_at, started_at, finished_at, error
FROM bundles
WHERE owner = $1
ORDER BY created_at DESC, id
LIMIT $2 OFFSET $3
