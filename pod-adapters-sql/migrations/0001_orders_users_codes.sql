-- pod's storage: orders, the per-customer counters of the confirmation
-- policy, and the embedded identity's users and one-time codes.
--
-- Written to run on SQLite and PostgreSQL alike: timestamps are BIGINT
-- milliseconds since the Unix epoch (UTC), text is TEXT, and uniqueness
-- rules are (partial) unique indexes. The one exception is the code hash
-- column, BLOB here and BYTEA in a PostgreSQL migration.

CREATE TABLE orders (
    id                 TEXT    NOT NULL PRIMARY KEY,
    customer_id        TEXT    NOT NULL,
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

-- One row per code sent, counted over the policy's send window; rows older
-- than a day are pruned when a new one is written.
CREATE TABLE code_sends (
    customer_id TEXT   NOT NULL,
    sent_at     BIGINT NOT NULL
);

CREATE INDEX code_sends_by_customer ON code_sends (customer_id, sent_at);

-- A customer's run of wrong codes; no row means no run.
CREATE TABLE lockouts (
    customer_id          TEXT   NOT NULL PRIMARY KEY,
    consecutive_failures BIGINT NOT NULL
);

-- The embedded identity's users. name_key and email_key are the lowercased
-- name and email, lowercased by pod rather than the database so that both
-- databases agree on what "the same login" means.
CREATE TABLE users (
    id         TEXT   NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    name_key   TEXT   NOT NULL,
    email      TEXT   NOT NULL,
    email_key  TEXT   NOT NULL,
    phone      TEXT,
    created_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX users_name_key ON users (name_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

-- The embedded identity's one-time codes: only a keyed hash, one per
-- customer and purpose.
CREATE TABLE one_time_codes (
    customer_id     TEXT   NOT NULL,
    purpose         TEXT   NOT NULL,
    hash            BLOB   NOT NULL,
    issued_at       BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    failed_attempts BIGINT NOT NULL,
    PRIMARY KEY (customer_id, purpose)
);
