-- Pending bundles that have a running job: a claim skipped marking them (their
-- row was locked at that moment). Run by the rescuer.
UPDATE bundles b
SET status = 'running', started_at = coalesce(b.started_at, now())
FROM (SELECT p.id FROM bundles p
      WHERE p.status = 'pending'
        AND EXISTS (SELECT 1 FROM backtest_jobs j WHERE j.bundle_id = p.id AND j.status = 'running')
      ORDER BY p.id
      LIMIT 1000
      FOR UPDATE SKIP LOCKED) AS s
WHERE b.id = s.id AND b.status = 'pending'
