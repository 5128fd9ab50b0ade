-- Chats and what belongs to them: participants, messages, invites and flags. Every foreign-key
-- column has an index of its own (or leads one), so cascading deletes stay fast.

CREATE TABLE chat (
  id              BIGSERIAL PRIMARY KEY,
  status          TEXT    NOT NULL CHECK (status IN ('request', 'active', 'closed')),
  requester_id    TEXT    NOT NULL,
  requester_name  TEXT    NOT NULL,
  requester_type  TEXT    NOT NULL CHECK (requester_type IN ('User', 'Customer', 'Public')),
  target_type     TEXT    NOT NULL CHECK (target_type IN ('User', 'Customer')),
  chat_channel_id BIGINT  NOT NULL REFERENCES chat_channel (id),
  ticket_id       BIGINT  NOT NULL DEFAULT 0,
  create_time     BIGINT  NOT NULL,
  change_time     BIGINT  NOT NULL
);
CREATE INDEX chat_channel_status ON chat (chat_channel_id, status);
CREATE INDEX chat_status_change_time ON chat (status, change_time);
CREATE INDEX chat_change_time ON chat (change_time);
CREATE INDEX chat_requester ON chat (requester_type, requester_id);

CREATE TABLE chat_participant (
  id               BIGSERIAL PRIMARY KEY,
  chat_id          BIGINT  NOT NULL REFERENCES chat (id) ON DELETE CASCADE,
  chatter_id       TEXT    NOT NULL,
  chatter_name     TEXT    NOT NULL,
  chatter_type     TEXT    NOT NULL CHECK (chatter_type IN ('User', 'Customer', 'Public')),
  chatter_active   SMALLINT NOT NULL CHECK (chatter_active IN (-1, 0, 1)),
  invitation       SMALLINT NOT NULL DEFAULT 0 CHECK (invitation IN (0, 1)),
  monitoring       SMALLINT NOT NULL DEFAULT 0 CHECK (monitoring IN (0, 1, 2)),
  permission_level TEXT    NOT NULL DEFAULT '' CHECK (permission_level IN ('', 'Owner', 'Participant', 'Observer')),
  create_time      BIGINT  NOT NULL,
  UNIQUE (chat_id, chatter_type, chatter_id)
);
CREATE INDEX chat_participant_chatter ON chat_participant (chatter_type, chatter_id, chatter_active);

CREATE TABLE chat_message (
  id                  BIGSERIAL PRIMARY KEY,
  chat_id             BIGINT  NOT NULL REFERENCES chat (id) ON DELETE CASCADE,
  chat_participant_id BIGINT  NOT NULL REFERENCES chat_participant (id) ON DELETE CASCADE,
  message_text        TEXT    NOT NULL,
  system_generated    SMALLINT NOT NULL DEFAULT 0 CHECK (system_generated IN (0, 1)),
  internal            SMALLINT NOT NULL DEFAULT 0 CHECK (internal IN (0, 1, 2)),
  create_time         BIGINT  NOT NULL
);
CREATE INDEX chat_message_chat_id ON chat_message (chat_id, id);
CREATE INDEX chat_message_chat_participant_id ON chat_message (chat_participant_id);

CREATE TABLE chat_invite (
  id                 BIGSERIAL PRIMARY KEY,
  chat_id            BIGINT  NOT NULL REFERENCES chat (id) ON DELETE CASCADE,
  chatter_id         TEXT    NOT NULL,
  inviter_id         TEXT    NOT NULL,
  invitation_chat_id BIGINT  NOT NULL DEFAULT 0,
  create_time        BIGINT  NOT NULL,
  UNIQUE (chat_id, chatter_id)
);
CREATE INDEX chat_invite_chatter_id ON chat_invite (chatter_id, invitation_chat_id);

CREATE TABLE chat_flag (
  chat_id     BIGINT  NOT NULL REFERENCES chat (id) ON DELETE CASCADE,
  flag_key    TEXT    NOT NULL,
  flag_value  TEXT    NOT NULL,
  create_by   TEXT    NOT NULL,
  create_time BIGINT  NOT NULL,
  PRIMARY KEY (chat_id, flag_key, create_by)
);
CREATE INDEX chat_flag_user_key ON chat_flag (create_by, flag_key);
CREATE INDEX chat_flag_key_value ON chat_flag (flag_key, flag_value);
