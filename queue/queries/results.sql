-- One page of bundle $1's results, ranked: the rows after the key ($2, $3) in
-- the order ({key}, variant), at most $4. A keyset page, never an OFFSET: the
-- cost of a page does not grow with its depth, and PostgreSQL keeps at most
-- $4 rows in memory (a top-N heapsort), never sorting the whole bundle.
--
-- The store substitutes {key}, an ascending key built from one of a fixed list
-- of metric columns (never user text): the column, or its negation for a
-- descending order. NaN is PostgreSQL's largest float and -NaN is NaN, so NaN
-- ranks last either way; ties go by variant. $2 is the previous page's last
-- key (the negated value when descending), or the smallest key with $3 = -1
-- for the first page (variants are >= 0).
--
-- idx_results_sharpe_desc (migration 0005) holds (bundle_id, -sharpe, variant):
-- the default order (sharpe descending) reads one page of index entries.
-- Other orders scan the bundle's rows once per page.
-- {metrics} is the list of metric columns (`bt_metrics::MetricName::ALL`).
SELECT variant, {metrics}, open_position, liquidated
FROM backtest_results
WHERE bundle_id = $1 AND ({key}, variant) > ($2, $3)
ORDER BY {key}, variant
LIMIT $4
