-- pod's storage on PostgreSQL: the same tables, columns and indexes as the
-- SQLite schema at its version 3 (../0001 to ../0003), created at once: a
-- PostgreSQL database starts at this schema, so the SQLite migrations'
-- history (the per-purpose tables and their carry-over) has no part here.
--
-- The differences from SQLite, all of them:
-- - digests are BYTEA (BLOB there);
-- - key text columns are COLLATE "C": compared and sorted bytewise, as
--   SQLite does, whatever the database's locale (orders list newest first,
--   then by id; users by name_key, then id);
-- - column types are enforced (SQLite keeps whatever it is given).
-- Timestamps are BIGINT milliseconds since the Unix epoch (UTC) on both.

-- Accounts: one row per customer holding everything a code check, a code
-- send or an order depends on (pod-domain's Account), changed only by a
-- version-checked write together with the orders of the change. The
-- pending order itself stays in `orders`, where the partial unique index
-- keeps it single; the account keeps its code's digest.
CREATE TABLE accounts (
    customer_id             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    -- Grows by one with every committed change: the compare-and-swap key.
    version                 BIGINT NOT NULL,
    -- The lock: wrong codes in a row on any surface, and when the run
    -- last reached the limit (NULL: never).
    consecutive_failures    BIGINT NOT NULL DEFAULT 0,
    locked_at               BIGINT,
    -- Send logs per purpose: the send times (milliseconds) joined by ',',
    -- oldest first; '' when there are none.
    order_sends             TEXT   NOT NULL DEFAULT '',
    sign_in_sends           TEXT   NOT NULL DEFAULT '',
    -- The pending order's code digest, when pod checks codes itself.
    order_code_digest       BYTEA,
    -- The current sign-in code: none while sign_in_issued_at is NULL; the
    -- digest is NULL when the code provider checks codes.
    sign_in_digest          BYTEA,
    sign_in_issued_at       BIGINT,
    sign_in_expires_at      BIGINT,
    sign_in_failed_attempts BIGINT
);

CREATE TABLE orders (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    customer_id        TEXT COLLATE "C" NOT NULL,
    size               TEXT    NOT NULL,
    -- Topping names joined by ','; no name contains a comma.
    toppings           TEXT    NOT NULL,
    placed_at          BIGINT  NOT NULL,
    version            BIGINT  NOT NULL,
    -- 'awaiting_code', 'confirmed' or 'cancelled'.
    state              TEXT    NOT NULL,
    -- Set while and after the order awaited its code (awaiting_code only).
    channel            TEXT,
    masked_destination TEXT,
    sent_at            BIGINT,
    expires_at         BIGINT,
    failed_attempts    BIGINT,
    -- Set in state 'confirmed'.
    confirmed_at       BIGINT,
    -- Set in state 'cancelled'.
    cancelled_at       BIGINT,
    cancel_reason      TEXT
);

-- At most one order per customer waits for a code: the database, not the
-- caller, decides which of two concurrent orders wins.
CREATE UNIQUE INDEX orders_one_pending_per_customer
    ON orders (customer_id) WHERE state = 'awaiting_code';

-- A customer's orders, newest first.
CREATE INDEX orders_by_customer ON orders (customer_id, placed_at, id);

-- The embedded identity's users. name_key and email_key are the lowercased
-- name and email, lowercased by pod rather than the database so that both
-- databases agree on what "the same login" means.
CREATE TABLE users (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    name_key   TEXT COLLATE "C" NOT NULL,
    email      TEXT   NOT NULL,
    email_key  TEXT COLLATE "C" NOT NULL,
    phone      TEXT,
    created_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX users_name_key ON users (name_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

-- The web app's server-side sessions. The cookie carries a random 256-bit
-- id; only its SHA-256 is stored, so a copy of the database cannot be
-- turned into a session cookie.
CREATE TABLE sessions (
    id_hash     BYTEA  NOT NULL PRIMARY KEY,
    -- NULL while a sign-in is under way.
    customer_id TEXT COLLATE "C",
    csrf_token  TEXT   NOT NULL,
    -- Opaque pending sign-in data (OIDC state, nonce, PKCE verifier).
    pending     TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Pruning expired sessions.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
