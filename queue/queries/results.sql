-- One page of bundle $1's results, ranked. The store substitutes {column} (one of
-- a fixed list of metric columns, never user text) and {direction} (ASC or DESC);
-- NaN ranks last either way, ties by variant. $2 limit, $3 offset.
SELECT variant, final_equity, total_return, cagr, max_drawdown, max_drawdown_duration_ms, sharpe,
       sortino, calmar, win_rate, profit_factor, expectancy, avg_trade_return, trades, exposure,
       fees, buy_and_hold_return, open_position, liquidated
FROM backtest_results
WHERE bundle_id = $1
ORDER BY ({column}::float8 = 'NaN'::float8), {column} {direction}, variant
LIMIT $2 OFFSET $3
