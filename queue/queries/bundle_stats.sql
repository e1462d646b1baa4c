-- Bundles per execution path and status (all time), with the median and 95th
-- percentile run time (start to end) of those that ended in the last hour:
-- how the two paths compare before moving traffic.
SELECT execution, status, count(*) AS bundles,
       coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))
                FILTER (WHERE finished_at > now() - interval '1 hour'), 0)::float8 AS p50_seconds,
       coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))
                FILTER (WHERE finished_at > now() - interval '1 hour'), 0)::float8 AS p95_seconds
FROM bundles
GROUP BY execution, status
