-- The trade statistics users know from backtesting.py and vectorbt (bt-metrics
-- declares every metric; queue's `result_columns_are_the_declared_metrics`
-- test compares this table to that list). Results stored before this
-- migration did not compute them: their floats read NaN (ranked last either
-- way) and the longest trade 0. The defaults are dropped at once, so a new
-- row must carry every column (COPY names them all).
ALTER TABLE backtest_results
    ADD COLUMN best_trade            double precision NOT NULL DEFAULT 'NaN',
    ADD COLUMN worst_trade           double precision NOT NULL DEFAULT 'NaN',
    ADD COLUMN avg_winning_trade     double precision NOT NULL DEFAULT 'NaN',
    ADD COLUMN avg_losing_trade      double precision NOT NULL DEFAULT 'NaN',
    ADD COLUMN avg_trade_geometric   double precision NOT NULL DEFAULT 'NaN',
    ADD COLUMN avg_trade_duration_ms double precision NOT NULL DEFAULT 'NaN',
    ADD COLUMN max_trade_duration_ms bigint NOT NULL DEFAULT 0,
    ADD COLUMN profit_factor_pct     double precision NOT NULL DEFAULT 'NaN',
    ADD COLUMN expectancy_pct        double precision NOT NULL DEFAULT 'NaN',
    ADD COLUMN sqn                   double precision NOT NULL DEFAULT 'NaN',
    ADD COLUMN kelly                 double precision NOT NULL DEFAULT 'NaN';

ALTER TABLE backtest_results
    ALTER COLUMN best_trade DROP DEFAULT,
    ALTER COLUMN worst_trade DROP DEFAULT,
    ALTER COLUMN avg_winning_trade DROP DEFAULT,
    ALTER COLUMN avg_losing_trade DROP DEFAULT,
    ALTER COLUMN avg_trade_geometric DROP DEFAULT,
    ALTER COLUMN avg_trade_duration_ms DROP DEFAULT,
    ALTER COLUMN max_trade_duration_ms DROP DEFAULT,
    ALTER COLUMN profit_factor_pct DROP DEFAULT,
    ALTER COLUMN expectancy_pct DROP DEFAULT,
    ALTER COLUMN sqn DROP DEFAULT,
    ALTER COLUMN kelly DROP DEFAULT;
