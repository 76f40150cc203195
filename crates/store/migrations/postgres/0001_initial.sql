-- Accord node storage, version 1 (PostgreSQL). Hashes and states are 32 bytes; times are
-- milliseconds since the epoch; JSON is text.
CREATE TABLE chains (
    id          TEXT COLLATE "C" PRIMARY KEY,
    length      BIGINT NOT NULL,
    tip         BYTEA NOT NULL,
    state       BYTEA NOT NULL,
    start_hash  BYTEA,
    start_state BYTEA,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE events (
    chain_id  TEXT COLLATE "C" NOT NULL,
    seq       BIGINT NOT NULL,
    hash      BYTEA NOT NULL,
    state     BYTEA NOT NULL,
    timestamp BIGINT NOT NULL,
    signer    TEXT COLLATE "C" NOT NULL,
    json      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (chain_id, seq)
);
CREATE UNIQUE INDEX events_by_hash ON events (chain_id, hash);

CREATE TABLE parties (
    chain_id TEXT COLLATE "C" NOT NULL,
    key      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (chain_id, key)
);
CREATE INDEX parties_by_key ON parties (key, chain_id);

CREATE TABLE processes (
    id       TEXT COLLATE "C" PRIMARY KEY,
    chain_id TEXT COLLATE "C" NOT NULL,
    json     TEXT COLLATE "C" NOT NULL
);
CREATE INDEX processes_by_chain ON processes (chain_id, id);

CREATE TABLE scenarios (
    id         TEXT COLLATE "C" PRIMARY KEY,
    json       TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE identities (
    id         TEXT COLLATE "C" PRIMARY KEY,
    json       TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE work (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT COLLATE "C" NOT NULL,
    chain_id   TEXT COLLATE "C" NOT NULL,
    payload    TEXT COLLATE "C" NOT NULL,
    state      TEXT COLLATE "C" NOT NULL,
    due_at     BIGINT NOT NULL,
    attempts   BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX work_by_due ON work (state, due_at, id);
