-- All of a bundle's jobs in one statement: parallel arrays, one element per job.
-- $1 bundle id, $2 priority, $3 max_attempts, $4 dataset_index[], $5 ticker[],
-- $6 timeframe[], $7 variant_start[], $8 variant_end[], $9 lane (the bundle's
-- execution path), $10 the first fair key (fair_start; consecutive from there)
INSERT INTO backtest_jobs (bundle_id, priority, max_attempts, dataset_index, ticker, timeframe, variant_start,
                           variant_end, lane, fair_key)
SELECT $1, $2, $3, d, t, tf, s, e, $9, $10 + n - 1
FROM UNNEST($4::int[], $5::text[], $6::text[], $7::bigint[], $8::bigint[]) WITH ORDINALITY AS u (d, t, tf, s, e, n)
