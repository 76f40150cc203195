-- Accord node storage, version 1 (SQLite). Hashes and states are 32 bytes; times are
-- milliseconds since the epoch; JSON is text.
CREATE TABLE chains (
    id          TEXT PRIMARY KEY,
    length      INTEGER NOT NULL,
    tip         BLOB NOT NULL,
    state       BLOB NOT NULL,
    start_hash  BLOB,
    start_state BLOB,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE events (
    chain_id  TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    hash      BLOB NOT NULL,
    state     BLOB NOT NULL,
    timestamp INTEGER NOT NULL,
    signer    TEXT NOT NULL,
    json      TEXT NOT NULL,
    PRIMARY KEY (chain_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX events_by_hash ON events (chain_id, hash);

CREATE TABLE parties (
    chain_id TEXT NOT NULL,
    key      TEXT NOT NULL,
    PRIMARY KEY (chain_id, key)
) WITHOUT ROWID;
CREATE INDEX parties_by_key ON parties (key, chain_id);

CREATE TABLE processes (
    id       TEXT PRIMARY KEY,
    chain_id TEXT NOT NULL,
    json     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX processes_by_chain ON processes (chain_id, id);

CREATE TABLE scenarios (
    id         TEXT PRIMARY KEY,
    json       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE identities (
    id         TEXT PRIMARY KEY,
    json       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE work (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    chain_id   TEXT NOT NULL,
    payload    TEXT NOT NULL,
    state      TEXT NOT NULL,
    due_at     INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX work_by_due ON work (state, due_at, id);
