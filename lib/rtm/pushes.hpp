#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "rtm/render.hpp"
#include "store/store.hpp"

namespace chatctl::rtm {

// What one event of the log means for connected customers: a frame for every connection of
// some customers, or a disconnect of some connections.
struct Delivery {
  std::vector<std::string> customers;  // every connection of these customers
  std::string frame;                   // a push frame (empty for a disconnect)
  std::string disconnect_reason;       // non-empty: close these connections with this reason
  std::int64_t token_id{0};            // with a disconnect: only connections logged in with this token
};

// Turns the engine's event log into RTM pushes (the document's "Pushes" section): incoming_chat,
// chat_deactivated, chat_transferred, user_added_to_chat, user_removed_from_chat,
// incoming_event, event_updated, incoming_rich_message_postback, the six *_properties_* pushes,
// customer_updated, customer_page_updated, incoming_typing_indicator, events_marked_as_seen,
// incoming_greeting, greeting_accepted, greeting_canceled; and disconnects for bans and revoked
// tokens. Reads the current state of what an event names, so an event whose chat is gone yields
// nothing. Not thread-safe: one per database session.
class PushRouter {
 public:
  explicit PushRouter(store::Store& store);
  std::vector<Delivery> route(const store::EventRecord& event);
  // Starts a batch of events read in one poll: the chats read for one event of the batch serve
  // the others (every event of a batch was committed before any of it was read, so the state is
  // as current as a fresh read's).
  void new_batch();
  // The database's rows were replaced (replay's reset): nothing read before holds.
  void rows_replaced();

 private:
  const ChatView* chat(model::ChatId id);

  store::Store& store_;
  DefaultChannel default_channel_;  // it reads committed rows only: never taken back
  std::optional<Reader> reader_;
  std::unordered_map<model::ChatId, std::optional<ChatView>> views_;
};

}  // namespace chatctl::rtm
