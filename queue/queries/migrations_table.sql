-- Whether sqlx's migration table exists yet (before the first `bt migrate` it does not).
SELECT to_regclass('_sqlx_migrations') IS NOT NULL
