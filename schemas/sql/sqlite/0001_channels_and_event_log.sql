-- Chat channels, database facts and the event log.
-- Times are integer microseconds since the Unix epoch, UTC. Booleans are 0/1.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE chat_channel (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  name           TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
  group_name     TEXT    NOT NULL CHECK (length(group_name) BETWEEN 1 AND 200),
  customer_users INTEGER NOT NULL DEFAULT 1 CHECK (customer_users IN (0, 1)),
  public_users   INTEGER NOT NULL DEFAULT 0 CHECK (public_users IN (0, 1)),
  valid_id       INTEGER NOT NULL DEFAULT 1 CHECK (valid_id IN (1, 2, 3)),
  comments       TEXT    NOT NULL DEFAULT '',
  create_time    INTEGER NOT NULL,
  create_by      TEXT    NOT NULL,
  change_time    INTEGER NOT NULL,
  change_by      TEXT    NOT NULL
);

-- Append-only; seq order is commit order (SQLite has one writer at a time).
CREATE TABLE event_log (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  type       TEXT    NOT NULL,
  time       INTEGER NOT NULL,
  actor      TEXT    NOT NULL,
  chat_id    INTEGER,
  channel_id INTEGER,
  payload    TEXT    NOT NULL
);
CREATE INDEX event_log_chat_id ON event_log (chat_id);
CREATE INDEX event_log_channel_id ON event_log (channel_id);
