-- One row per variant, as parallel arrays (bundle id first). The primary key (bundle_id, variant)
-- makes a second insert of the same variant fail instead of duplicating it.
INSERT INTO backtest_results (
    bundle_id, variant, job_id, final_equity, total_return, cagr, max_drawdown,
    max_drawdown_duration_ms, sharpe, sortino, calmar, win_rate, profit_factor, expectancy,
    avg_trade_return, trades, exposure, fees, buy_and_hold_return, open_position, liquidated)
SELECT u.*
FROM UNNEST($1::uuid[], $2::bigint[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[], $7::float8[],
            $8::bigint[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[],
            $14::float8[], $15::float8[], $16::bigint[], $17::float8[], $18::float8[], $19::float8[],
            $20::bool[], $21::bool[]) AS u
