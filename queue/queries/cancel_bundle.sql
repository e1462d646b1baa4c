-- Marks bundle $1 (of owner $2) cancelled unless it already ended; returns its status.
UPDATE bundles
SET status = 'cancelled', finished_at = now()
WHERE id = $1 AND owner = $2 AND status IN ('pending', 'running')
RETURNING status
