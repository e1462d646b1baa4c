-- Serialises the transactions that may end a bundle's last job.
SELECT id FROM bundles WHERE id = $1 FOR UPDATE
