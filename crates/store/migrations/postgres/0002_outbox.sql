-- Version 2: the outbox (see the SQLite migration for what the columns mean).
CREATE TABLE outbox (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    peer       TEXT COLLATE "C" NOT NULL,
    chain_id   TEXT COLLATE "C" NOT NULL,
    wanted     BIGINT NOT NULL,
    sent       BIGINT NOT NULL,
    state      TEXT COLLATE "C" NOT NULL,
    attempts   BIGINT NOT NULL,
    due_at     BIGINT NOT NULL,
    error      TEXT,
    updated_at BIGINT NOT NULL,
    UNIQUE (peer, chain_id)
);
CREATE INDEX outbox_by_due ON outbox (state, due_at, id);
