#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
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
  // What a router remembers of chats between batches. Routers that take turns on one log (never
  // at once: their caller serializes them) share one, so that whichever routes an event, the
  // others know of it.
  struct Memory;
  explicit PushRouter(store::Store& store, std::shared_ptr<Memory> memory = nullptr);
  std::vector<Delivery> route(const store::EventRecord& event);
  // Starts a batch of events read in one poll, those after seq `after`: the chats read for one
  // event of the batch serve the others (every event of a batch was committed before any of it
  // was read, so the state is as current as a fresh read's). A chat read for an earlier batch
  // serves only the events that leave its customers, status and last thread as they were (see
  // keeps_view in pushes.cpp): the events that change those are in the log, and each makes the
  // chat be read again. That holds only while this router sees every event: when some up to
  // `after` were routed elsewhere (the service has two routers), it forgets all it read.
  // `events` are the batch's: a customer who joins or leaves a chat in it is pushed that chat's
  // events of the time it took part, though the chat, read now, has it in or out.
  void new_batch(std::int64_t after, const std::vector<store::EventRecord>& events = {});
  // The database's rows were replaced (replay's reset): nothing read before holds.
  void rows_replaced();

  // Chats kept between batches; beyond it, all are dropped at the next batch.
  static constexpr std::size_t kMaxViews = 2048;

  struct Memory {
    struct View {
      std::optional<ChatView> chat;  // none: there was no such chat
      std::uint64_t batch{0};        // the batch it was read in
    };
    std::unordered_map<model::ChatId, View> views;
    std::uint64_t batch{0};
    std::optional<std::int64_t> routed_up_to;  // the last event routed, none before the first batch
  };

 private:
  // The chat as read in this batch, or (`earlier_will_do`) in an earlier one.
  const ChatView* chat(model::ChatId id, bool earlier_will_do);

  store::Store& store_;
  DefaultChannel default_channel_;  // it reads committed rows only: never taken back
  std::optional<Reader> reader_;
  std::shared_ptr<Memory> memory_;
  // The batch's customer joins and leaves, in log order: (chat, chatter type, customer) to (seq,
  // takes part after).
  std::map<std::tuple<model::ChatId, std::string, std::string>, std::vector<std::pair<std::int64_t, bool>>> turns_;
};

}  // namespace chatctl::rtm
