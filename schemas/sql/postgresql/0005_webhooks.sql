-- Webhooks (chatsession.* events in SuperOffice's format) and their delivery state. Delivery
-- follows the event log with a cursor per webhook; events due for delivery wait in
-- webhook_queue with the body and EventId every attempt sends, so a crash or an outage loses
-- nothing and a retry sends the same bytes.

CREATE TABLE webhook (
  id          BIGSERIAL PRIMARY KEY,
  name        TEXT    NOT NULL UNIQUE,
  url         TEXT    NOT NULL,
  events      TEXT    NOT NULL,            -- comma-separated chatsession.* names
  secret      TEXT    NOT NULL DEFAULT '',  -- '' for none; never printed
  state       TEXT    NOT NULL DEFAULT 'Active' CHECK (state IN ('Active', 'Stopped', 'TooManyErrors')),
  cursor      BIGINT  NOT NULL DEFAULT 0,   -- event_log seq read up to
  failures    BIGINT  NOT NULL DEFAULT 0,   -- consecutive failed attempts
  last_error  TEXT    NOT NULL DEFAULT '',
  last_attempt_time BIGINT,
  create_time BIGINT  NOT NULL,
  change_time BIGINT  NOT NULL
);

CREATE TABLE webhook_queue (
  webhook_id   BIGINT  NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
  seq          BIGINT  NOT NULL,            -- the event's seq in event_log
  event_id     TEXT    NOT NULL,            -- X-SuperOffice-EventId, the same on every attempt
  event        TEXT    NOT NULL,            -- chatsession.created | .message | .changed
  chat_id      BIGINT  NOT NULL,
  body         TEXT    NOT NULL,
  attempts     BIGINT  NOT NULL DEFAULT 0,
  next_attempt_time BIGINT  NOT NULL DEFAULT 0,
  PRIMARY KEY (webhook_id, seq)
);
CREATE INDEX webhook_queue_chat ON webhook_queue (webhook_id, chat_id, seq);
