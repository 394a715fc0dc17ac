-- Which pod customer an Alexa user linked (from the SkillAccountLinked
-- skill event), forgotten when the skill is disabled. The Alexa user id is
-- pseudonymous but about a person: it is stored for this and nothing else.
CREATE TABLE alexa_links (
    alexa_user_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    customer_id   TEXT COLLATE "C" NOT NULL,
    -- When the link was made (milliseconds); an older link never replaces
    -- a newer one, as Alexa may deliver events late or twice.
    linked_at     BIGINT NOT NULL
);
