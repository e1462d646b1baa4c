-- The rescuer's leader lock, held until the end of the transaction.
SELECT pg_try_advisory_xact_lock(-7450163)
