-- What owner $1 has in the queue: bundles not yet ended (idx_bundles_owner_active)
-- and their jobs not yet ended (idx_bundle_active). A cancelled bundle's jobs
-- still running are not counted: they stop at their next heartbeat.
SELECT count(*) AS active_bundles,
       coalesce(sum((SELECT count(*) FROM backtest_jobs j
                     WHERE j.bundle_id = b.id AND j.status IN ('pending', 'running'))), 0)::bigint AS queued_jobs
FROM bundles b
WHERE b.owner = $1 AND b.status IN ('pending', 'running')
