DROP INDEX idx_status_priority;
CREATE INDEX idx_status_priority ON backtest_jobs (priority DESC, id) WHERE status = 'pending';
DROP TABLE owner_queue;
ALTER TABLE backtest_jobs DROP COLUMN fair_key;
ALTER TABLE backtest_jobs DROP COLUMN unlocked_since;
