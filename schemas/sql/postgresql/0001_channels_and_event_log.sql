-- Chat channels, database facts and the event log.
-- Times are integer microseconds since the Unix epoch, UTC. Booleans are 0/1 SMALLINTs so both
-- backends read them the same way.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE chat_channel (
  id             BIGSERIAL PRIMARY KEY,
  name           TEXT     NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 200),
  group_name     TEXT     NOT NULL CHECK (char_length(group_name) BETWEEN 1 AND 200),
  customer_users SMALLINT NOT NULL DEFAULT 1 CHECK (customer_users IN (0, 1)),
  public_users   SMALLINT NOT NULL DEFAULT 0 CHECK (public_users IN (0, 1)),
  valid_id       SMALLINT NOT NULL DEFAULT 1 CHECK (valid_id IN (1, 2, 3)),
  comments       TEXT     NOT NULL DEFAULT '',
  create_time    BIGINT   NOT NULL,
  create_by      TEXT     NOT NULL,
  change_time    BIGINT   NOT NULL,
  change_by      TEXT     NOT NULL
);

-- Append-only. Appenders hold an advisory transaction lock, so seq order is commit order and a
-- reader taking "seq > last seen" never skips a row that commits late.
CREATE TABLE event_log (
  seq        BIGSERIAL PRIMARY KEY,
  type       TEXT   NOT NULL,
  time       BIGINT NOT NULL,
  actor      TEXT   NOT NULL,
  chat_id    BIGINT,
  channel_id BIGINT,
  payload    TEXT   NOT NULL
);
CREATE INDEX event_log_chat_id ON event_log (chat_id);
CREATE INDEX event_log_channel_id ON event_log (channel_id);
