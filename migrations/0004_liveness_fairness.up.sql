-- Rescue in seconds and fair claims across owners.
--
-- unlocked_since: when the rescuer first saw a running job without its
-- worker's advisory lock. The claim takes the lock in the same statement, so a
-- running job without one is either a dead worker's or one whose liveness
-- session is reconnecting; the rescuer waits for a second look (the worker
-- clears the mark when it takes the lock again) before it puts the job back.
ALTER TABLE backtest_jobs ADD COLUMN unlocked_since timestamptz;

-- fair_key: the claim order within a priority. Each owner's jobs get
-- consecutive keys starting at the head of the queue (or after the owner's
-- own pending jobs), so a second owner's ten jobs interleave with the first
-- owner's million instead of waiting behind them.
ALTER TABLE backtest_jobs ADD COLUMN fair_key bigint;
UPDATE backtest_jobs SET fair_key = id;
ALTER TABLE backtest_jobs ALTER COLUMN fair_key SET NOT NULL;
CREATE TABLE owner_queue (
    owner    text PRIMARY KEY,
    next_key bigint NOT NULL
);
INSERT INTO owner_queue (owner, next_key)
SELECT b.owner, max(j.fair_key) + 1 FROM backtest_jobs j JOIN bundles b ON b.id = j.bundle_id GROUP BY b.owner;

-- The claim order (priority first, then fair key, then age), over pending jobs only.
DROP INDEX idx_status_priority;
CREATE INDEX idx_status_priority ON backtest_jobs (priority DESC, fair_key, id) WHERE status = 'pending';
