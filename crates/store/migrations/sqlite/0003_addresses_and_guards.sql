-- Version 3.
-- Processes are addressed by (chain, id): two chains may hold processes with the same id (two
-- organisations each starting `doc-1`), and neither hides the other.
CREATE TABLE processes_v3 (
    chain_id TEXT NOT NULL,
    id       TEXT NOT NULL,
    json     TEXT NOT NULL,
    PRIMARY KEY (chain_id, id)
) WITHOUT ROWID;
INSERT INTO processes_v3 (chain_id, id, json) SELECT chain_id, id, json FROM processes;
DROP TABLE processes;
ALTER TABLE processes_v3 RENAME TO processes;
CREATE INDEX processes_by_id ON processes (id, chain_id);

-- The timestamp of each chain's last event: the earliest the next one may carry.
ALTER TABLE chains ADD COLUMN tip_timestamp INTEGER NOT NULL DEFAULT 0;
UPDATE chains SET tip_timestamp = COALESCE(
    (SELECT e.timestamp FROM events e WHERE e.chain_id = chains.id AND e.seq = chains.length - 1), 0);

-- The keys each registered identity names, kept with the identity in one transaction, so
-- "is this key registered here" is a lookup and removing one identity touches no other's keys.
CREATE TABLE identity_keys (
    key         TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    PRIMARY KEY (key, identity_id)
) WITHOUT ROWID;
CREATE INDEX identity_keys_by_identity ON identity_keys (identity_id, key);
INSERT OR IGNORE INTO identity_keys (key, identity_id)
    SELECT j.value, i.id FROM identities i, json_each(i.json, '$.signkeys') j
    WHERE j.type = 'text';

-- Request signatures taken for requests whose effect is not idempotent, until they expire:
-- a replay of one is refused, also after a restart.
CREATE TABLE seen_signatures (
    signature  BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX seen_signatures_by_expiry ON seen_signatures (expires_at);
