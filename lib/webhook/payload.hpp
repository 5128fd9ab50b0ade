#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "model/webhook.hpp"
#include "store/store.hpp"

namespace chatctl::webhook {

// Which chatsession.* event an event-log entry is, if any: ChatAdd is created, ChatMessageAdd is
// message, and status, channel (topic) and participant changes are changed.
std::optional<std::string_view> webhook_event_for(std::string_view event_log_type);

// What the log last recorded of chats that are gone (deleted before their events were queued),
// by chat: the payload of its last ChatAdd, ChatUpdate or ChatChannelUpdate so far. Kept across
// events taken in log order, so each gone chat's history is read once.
using GoneChats = std::map<std::int64_t, std::string>;

// The delivery body for an event-log entry, in SuperOffice's envelope (EventId, Timestamp,
// Changes, Event, PrimaryKey, Entity, ContextIdentifier, ChangedByAssociateId, WebhookName,
// FieldValues), compact JSON. FieldValues come from the chat as it is now or, when it is gone, as
// the log last recorded it up to this event (`gone`, when given, remembers that between calls).
std::string delivery_body(store::Store& store, const store::EventRecord& event, std::string_view webhook_event,
                          const std::string& event_id, const std::string& webhook_name, GoneChats* gone = nullptr);

// The body `webhook test` sends (Event "test", PrimaryKey 0).
std::string test_body(const std::string& event_id, const std::string& webhook_name, core::Micros now);

// X-SuperOffice-Signature: Base64 of HMAC-SHA256 over the body, keyed with the secret's bytes.
std::string signature(std::string_view secret, std::string_view body);

}  // namespace chatctl::webhook
