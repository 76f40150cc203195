-- Version 4: whether an administrator registered an identity (enrolled it). A node runs
-- system actions for the identities its operator enrolled (system.accept = "enrolled", the
-- default); one a user registered for itself is no operator's consent.
ALTER TABLE identities ADD COLUMN enrolled INTEGER NOT NULL DEFAULT 0;
