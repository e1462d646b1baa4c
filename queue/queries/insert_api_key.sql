-- A new API key: $1 id, $2 owner, $3 SHA-256 of the key (the key itself is never stored).
INSERT INTO api_keys (id, owner, key_hash) VALUES ($1, $2, $3)
