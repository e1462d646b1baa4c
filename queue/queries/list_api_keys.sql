-- Every key: id, owner, created, revoked and its limits (never the key).
SELECT id, owner, created_at, revoked_at, max_active_bundles, max_queued_jobs, max_variants,
       min_priority, max_priority, rate_limit
FROM api_keys
ORDER BY created_at, id
