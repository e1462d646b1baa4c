-- Bundles still pending or running although none of their jobs is: left so by
-- a process that died between ending a job and ending its bundle. The rescuer
-- ends each under its lock (finish_bundle).
SELECT b.id FROM bundles b
WHERE b.status IN ('pending', 'running')
  AND NOT EXISTS (SELECT 1 FROM backtest_jobs j WHERE j.bundle_id = b.id AND j.status IN ('pending', 'running'))
ORDER BY b.id
LIMIT 1000
