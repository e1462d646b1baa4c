-- A new API key: $1 id, $2 owner, $3 SHA-256 of the key (the key itself is never stored),
-- its limits: $4 max_active_bundles, $5 max_queued_jobs, $6 max_variants, $7 min_priority,
-- $8 max_priority, $9 rate_limit (NULL: the server's default).
INSERT INTO api_keys (id, owner, key_hash, max_active_bundles, max_queued_jobs, max_variants,
                      min_priority, max_priority, rate_limit)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
