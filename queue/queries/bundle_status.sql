-- Bundle $1 of owner $2 (any owner when $2 is NULL: operator commands) with its job counts per status and variants done.
SELECT b.id, b.owner, b.name, b.status, b.execution, b.variant_count, b.job_count, b.priority,
       b.created_at, b.started_at, b.finished_at, b.error,
       count(*) FILTER (WHERE j.status = 'pending')   AS pending,
       count(*) FILTER (WHERE j.status = 'running')   AS running,
       count(*) FILTER (WHERE j.status = 'completed') AS completed,
       count(*) FILTER (WHERE j.status = 'failed')    AS failed,
       count(*) FILTER (WHERE j.status = 'cancelled') AS cancelled,
       coalesce(sum(CASE WHEN j.status = 'completed' THEN j.variant_end - j.variant_start
                         WHEN j.status = 'running' THEN j.progress ELSE 0 END), 0)::bigint AS variants_done,
       now() AS now
FROM bundles b
LEFT JOIN backtest_jobs j ON j.bundle_id = b.id
WHERE b.id = $1 AND ($2::text IS NULL OR b.owner = $2)
GROUP BY b.id
