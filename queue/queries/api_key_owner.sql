-- The owner of the live key whose SHA-256 is $1 (served by the unique index on key_hash).
SELECT owner FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL
