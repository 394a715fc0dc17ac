-- Alexa requests claimed for processing, and their answers: a request id
-- seen again within its window gets the stored answer and changes nothing
-- (pod-ports' AnsweredRequests). The primary key makes a claim atomic: of
-- two claims of one id, one inserts and the other finds the row.
--
-- Portable like 0001: BIGINT milliseconds, BLOB here and BYTEA on
-- PostgreSQL.
CREATE TABLE answered_requests (
    request_id  TEXT   NOT NULL PRIMARY KEY,
    -- SHA-256 of the request body, telling apart another request reusing
    -- the id.
    fingerprint BLOB   NOT NULL,
    -- The response body as sent; NULL while the request is processed.
    answer      TEXT,
    -- The first moment the claim no longer counts.
    keep_until  BIGINT NOT NULL
);

-- Sweeping expired claims.
CREATE INDEX answered_requests_by_expiry ON answered_requests (keep_until);
