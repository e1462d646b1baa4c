-- The execution path of each bundle (the API's switch): 'queue' bundles run on
-- any compute worker, 'inline' ones only on the API process's own workers.
-- Jobs carry their bundle's path as their lane, so the claim filters on it
-- without a join.
ALTER TABLE bundles ADD COLUMN execution text NOT NULL DEFAULT 'queue'
    CONSTRAINT bundle_execution_known CHECK (execution IN ('queue', 'inline'));
ALTER TABLE backtest_jobs ADD COLUMN lane text NOT NULL DEFAULT 'queue'
    CONSTRAINT job_lane_known CHECK (lane IN ('queue', 'inline'));
