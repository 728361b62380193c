-- schema.sql - the relay registry's tables: network, nodes and tombstones, tokens, policy.
--
-- Run on every open, so every statement must be idempotent. Plain SQL that
-- ports to PostgreSQL: there, BLOB becomes BYTEA and "id INTEGER PRIMARY KEY"
-- becomes "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" (SQLite makes
-- an INTEGER PRIMARY KEY its rowid only when spelt exactly so). Addresses and
-- times are BIGINT because an IPv4 address in host order and a unix time
-- after 2038 do not fit PostgreSQL's 32-bit INTEGER.

-- schema_version, ipv4_prefix ("10.77.0.0/16"), ipv6_prefix ("fdxx:xxxx:xxxx::/48").
CREATE TABLE IF NOT EXISTS meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- A deleted node stays as a tombstone (deleted_at set) so that its addresses
-- are never handed to another key, and come back if the same key returns.
CREATE TABLE IF NOT EXISTS nodes (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 63),
	pubkey BLOB NOT NULL UNIQUE CHECK (length(pubkey) = 32),
	ipv4 BIGINT NOT NULL UNIQUE,
	ipv6 BLOB NOT NULL UNIQUE CHECK (length(ipv6) = 16),
	tags TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	deleted_at BIGINT
);

-- Names are unique among enrolled nodes only: a tombstone frees its name.
CREATE UNIQUE INDEX IF NOT EXISTS nodes_enrolled_name ON nodes (name)
	WHERE deleted_at IS NULL;

-- Only the BLAKE2b-256 hash of a token is kept; the token itself is shown once.
CREATE TABLE IF NOT EXISTS tokens (
	id INTEGER PRIMARY KEY,
	hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
	uses_left BIGINT NOT NULL CHECK (uses_left > 0),
	expires_at BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	tags TEXT NOT NULL DEFAULT ''
);

-- Symmetric allow rules between tags; '*' stands for every node.
CREATE TABLE IF NOT EXISTS policy (
	from_tag TEXT NOT NULL,
	to_tag TEXT NOT NULL,
	PRIMARY KEY (from_tag, to_tag)
);

-- A new database lets everyone reach everyone. The rule is seeded before the
-- version row exists, so it is seeded once and an admin's deletion sticks.
INSERT INTO policy (from_tag, to_tag)
	SELECT '*', '*' WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'schema_version');
INSERT INTO meta (key, value)
	SELECT 'schema_version', '1' WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'schema_version');
