#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "model/chat.hpp"
#include "model/people.hpp"
#include "store/store.hpp"

namespace chatctl::rtm {

// A chat as the RTM structures show it to its customer: what belongs to it, read once.
struct ChatView {
  model::Chat chat;
  std::vector<model::Thread> threads;            // oldest first
  std::vector<model::Participant> participants;  // by id
  std::int64_t group{0};                         // RTM group: the channel id, 0 for the default channel
  bool active() const { return chat.status != model::ChatStatus::closed; }
};

// The default channel's id, remembered once the database has one: it is written once
// (engine::ensure_default_channel) and never changed, so a session reads it once rather than for
// every request. forget() after a rollback that may have taken back the one read (the channel is
// made on first use, inside a transaction) and after the rows were replaced (replay's reset).
class DefaultChannel {
 public:
  std::optional<model::ChannelId> get(store::Store& store);
  void forget() { id_.reset(); }

 private:
  std::optional<model::ChannelId> id_;  // none: not read yet, or there was none
};

// Reads what the renderers need. Messages for agents only never leave it.
class Reader {
 public:
  Reader(store::Store& store, DefaultChannel& default_channel);
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  std::optional<ChatView> chat(model::ChatId id);
  // Events of one thread (or, thread 0, the whole chat) that customers see, oldest first.
  std::vector<model::Message> events(model::ChatId chat, model::ThreadId thread);
  std::int64_t group_of(model::ChannelId channel);
  // The channel behind an RTM group (0: the default channel).
  std::optional<model::ChannelId> channel_of(std::int64_t group);

 private:
  store::Store& store_;
  DefaultChannel& default_channel_;
};

model::ChatterType chatter_type_of(const model::Customer& customer);

nlohmann::json properties_json(const std::string& text);
nlohmann::json access_json(std::int64_t group);
nlohmann::json event_json(const model::Message& m);
// A User > Customer object from the customer's record (and its participation, when given).
nlohmann::json customer_json(const model::Customer& c, const model::Participant* p = nullptr);
// A User object from a participant; the customer's record fills in a customer's details.
nlohmann::json user_json(const model::Participant& p, const model::Customer* customer);
nlohmann::json users_json(const ChatView& view, const model::Customer* customer);
// A Thread object; `index` is its place in view.threads.
nlohmann::json thread_json(const ChatView& view, std::size_t index, const std::vector<model::Message>& events);
// A Chat with one thread (incoming_chat, get_chat): id, users, access, properties, thread.
nlohmann::json chat_with_thread_json(const ChatView& view, std::size_t index, const std::vector<model::Message>& events,
                                     const model::Customer* customer);

// A greeting as incoming_greeting and login show it.
nlohmann::json greeting_json(const model::Greeting& g, const std::optional<model::Agent>& agent, bool first_time);

}  // namespace chatctl::rtm
