-- Jobs per status and the age of the oldest pending job, for monitoring.
SELECT status, count(*) AS jobs,
       coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending')), 0)::float8 AS oldest_pending_seconds
FROM backtest_jobs
GROUP BY status
