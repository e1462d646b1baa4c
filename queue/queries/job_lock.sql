-- The worker's liveness lock on job $1, held by its session until released or closed.
SELECT pg_try_advisory_lock($1)
