ALTER TABLE backtest_jobs DROP COLUMN lane;
ALTER TABLE bundles DROP COLUMN execution;
