-- One job's results, streamed in COPY's binary format (store.rs `copy_results`,
-- copy.rs `encode_result`: the column order here). {metrics} is the store's
-- list of metric columns, `bt_metrics::MetricName::ALL` in order. The primary
-- key (bundle_id, variant) makes a second copy of the same variant fail
-- instead of duplicating it.
COPY backtest_results (bundle_id, variant, job_id, {metrics}, open_position, liquidated)
FROM STDIN (FORMAT binary)
