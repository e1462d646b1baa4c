-- Running jobs per worker, for monitoring (served by idx_assigned_worker).
SELECT assigned_worker, count(*) AS jobs
FROM backtest_jobs
WHERE status = 'running'
GROUP BY assigned_worker
ORDER BY assigned_worker
