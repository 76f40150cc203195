-- Version 4 (see the SQLite migration for why).
ALTER TABLE identities ADD COLUMN enrolled BIGINT NOT NULL DEFAULT 0;
