-- Per-owner limits, stored with each API key (bt keys create --max-...).
-- Counts use 0 for "no limit". Existing keys get the defaults of an ordinary
-- key (the same values as bt_queue::KeyLimits::default(); a test ties them).
ALTER TABLE api_keys
    -- Bundles of the owner not yet ended (pending or running).
    ADD COLUMN max_active_bundles integer NOT NULL DEFAULT 20
        CONSTRAINT key_max_active_bundles CHECK (max_active_bundles >= 0),
    -- Jobs of the owner not yet ended (pending or running), the new bundle's included.
    ADD COLUMN max_queued_jobs bigint NOT NULL DEFAULT 10000
        CONSTRAINT key_max_queued_jobs CHECK (max_queued_jobs >= 0),
    -- Variants of one bundle (0: only the server's --max-variants).
    ADD COLUMN max_variants bigint NOT NULL DEFAULT 0
        CONSTRAINT key_max_variants CHECK (max_variants >= 0),
    -- The priorities the owner may submit at; a requested one is clamped into the range.
    ADD COLUMN min_priority integer NOT NULL DEFAULT 0,
    ADD COLUMN max_priority integer NOT NULL DEFAULT 10,
    -- Requests per minute with this key; NULL: the server's --key-rate-limit, 0: none.
    ADD COLUMN rate_limit integer
        CONSTRAINT key_rate_limit CHECK (rate_limit >= 0),
    ADD CONSTRAINT key_priority_range CHECK (min_priority <= max_priority);

-- An owner's bundles not yet ended, counted at every submission.
CREATE INDEX idx_bundles_owner_active ON bundles (owner) WHERE status IN ('pending', 'running');
