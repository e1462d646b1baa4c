DROP TABLE api_keys;
DROP TABLE backtest_results;
DROP TABLE backtest_jobs;
DROP TABLE bundles;
DROP TYPE bundle_status;
DROP TYPE backtest_job_status;
