-- The spec (as submitted, JSON) of bundle $1, for the worker that runs its jobs.
SELECT spec FROM bundles WHERE id = $1
