#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "model/webhook.hpp"
#include "store/store.hpp"

namespace chatctl::webhook {

// Which chatsession.* event an event-log entry is, if any: ChatAdd is created, ChatMessageAdd is
// message, and status, channel (topic) and participant changes are changed.
std::optional<std::string_view> webhook_event_for(std::string_view event_log_type);

// The delivery body for an event-log entry, in SuperOffice's envelope (EventId, Timestamp,
// Changes, Event, PrimaryKey, Entity, ContextIdentifier, ChangedByAssociateId, WebhookName,
// FieldValues), compact JSON. FieldValues come from the chat as it is now, or from the event's
// own payload when the chat is gone.
std::string delivery_body(store::Store& store, const store::EventRecord& event, std::string_view webhook_event,
                          const std::string& event_id, const std::string& webhook_name);

// The body `webhook test` sends (Event "test", PrimaryKey 0).
std::string test_body(const std::string& event_id, const std::string& webhook_name, core::Micros now);

// X-SuperOffice-Signature: Base64 of HMAC-SHA256 over the body, keyed with the secret's bytes.
std::string signature(std::string_view secret, std::string_view body);

}  // namespace chatctl::webhook
