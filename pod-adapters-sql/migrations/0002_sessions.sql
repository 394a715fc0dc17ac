-- The web app's server-side sessions. The cookie carries a random 256-bit
-- id; only its SHA-256 is stored, so a copy of the database cannot be
-- turned into a session cookie.
CREATE TABLE sessions (
    id_hash     BLOB   NOT NULL PRIMARY KEY,
    -- NULL while a sign-in is under way.
    customer_id TEXT,
    csrf_token  TEXT   NOT NULL,
    -- Opaque pending sign-in data (OIDC state, nonce, PKCE verifier).
    pending     TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Pruning expired sessions.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
