-- A density grid of two metrics of bundle $1's results: the non-empty bins
-- of $2 x $3 equal bins over [$4, $5] x [$6, $7] (the finite ranges,
-- scatter_range.sql), each with its count and the variant with the best y
-- ({order}: y's better direction; the lowest variant among equals). A value's
-- bin is min(floor((v - lo) / (hi - lo) * n), n - 1), 0 when hi = lo: the
-- arithmetic of bt_report::aggregate::bin, so both give the same bins.
SELECT bx, by, count(*) AS count,
       (array_agg(variant ORDER BY y {order}, variant))[1] AS best
FROM (
    SELECT variant, y,
           CASE WHEN $5 > $4 THEN least(greatest(floor((x - $4) / ($5 - $4) * $2::float8), 0), $2 - 1) ELSE 0 END::bigint AS bx,
           CASE WHEN $7 > $6 THEN least(greatest(floor((y - $6) / ($7 - $6) * $3::float8), 0), $3 - 1) ELSE 0 END::bigint AS by
    FROM (SELECT variant, {x}::float8 AS x, {y}::float8 AS y FROM backtest_results WHERE bundle_id = $1) r
    WHERE x NOT IN ('NaN', 'Infinity', '-Infinity') AND y NOT IN ('NaN', 'Infinity', '-Infinity')
) b
GROUP BY by, bx
ORDER BY by, bx
