-- One job's results, streamed in COPY's binary format (store.rs `copy_results`,
-- copy.rs `encode_result`: the column order here). The primary key
-- (bundle_id, variant) makes a second copy of the same variant fail instead of
-- duplicating it.
COPY backtest_results (
    bundle_id, variant, job_id, final_equity, total_return, cagr, max_drawdown,
    max_drawdown_duration_ms, sharpe, sortino, calmar, win_rate, profit_factor, expectancy,
    avg_trade_return, trades, exposure, fees, buy_and_hold_return, open_position, liquidated)
FROM STDIN (FORMAT binary)
