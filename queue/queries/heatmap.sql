-- A heatmap of bundle $1's results: one row per non-empty cell of two axes
-- of the variant number. An axis's level is (variant / stride) % radix (the
-- number's mixed-radix digit: bt_report::axes), and its bin among `bins` is
-- level * bins / radix, so long axes pool consecutive levels.
--   $2, $3, $4: x's stride, radix and bins; $5, $6, $7: y's.
-- {metric} is one column of the fixed list (bt_metrics::MetricName, never
-- user text), {order} DESC or ASC: the metric's better direction.
-- Statistics count finite values only (NaN and infinities are skipped; a
-- cell of none has NULLs); the median is percentile_cont(0.5), i.e.
-- a + (b - a) * 0.5 of the middle two, as bt_report::aggregate computes it.
-- `best` is the variant with the best finite value, the lowest among equals.
-- One scan of the bundle's rows (its primary-key range) and a hash
-- aggregate; the cost grows with the bundle, not with the request.
SELECT x, y,
       count(*) AS count,
       max(v) FILTER (WHERE ok) AS max,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FILTER (WHERE ok) AS median,
       (array_agg(variant ORDER BY v {order}, variant) FILTER (WHERE ok))[1] AS best
FROM (
    SELECT ((variant / $2) % $3) * $4 / $3 AS x,
           ((variant / $5) % $6) * $7 / $6 AS y,
           variant,
           {metric}::float8 AS v,
           {metric}::float8 NOT IN ('NaN', 'Infinity', '-Infinity') AS ok
    FROM backtest_results
    WHERE bundle_id = $1
) cells
GROUP BY x, y
ORDER BY y, x
