DROP INDEX idx_results_sharpe_desc;
