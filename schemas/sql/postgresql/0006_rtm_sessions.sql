-- What chatd needs beside the engine: customers' RTM profile (avatar, session fields, current
-- page, statistics) and bans, how far each participant has seen a chat, customer access tokens
-- (stored hashed) and greetings sent to customers.

ALTER TABLE customer ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';
ALTER TABLE customer ADD COLUMN banned INTEGER NOT NULL DEFAULT 0 CHECK (banned IN (0, 1));

ALTER TABLE chat_participant ADD COLUMN seen_up_to BIGINT NOT NULL DEFAULT 0;

CREATE TABLE customer_token (
  id          BIGSERIAL PRIMARY KEY,
  token_hash  TEXT    NOT NULL UNIQUE,  -- hex SHA-256 of the token; the token itself is never stored
  customer_id TEXT    NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
  create_time BIGINT  NOT NULL,
  expire_time BIGINT  NOT NULL,
  revoked     INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE INDEX customer_token_customer_id ON customer_token (customer_id);

CREATE TABLE greeting (
  id          BIGSERIAL PRIMARY KEY,
  unique_id   TEXT    NOT NULL UNIQUE,
  greeting_id BIGINT  NOT NULL,           -- the greeting as configured (RTM "id")
  customer_id TEXT    NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
  agent_login TEXT    NOT NULL,
  event       TEXT    NOT NULL,           -- the RTM message or rich message event, a JSON object
  addon       TEXT    NOT NULL DEFAULT '',
  state       TEXT    NOT NULL DEFAULT 'shown' CHECK (state IN ('shown', 'accepted', 'canceled')),
  create_time BIGINT  NOT NULL,
  change_time BIGINT  NOT NULL
);
CREATE INDEX greeting_customer_id ON greeting (customer_id, id);
