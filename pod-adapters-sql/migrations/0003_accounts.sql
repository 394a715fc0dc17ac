-- Accounts: one row per customer holding everything a code check, a code
-- send or an order depends on (pod-domain's Account), changed only by a
-- version-checked write together with the orders of the change. The
-- pending order itself stays in `orders`, where the partial unique index
-- keeps it single; the account keeps its code's digest.
--
-- Replaces the per-purpose tables `lockouts`, `code_sends` and
-- `one_time_codes`, whose data is carried over below.
--
-- Portable like 0001: BIGINT milliseconds, BLOB here and BYTEA on
-- PostgreSQL. The carry-over (UPDATE ... FROM, strftime) is SQLite's; a
-- PostgreSQL database starts at this schema.

CREATE TABLE accounts (
    customer_id             TEXT   NOT NULL PRIMARY KEY,
    -- Grows by one with every committed change: the compare-and-swap key.
    version                 BIGINT NOT NULL,
    -- The lock: wrong codes in a row on any surface, and when the run
    -- last reached the limit (NULL: never, or carried over from a pod that
    -- had no cool-down, which keeps such an account locked until unlocked).
    consecutive_failures    BIGINT NOT NULL DEFAULT 0,
    locked_at               BIGINT,
    -- Send logs per purpose: the send times (milliseconds) joined by ',',
    -- oldest first; '' when there are none.
    order_sends             TEXT   NOT NULL DEFAULT '',
    sign_in_sends           TEXT   NOT NULL DEFAULT '',
    -- The pending order's code digest, when pod checks codes itself.
    order_code_digest       BLOB,
    -- The current sign-in code: none while sign_in_issued_at is NULL; the
    -- digest is NULL when the code provider checks codes.
    sign_in_digest          BLOB,
    sign_in_issued_at       BIGINT,
    sign_in_expires_at      BIGINT,
    sign_in_failed_attempts BIGINT
);

-- An account at version 1 for every customer the old tables knew.
INSERT INTO accounts (customer_id, version)
SELECT customer_id, 1 FROM (
    SELECT customer_id FROM lockouts
    UNION SELECT customer_id FROM code_sends
    UNION SELECT customer_id FROM one_time_codes
    UNION SELECT customer_id FROM orders WHERE state = 'awaiting_code'
);

-- The run of wrong codes. The old pod had no cool-down: a locked account
-- stayed locked until a sign-in or an operator unlocked it, which is what
-- a NULL locked_at means.
UPDATE accounts
SET consecutive_failures = lockouts.consecutive_failures
FROM lockouts
WHERE lockouts.customer_id = accounts.customer_id;

-- Sends of the last day (the old retention; the send window is an hour).
-- The old pod counted order and sign-in codes against one budget: the
-- sends go into both logs, so no budget grows by the upgrade.
UPDATE accounts
SET order_sends = COALESCE((
    SELECT group_concat(code_sends.sent_at, ',')
    FROM code_sends
    WHERE code_sends.customer_id = accounts.customer_id
      AND code_sends.sent_at > (CAST(strftime('%s', 'now') AS INTEGER) - 86400) * 1000
), '');
UPDATE accounts SET sign_in_sends = order_sends;

-- The pending order's code.
UPDATE accounts
SET order_code_digest = one_time_codes.hash
FROM one_time_codes
WHERE one_time_codes.customer_id = accounts.customer_id
  AND one_time_codes.purpose = 'order'
  AND EXISTS (
      SELECT 1 FROM orders
      WHERE orders.customer_id = accounts.customer_id AND orders.state = 'awaiting_code'
  );

-- The sign-in code.
UPDATE accounts
SET sign_in_digest = one_time_codes.hash,
    sign_in_issued_at = one_time_codes.issued_at,
    sign_in_expires_at = one_time_codes.expires_at,
    sign_in_failed_attempts = one_time_codes.failed_attempts
FROM one_time_codes
WHERE one_time_codes.customer_id = accounts.customer_id
  AND one_time_codes.purpose = 'sign_in';

DROP TABLE one_time_codes;
DROP TABLE code_sends;
DROP TABLE lockouts;
