-- Version 2: the outbox. One row per (peer node, chain): the length the peer should reach
-- (`wanted`, raised in the same transaction as the events) and the length it confirmed
-- (`sent`). A delivery sends the events between them, so a peer receives each chain's events
-- in order, and a slow chain or peer holds up only its own rows.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    peer       TEXT NOT NULL,
    chain_id   TEXT NOT NULL,
    wanted     INTEGER NOT NULL,
    sent       INTEGER NOT NULL,
    state      TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    due_at     INTEGER NOT NULL,
    error      TEXT,
    updated_at INTEGER NOT NULL,
    UNIQUE (peer, chain_id)
);
CREATE INDEX outbox_by_due ON outbox (state, due_at, id);
