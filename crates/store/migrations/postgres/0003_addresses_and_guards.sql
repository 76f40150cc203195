-- Version 3 (see the SQLite migration for why).
ALTER TABLE processes DROP CONSTRAINT processes_pkey;
ALTER TABLE processes ADD PRIMARY KEY (chain_id, id);
DROP INDEX processes_by_chain;
CREATE INDEX processes_by_id ON processes (id, chain_id);

ALTER TABLE chains ADD COLUMN tip_timestamp BIGINT NOT NULL DEFAULT 0;
UPDATE chains c SET tip_timestamp = COALESCE(
    (SELECT e.timestamp FROM events e WHERE e.chain_id = c.id AND e.seq = c.length - 1), 0);

CREATE TABLE identity_keys (
    key         TEXT COLLATE "C" NOT NULL,
    identity_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (key, identity_id)
);
CREATE INDEX identity_keys_by_identity ON identity_keys (identity_id, key);
INSERT INTO identity_keys (key, identity_id)
    SELECT j.value, i.id FROM identities i,
        jsonb_each_text(CASE WHEN jsonb_typeof(i.json::jsonb -> 'signkeys') = 'object'
                             THEN i.json::jsonb -> 'signkeys' ELSE '{}'::jsonb END) j
    WHERE j.value IS NOT NULL
    ON CONFLICT DO NOTHING;

CREATE TABLE seen_signatures (
    signature  BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX seen_signatures_by_expiry ON seen_signatures (expires_at);
