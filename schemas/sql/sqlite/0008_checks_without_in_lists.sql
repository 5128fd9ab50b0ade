-- SQLite checks `x IN (a, b, c)` (three values or more) by building a temporary B-tree of the
-- list on every row it inserts or updates: two on each message (more than half of a message
-- insert's time, measured), four on each participant. `x = a OR x = b OR x = c` says the same
-- without one.
--
-- A CHECK constraint does not change how rows are stored, so the table definitions are edited
-- in place, as SQLite documents for removing or changing constraints ("ALTER TABLE: making other
-- kinds of table schema changes"): no table is copied, however large. The migration runner
-- then increments the schema version (PRAGMA schema_version), so every connection reads the
-- new definitions, and reads them back before committing.

PRAGMA writable_schema = ON;

UPDATE sqlite_master SET sql = replace(sql, 'valid_id IN (1, 2, 3)', 'valid_id = 1 OR valid_id = 2 OR valid_id = 3')
 WHERE type = 'table' AND name = 'chat_channel';
UPDATE sqlite_master SET sql = replace(sql, 'availability IN (0, 2, 3)', 'availability = 0 OR availability = 2 OR availability = 3')
 WHERE type = 'table' AND name = 'customer';
UPDATE sqlite_master SET sql = replace(sql, 'status IN (''request'', ''active'', ''closed'')', 'status = ''request'' OR status = ''active'' OR status = ''closed''')
 WHERE type = 'table' AND name = 'chat';
UPDATE sqlite_master SET sql = replace(sql, 'requester_type IN (''User'', ''Customer'', ''Public'')', 'requester_type = ''User'' OR requester_type = ''Customer'' OR requester_type = ''Public''')
 WHERE type = 'table' AND name = 'chat';
UPDATE sqlite_master SET sql = replace(sql, 'chatter_type IN (''User'', ''Customer'', ''Public'')', 'chatter_type = ''User'' OR chatter_type = ''Customer'' OR chatter_type = ''Public''')
 WHERE type = 'table' AND name = 'chat_participant';
UPDATE sqlite_master SET sql = replace(sql, 'chatter_active IN (-1, 0, 1)', 'chatter_active = -1 OR chatter_active = 0 OR chatter_active = 1')
 WHERE type = 'table' AND name = 'chat_participant';
UPDATE sqlite_master SET sql = replace(sql, 'monitoring IN (0, 1, 2)', 'monitoring = 0 OR monitoring = 1 OR monitoring = 2')
 WHERE type = 'table' AND name = 'chat_participant';
UPDATE sqlite_master SET sql = replace(sql, 'permission_level IN ('''', ''Owner'', ''Participant'', ''Observer'')', 'permission_level = '''' OR permission_level = ''Owner'' OR permission_level = ''Participant'' OR permission_level = ''Observer''')
 WHERE type = 'table' AND name = 'chat_participant';
UPDATE sqlite_master SET sql = replace(sql, 'internal IN (0, 1, 2)', 'internal = 0 OR internal = 1 OR internal = 2')
 WHERE type = 'table' AND name = 'chat_message';
UPDATE sqlite_master SET sql = replace(sql, 'event_type IN (''message'', ''system_message'', ''file'', ''filled_form'', ''rich_message'', ''custom'')', 'event_type = ''message'' OR event_type = ''system_message'' OR event_type = ''file'' OR event_type = ''filled_form'' OR event_type = ''rich_message'' OR event_type = ''custom''')
 WHERE type = 'table' AND name = 'chat_message';
UPDATE sqlite_master SET sql = replace(sql, 'state IN (''Active'', ''Stopped'', ''TooManyErrors'')', 'state = ''Active'' OR state = ''Stopped'' OR state = ''TooManyErrors''')
 WHERE type = 'table' AND name = 'webhook';
UPDATE sqlite_master SET sql = replace(sql, 'state IN (''shown'', ''accepted'', ''canceled'')', 'state = ''shown'' OR state = ''accepted'' OR state = ''canceled''')
 WHERE type = 'table' AND name = 'greeting';
PRAGMA writable_schema = OFF;
