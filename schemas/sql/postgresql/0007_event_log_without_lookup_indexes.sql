-- The event log is read in seq order (chatd's follower, webhook delivery, `chatctl events`).
-- Its chat_id and channel_id indexes served only the `events --chat/--channel` filters, yet
-- every logged event wrote an entry into each: for chatd, one more scattered page per chat in
-- every transaction. Those filters now scan from --after instead.

DROP INDEX event_log_chat_id;
DROP INDEX event_log_channel_id;
