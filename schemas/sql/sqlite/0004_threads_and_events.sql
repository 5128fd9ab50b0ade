-- RTM threads and events. A chat's life from start (or re-activation) to close is a thread; its
-- messages are the thread's events, of one of the six RTM event types, with the type's own fields
-- in `payload` (a JSON object). Chats, threads and events carry RTM properties (JSON objects).
-- RTM string ids are derived from the integer ids, so nothing else is stored for them.

CREATE TABLE chat_thread (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  chat_id     INTEGER NOT NULL REFERENCES chat (id) ON DELETE CASCADE,
  active      INTEGER NOT NULL CHECK (active IN (0, 1)),
  properties  TEXT    NOT NULL DEFAULT '{}',
  create_time INTEGER NOT NULL,
  close_time  INTEGER
);
CREATE INDEX chat_thread_chat_id ON chat_thread (chat_id, id);

ALTER TABLE chat ADD COLUMN properties TEXT NOT NULL DEFAULT '{}';

ALTER TABLE chat_message ADD COLUMN thread_id INTEGER REFERENCES chat_thread (id) ON DELETE CASCADE;
ALTER TABLE chat_message ADD COLUMN event_type TEXT NOT NULL DEFAULT 'message'
  CHECK (event_type IN ('message', 'system_message', 'file', 'filled_form', 'rich_message', 'custom'));
ALTER TABLE chat_message ADD COLUMN custom_id TEXT NOT NULL DEFAULT '';
ALTER TABLE chat_message ADD COLUMN properties TEXT NOT NULL DEFAULT '{}';
ALTER TABLE chat_message ADD COLUMN payload TEXT NOT NULL DEFAULT '{}';
CREATE INDEX chat_message_thread_id ON chat_message (thread_id, id);

-- Chats that existed before threads get one thread spanning their whole life.
INSERT INTO chat_thread (chat_id, active, create_time, close_time)
  SELECT id, CASE WHEN status = 'closed' THEN 0 ELSE 1 END, create_time,
         CASE WHEN status = 'closed' THEN change_time END
  FROM chat ORDER BY id;
UPDATE chat_message SET thread_id = (SELECT t.id FROM chat_thread t WHERE t.chat_id = chat_message.chat_id);
UPDATE chat_message SET event_type = 'system_message', payload = '{"system_message_type":"system_info"}'
  WHERE system_generated = 1;
