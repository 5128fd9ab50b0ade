#include "rtm/pushes.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/clock.hpp"
#include "rtm/protocol.hpp"
#include "rtm/render.hpp"

namespace chatctl::rtm {
namespace {

using json = nlohmann::json;

bool is_customer(model::ChatterType t) { return t != model::ChatterType::user; }

// The customers an event of a chat concerns: its customer participants who were active (who
// could act in it) when the event happened, as `took_part` tells (the chat is read when its batch
// is routed, maybe after some joined or left). A customer who is only the chat's requester
// (`chatctl chat add`), or invited, hears of the chat once it joins: it could not use it before.
template <class TookPart>
std::vector<std::string> customers_of(const ChatView& v, TookPart took_part) {
  std::vector<std::string> out;
  for (const auto& p : v.participants) {
    if (is_customer(p.chatter_type) && took_part(p) && std::find(out.begin(), out.end(), p.chatter_id) == out.end()) {
      out.push_back(p.chatter_id);
    }
  }
  return out;
}

// A participant event that makes someone take part: added active, or made active (an invited
// agent accepting, someone removed coming back); an update says what it was before. A
// participant added again while active did not join.
bool is_join(std::string_view type, const json& payload) {
  return payload.value("chatter_active", 0) == 1 && payload.value("chatter_active_before", 0) != 1 &&
         (type == "ChatParticipantAdd" ||
          (type == "ChatParticipantUpdate" && payload.contains("chatter_active_before")));
}

// A participant event that ends someone's taking part: removed, made inactive, or added again
// inactive. A removal logged before it said what it ended (older logs) is taken for the end of
// an active one.
bool is_leave(std::string_view type, const json& payload) {
  if (type == "ChatParticipantRemove") {
    return payload.contains("chatter_id") && payload.value("chatter_active_before", 1) == 1;
  }
  return (type == "ChatParticipantAdd" || type == "ChatParticipantUpdate") &&
         payload.value("chatter_active_before", 0) == 1 && payload.value("chatter_active", 0) != 1;
}

// A participant event that makes someone leave (chatter_active -1): removed, or updated to it.
// Not one that leaves a participant who had left as it was (removed twice, its monitoring changed).
bool is_removal(std::string_view type, const json& payload) {
  if (payload.value("chatter_active", 0) != -1) return false;
  if (type == "ChatParticipantRemove") return payload.value("chatter_active_before", 1) != -1;
  return type == "ChatParticipantUpdate" && payload.contains("chatter_active_before");
}

const model::Participant* participant(const ChatView& v, const std::string& id) {
  for (const auto& p : v.participants) {
    if (p.chatter_id == id) return &p;
  }
  return nullptr;
}

// Events whose pushes need of their chat only what they leave as it was: its customers (requester
// and participants, and whether they left), its status, its last thread and its group. A chat read
// before serves them. Every change of those is logged as an event of another type (ChatAdd,
// ChatUpdate, ChatChannelUpdate, ChatParticipant*, ChatInvite, ChatDecline, ChatDelete, ...),
// which has the chat read again; so is any type not listed here. One exception is checked where
// it happens: a message posted to a chat without threads opens its first thread.
bool keeps_view(std::string_view type) {
  return type == "ChatMessageAdd" || type == "ChatEventUpdate" || type == "ChatTyping" || type == "ChatEventsSeen" ||
         type == "ChatPropertiesUpdate" || type == "ChatPropertiesDelete" || type == "ChatPostback";
}

// The customer as a CustomerUpdate or CustomerPageUpdate left it (the event's payload), not as it
// is when the event is routed: each of several quick changes is pushed as it was.
std::optional<model::Customer> customer_in(const json& payload) {
  const auto profile = payload.find("profile");
  if (!payload.contains("id") || !payload.contains("name") || profile == payload.end()) return std::nullopt;
  model::Customer c;
  c.id = payload.value("id", "");
  c.name = payload.value("name", "");
  c.email = payload.value("email", "");
  c.banned = payload.value("banned", false);
  c.profile = profile->is_object() ? profile->dump() : "{}";
  return c;
}

}  // namespace

PushRouter::PushRouter(store::Store& store, std::shared_ptr<Memory> memory)
    : store_(store), memory_(memory ? std::move(memory) : std::make_shared<Memory>()) {
  reader_.emplace(store_, default_channel_);
}

void PushRouter::new_batch(std::int64_t after, const std::vector<store::EventRecord>& events) {
  turns_.clear();
  for (const auto& e : events) {
    if (!e.chat_id || !e.type.starts_with("ChatParticipant")) continue;
    const json p = json::parse(e.payload, nullptr, false);
    try {
      if (!p.is_object() || p.value("chatter_type", "User") == "User") continue;
      const bool join = is_join(e.type, p);
      if (join || is_leave(e.type, p)) {
        turns_[{*e.chat_id, p.value("chatter_type", ""), p.value("chatter_id", "")}].emplace_back(e.seq, join);
      }
    } catch (const json::exception&) {
      // Not as chatctl writes it (fields of other types): no turn; route() skips the event.
    }
  }
  auto& m = *memory_;
  ++m.batch;
  if (m.routed_up_to != after || m.views.size() > kMaxViews) m.views.clear();
  m.routed_up_to = after;
  reader_.emplace(store_, default_channel_);
}

void PushRouter::rows_replaced() {
  default_channel_.forget();
  memory_->views.clear();
  memory_->routed_up_to.reset();
}

const ChatView* PushRouter::chat(model::ChatId id, bool earlier_will_do) {
  auto& v = memory_->views[id];
  // A chat that was not there is looked for again: nothing says when it came.
  if (v.batch != memory_->batch && !(earlier_will_do && v.chat)) v = {reader_->chat(id), memory_->batch};
  return v.chat ? &*v.chat : nullptr;
}

std::vector<Delivery> PushRouter::route(const store::EventRecord& e) {
  memory_->routed_up_to = e.seq;
  const json payload = json::parse(e.payload, nullptr, false);
  if (!payload.is_object()) return {};
  // What concerns no customer is dropped before anything is read.
  // (A quiet ChatEventsSeen is what earlier versions logged when a customer sent an event.)
  // Neither are a chat's initial events and properties, which its incoming_chat carries.
  if ((e.type == "ChatEventsSeen" && payload.value("quiet", false)) ||
      (e.type == "ChatMessageAdd" && payload.value("audience", "everyone") == "agents") ||
      ((e.type == "ChatMessageAdd" || e.type == "ChatPropertiesUpdate") && payload.value("initial", false))) {
    return {};
  }
  std::vector<Delivery> out;
  auto push = [&](std::vector<std::string> to, std::string_view action, const json& p) {
    if (!to.empty()) out.push_back({std::move(to), push_frame(action, p), "", 0});
  };

  // Customers' own events.
  if (e.type == "CustomerUpdate" || e.type == "CustomerPageUpdate") {
    const std::string id = payload.value("id", "");
    auto c = customer_in(payload);
    if (!c) c = store_.find_customer(id);
    if (!c) return {};
    if (c->banned) {
      out.push_back({{id}, "", "customer_banned", 0});
    } else if (e.type == "CustomerUpdate") {
      // Availability is not part of the RTM customer: a change of it alone is no news to the client.
      const auto changes = payload.value("changes", json::array());
      const bool visible = !changes.is_array() || changes.empty() ||
                           std::any_of(changes.begin(), changes.end(), [](const json& ch) { return ch != "availability"; });
      if (visible) push({id}, "customer_updated", {{"customer", customer_json(*c)}});
    } else {
      const auto profile = properties_json(c->profile);
      const json page = profile.contains("page") ? profile["page"] : json::object();
      push({id}, "customer_page_updated",
           {{"url", page.value("url", "")}, {"title", page.value("title", "")}, {"timestamp", page.value("timestamp", 0)}});
    }
    return out;
  }
  if (e.type == "TokenRevoke") {
    if (payload.contains("customer_id")) {
      out.push_back({{payload["customer_id"].get<std::string>()}, "", "access_token_expired", 0});
    } else if (payload.contains("id")) {
      out.push_back({{}, "", "access_token_expired", payload["id"].get<std::int64_t>()});
    }
    return out;
  }
  if (e.type == "GreetingAdd" || e.type == "GreetingUpdate") {
    const auto g = store_.find_greeting(payload.value("unique_id", ""));
    if (!g) return {};
    if (e.type == "GreetingAdd") {
      push({g->customer_id}, "incoming_greeting", greeting_json(*g, store_.find_agent(g->agent_login), true));
    } else if (payload.value("state", "") == "accepted") {
      push({g->customer_id}, "greeting_accepted", {{"unique_id", g->unique_id}});
    } else if (payload.value("state", "") == "canceled") {
      push({g->customer_id}, "greeting_canceled", {{"unique_id", g->unique_id}});
    }
    return out;
  }

  if (!e.chat_id) return {};
  Reader& reader = *reader_;
  const ChatView* view = chat(*e.chat_id, keeps_view(e.type));
  if (view && e.type == "ChatMessageAdd" &&
      (view->threads.empty() || view->threads.back().id != payload.value("thread_id", view->threads.back().id))) {
    view = chat(*e.chat_id, false);  // the message opened a thread the chat had not when read
  }
  if (!view) return {};
  const auto& v = *view;
  const auto to = customers_of(v, [&](const model::Participant& p) {
    const auto turns = turns_.find({v.chat.id, std::string(model::to_string(p.chatter_type)), p.chatter_id});
    if (turns == turns_.end()) return p.active == model::ChatterActive::active;
    // As the batch's last turn up to this event left it; before its first, the other way round.
    bool took_part = !turns->second.front().second;
    for (const auto& [seq, after] : turns->second) {
      if (seq > e.seq) break;
      took_part = after;
    }
    return took_part;
  });
  // (A customer removed from its chat is told so, with no customer left in it.)
  if (to.empty() && e.type != "ChatParticipantRemove" && e.type != "ChatParticipantUpdate") return {};
  const std::string chat_id = model::rtm_chat_id(v.chat.id);
  const json last_thread = v.threads.empty() ? json() : json(model::rtm_thread_id(v.threads.back().id));
  auto with_thread = [&](json p) {
    if (v.active() && !last_thread.is_null()) p["thread_id"] = last_thread;
    return p;
  };
  auto incoming_chat = [&](const std::string& requester, std::vector<std::string> recipients) {
    if (v.threads.empty()) return;
    const std::size_t last = v.threads.size() - 1;
    const auto customer = is_customer(v.chat.requester_type) ? store_.find_customer(v.chat.requester_id) : std::nullopt;
    push(std::move(recipients), "incoming_chat",
         {{"requester_id", requester},
          {"chat", chat_with_thread_json(v, last, reader.events(v.chat.id, v.threads[last].id),
                                         customer ? &*customer : nullptr)}});
  };

  // ChatAdd itself pushes nothing: a customer learns of a chat when it joins it (below), in the
  // same transaction for start_chat, later for a chat made from the shell.
  if (e.type == "ChatUpdate") {
    const std::string status = payload.value("status", "");
    const std::string previous = payload.value("previous_status", "");
    if (status == "closed") {
      json p{{"chat_id", chat_id}};
      if (!last_thread.is_null()) p["thread_id"] = last_thread;
      if (participant(v, e.actor)) p["user_id"] = e.actor;
      push(to, "chat_deactivated", p);
    } else if (previous == "closed") {
      incoming_chat(e.actor, to);
    }
  } else if (e.type == "ChatChannelUpdate") {
    json p = with_thread({{"chat_id", chat_id}, {"transferred_to", {{"group_ids", {v.group}}}}});
    p["requester_id"] = e.actor;
    push(to, "chat_transferred", p);
  } else if (e.type == "ChatParticipantAdd" || e.type == "ChatParticipantUpdate" || e.type == "ChatParticipantRemove") {
    const std::string who = payload.value("chatter_id", "");
    const auto* p = participant(v, who);
    if (!p) return {};
    const bool joined = is_join(e.type, payload);
    // "Present if the user was added (removed) by an agent": not for a shell user who is none.
    const auto by_agent = [&](json& push_payload) {
      if (e.actor != who && store_.find_agent(e.actor)) push_payload["requester_id"] = e.actor;
    };
    if (joined) {
      // A customer new to the chat (starting it, added to it, or accepting an invitation) is told
      // of the whole chat; the others, and everyone when someone comes back, of the user added.
      std::vector<std::string> others = to;
      if (is_customer(p->chatter_type) && payload.value("chatter_active_before", 0) == 0) {
        std::erase(others, p->chatter_id);
        incoming_chat(v.chat.requester_id, {p->chatter_id});
      }
      const auto customer = is_customer(p->chatter_type) ? store_.find_customer(p->chatter_id) : std::nullopt;
      json push_payload = with_thread({{"chat_id", chat_id}, {"user", user_json(*p, customer ? &*customer : nullptr)},
                                       {"reason", "manual"}});
      by_agent(push_payload);
      push(std::move(others), "user_added_to_chat", push_payload);
    } else if (is_removal(e.type, payload)) {
      json push_payload = with_thread({{"chat_id", chat_id}, {"user_id", who}, {"reason", "manual"}});
      by_agent(push_payload);
      std::vector<std::string> recipients = to;
      // A customer removed hears of it too (the requester is among them already).
      if (is_customer(p->chatter_type) && std::find(to.begin(), to.end(), p->chatter_id) == to.end()) {
        recipients.push_back(p->chatter_id);
      }
      push(recipients, "user_removed_from_chat", push_payload);
    }
  } else if (e.type == "ChatMessageAdd") {
    const auto m = store_.find_message(payload.value("message_id", std::int64_t{0}));
    if (!m) return {};
    push(to, "incoming_event",
         {{"chat_id", chat_id}, {"thread_id", model::rtm_thread_id(m->thread_id)}, {"event", event_json(*m)}});
  } else if (e.type == "ChatEventUpdate") {
    const auto m = store_.find_message(payload.value("message_id", std::int64_t{0}));
    if (!m || m->audience == model::Audience::agents) return {};
    push(to, "event_updated",
         {{"chat_id", chat_id}, {"thread_id", model::rtm_thread_id(m->thread_id)}, {"event", event_json(*m)}});
  } else if (e.type == "ChatPropertiesUpdate" || e.type == "ChatPropertiesDelete") {
    const std::string scope = payload.value("scope", "chat");
    const bool update = e.type == "ChatPropertiesUpdate";
    json p{{"chat_id", chat_id}, {"properties", payload.value("properties", json::object())}};
    if (scope != "chat") p["thread_id"] = model::rtm_thread_id(payload.value("thread_id", std::int64_t{0}));
    if (scope == "event") {
      p["event_id"] = model::rtm_event_id(payload.value("thread_id", std::int64_t{0}),
                                          payload.value("message_id", std::int64_t{0}));
    }
    push(to, scope + (update ? "_properties_updated" : "_properties_deleted"), p);
  } else if (e.type == "ChatEventsSeen") {
    push(to, "events_marked_as_seen",
         {{"user_id", payload.value("chatter_id", "")},
          {"chat_id", chat_id},
          {"seen_up_to", core::format_rfc3339(payload.value("seen_up_to", std::int64_t{0}))}});
  } else if (e.type == "ChatTyping") {
    const std::string author = payload.value("author_id", "");
    std::vector<std::string> others;
    for (const auto& c : to) {
      if (c != author) others.push_back(c);
    }
    push(others, "incoming_typing_indicator",
         with_thread({{"chat_id", chat_id},
                      {"typing_indicator",
                       {{"author_id", author},
                        {"recipients", "all"},
                        {"timestamp", e.time / 1'000'000},
                        {"is_typing", payload.value("is_typing", false)}}}}));
  } else if (e.type == "ChatPostback") {
    const auto thread = payload.value("thread_id", std::int64_t{0});
    push(to, "incoming_rich_message_postback",
         {{"user_id", payload.value("user_id", "")},
          {"chat_id", chat_id},
          {"thread_id", model::rtm_thread_id(thread)},
          {"event_id", model::rtm_event_id(thread, payload.value("message_id", std::int64_t{0}))},
          {"postback", payload.value("postback", json::object())}});
  }
  return out;
}

}  // namespace chatctl::rtm
