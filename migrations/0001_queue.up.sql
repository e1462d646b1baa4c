-- bt's job queue: bundles, their jobs and results, and API keys.

CREATE TYPE backtest_job_status AS ENUM ('pending', 'running', 'completed', 'failed', 'cancelled');
CREATE TYPE bundle_status AS ENUM ('pending', 'running', 'completed', 'failed', 'cancelled');

CREATE TABLE bundles (
    id            uuid PRIMARY KEY,
    owner         text NOT NULL,
    name          text NOT NULL DEFAULT '',
    spec          jsonb NOT NULL,
    variant_count bigint NOT NULL CHECK (variant_count >= 0),
    job_count     integer NOT NULL CHECK (job_count >= 0),
    priority      integer NOT NULL DEFAULT 0,
    status        bundle_status NOT NULL DEFAULT 'pending',
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    error         text,
    CONSTRAINT bundle_finished_iff_terminal
        CHECK ((status IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CONSTRAINT bundle_started_when_running
        CHECK (status <> 'running' OR started_at IS NOT NULL)
);
CREATE INDEX idx_bundles_owner ON bundles (owner, created_at DESC);

CREATE TABLE backtest_jobs (
    id               bigserial PRIMARY KEY,
    bundle_id        uuid NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    dataset_index    integer NOT NULL CHECK (dataset_index >= 0),
    ticker           text NOT NULL,
    timeframe        text NOT NULL,
    variant_start    bigint NOT NULL,
    variant_end      bigint NOT NULL,
    priority         integer NOT NULL DEFAULT 0,
    status           backtest_job_status NOT NULL DEFAULT 'pending',
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    assigned_worker  text,
    progress         bigint NOT NULL DEFAULT 0 CHECK (progress >= 0),
    cancel_requested boolean NOT NULL DEFAULT false,
    heartbeat_at     timestamptz,
    run_after        timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    last_error       text,
    CONSTRAINT job_variant_range CHECK (variant_start >= 0 AND variant_end > variant_start),
    CONSTRAINT job_worker_iff_running CHECK ((status = 'running') = (assigned_worker IS NOT NULL)),
    CONSTRAINT job_running_has_times
        CHECK (status <> 'running' OR (started_at IS NOT NULL AND heartbeat_at IS NOT NULL)),
    CONSTRAINT job_finished_iff_terminal
        CHECK ((status IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CONSTRAINT job_completed_is_whole
        CHECK (status <> 'completed' OR progress = variant_end - variant_start)
);
-- The claim order (priority first, then age), over pending jobs only.
CREATE INDEX idx_status_priority ON backtest_jobs (priority DESC, id) WHERE status = 'pending';
CREATE INDEX idx_bundle_request ON backtest_jobs (bundle_id);
-- "Has this bundle any job left?", asked at every job end (finish_bundle).
CREATE INDEX idx_bundle_active ON backtest_jobs (bundle_id) WHERE status IN ('pending', 'running');
CREATE INDEX idx_assigned_worker ON backtest_jobs (assigned_worker) WHERE assigned_worker IS NOT NULL;
-- The rescuer scans running jobs by heartbeat.
CREATE INDEX idx_running_heartbeat ON backtest_jobs (heartbeat_at) WHERE status = 'running';

CREATE TABLE backtest_results (
    bundle_id                uuid NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    variant                  bigint NOT NULL,
    job_id                   bigint NOT NULL,
    final_equity             double precision NOT NULL,
    total_return             double precision NOT NULL,
    cagr                     double precision NOT NULL,
    max_drawdown             double precision NOT NULL,
    max_drawdown_duration_ms bigint NOT NULL,
    sharpe                   double precision NOT NULL,
    sortino                  double precision NOT NULL,
    calmar                   double precision NOT NULL,
    win_rate                 double precision NOT NULL,
    profit_factor            double precision NOT NULL,
    expectancy               double precision NOT NULL,
    avg_trade_return         double precision NOT NULL,
    trades                   bigint NOT NULL,
    exposure                 double precision NOT NULL,
    fees                     double precision NOT NULL,
    buy_and_hold_return      double precision NOT NULL,
    open_position            boolean NOT NULL,
    liquidated               boolean NOT NULL,
    PRIMARY KEY (bundle_id, variant)
);

CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    owner      text NOT NULL,
    key_hash   bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX idx_api_keys_owner ON api_keys (owner);
