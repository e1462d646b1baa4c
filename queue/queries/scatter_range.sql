-- The finite ranges of two metrics of bundle $1's results, and how many rows
-- have a non-finite value in either (not drawn). {x} and {y} are columns of
-- the fixed list (bt_metrics::MetricName).
SELECT min(x) FILTER (WHERE ok) AS x_min, max(x) FILTER (WHERE ok) AS x_max,
       min(y) FILTER (WHERE ok) AS y_min, max(y) FILTER (WHERE ok) AS y_max,
       count(*) FILTER (WHERE NOT ok) AS excluded
FROM (
    SELECT {x}::float8 AS x, {y}::float8 AS y,
           {x}::float8 NOT IN ('NaN', 'Infinity', '-Infinity')
           AND {y}::float8 NOT IN ('NaN', 'Infinity', '-Infinity') AS ok
    FROM backtest_results
    WHERE bundle_id = $1
) r
