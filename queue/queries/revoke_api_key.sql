-- Revokes key $1; returns its owner, or no row when no such live key exists.
UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
RETURNING owner
