-- pod as an OAuth 2.0 authorization server for Alexa account linking.
-- Secrets (client secrets, authorization codes, refresh tokens) are stored
-- only as their SHA-256; access tokens are pod's signed local tokens and
-- are not stored at all (they carry their grant's id).

-- Clients registered by the operator (`pod clients add`).
CREATE TABLE oauth_clients (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name          TEXT   NOT NULL,
    secret_digest BYTEA  NOT NULL,
    -- One exact redirect URI per line.
    redirect_uris TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Authorization codes: single use; `grant_id` is the grant their
-- redemption made, revoked when the code is presented again.
CREATE TABLE oauth_codes (
    digest         BYTEA  NOT NULL PRIMARY KEY,
    client_id      TEXT COLLATE "C" NOT NULL,
    customer_id    TEXT COLLATE "C" NOT NULL,
    redirect_uri   TEXT   NOT NULL,
    scope          TEXT   NOT NULL,
    code_challenge TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    grant_id       TEXT COLLATE "C"
);

-- Pruning codes a day after they expired.
CREATE INDEX oauth_codes_by_expiry ON oauth_codes (expires_at);

-- One account linked to one client: the family of its refresh and access
-- tokens, all ended by `revoked_at`.
CREATE TABLE oauth_grants (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id   TEXT COLLATE "C" NOT NULL,
    customer_id TEXT COLLATE "C" NOT NULL,
    scope       TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE INDEX oauth_grants_by_customer ON oauth_grants (customer_id, created_at);
CREATE INDEX oauth_grants_by_client ON oauth_grants (client_id);

-- Refresh tokens, rotated on every use: a spent one presented again
-- revokes its grant.
CREATE TABLE oauth_refresh_tokens (
    digest     BYTEA  NOT NULL PRIMARY KEY,
    grant_id   TEXT COLLATE "C" NOT NULL REFERENCES oauth_grants (id),
    created_at BIGINT NOT NULL,
    spent_at   BIGINT
);

CREATE INDEX oauth_refresh_tokens_by_grant ON oauth_refresh_tokens (grant_id);
