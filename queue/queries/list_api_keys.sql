-- Every key: id, owner, created, revoked (never the key).
SELECT id, owner, created_at, revoked_at FROM api_keys ORDER BY created_at, id
