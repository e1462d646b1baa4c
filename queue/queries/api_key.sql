-- The live key whose SHA-256 is $1: its id, owner and limits (served by the unique index on key_hash).
SELECT id, owner, max_active_bundles, max_queued_jobs, max_variants, min_priority, max_priority, rate_limit
FROM api_keys
WHERE key_hash = $1 AND revoked_at IS NULL
