-- Versions of the migrations applied to this database, oldest first.
SELECT version FROM _sqlx_migrations WHERE success ORDER BY version
