-- Agents (users with logins, groups and chat availability) and customers (RTM customer ids).

CREATE TABLE agent (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  login        TEXT    NOT NULL UNIQUE CHECK (length(login) BETWEEN 1 AND 200),
  name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  email        TEXT    NOT NULL DEFAULT '',
  availability INTEGER NOT NULL DEFAULT 0 CHECK (availability BETWEEN 0 AND 3),
  last_seen    INTEGER NOT NULL DEFAULT 0,
  create_time  INTEGER NOT NULL,
  change_time  INTEGER NOT NULL
);

CREATE TABLE agent_group (
  agent_id   INTEGER NOT NULL REFERENCES agent (id) ON DELETE CASCADE,
  group_name TEXT    NOT NULL,
  PRIMARY KEY (agent_id, group_name)
);
CREATE INDEX agent_group_group_name ON agent_group (group_name);

-- The channels an agent chose to receive external chats from (none chosen: every permitted one).
CREATE TABLE agent_channel (
  agent_id        INTEGER NOT NULL REFERENCES agent (id) ON DELETE CASCADE,
  chat_channel_id INTEGER NOT NULL REFERENCES chat_channel (id),
  PRIMARY KEY (agent_id, chat_channel_id)
);
CREATE INDEX agent_channel_chat_channel_id ON agent_channel (chat_channel_id);

CREATE TABLE customer (
  id           TEXT    PRIMARY KEY,
  name         TEXT    NOT NULL DEFAULT '',
  email        TEXT    NOT NULL DEFAULT '',
  kind         TEXT    NOT NULL CHECK (kind IN ('customer', 'public')),
  availability INTEGER NOT NULL DEFAULT 0 CHECK (availability IN (0, 2, 3)),
  last_seen    INTEGER NOT NULL DEFAULT 0,
  create_time  INTEGER NOT NULL,
  change_time  INTEGER NOT NULL
);
CREATE INDEX customer_last_seen ON customer (last_seen);
CREATE INDEX agent_last_seen ON agent (last_seen);
