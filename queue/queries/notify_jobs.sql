-- Wakes the workers listening on bt_jobs; delivered when the transaction commits.
SELECT pg_notify('bt_jobs', $1)
