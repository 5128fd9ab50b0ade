// ChatEngine's RTM side: properties, seen marks, event updates and signals.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/error.hpp"
#include "core/text.hpp"
#include "engine/chats.hpp"

namespace chatctl::engine {
namespace {

using core::Error;
using core::ErrorKind;

constexpr std::size_t kMaxPropertiesBytes = 64 * 1024;

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

nlohmann::json parse_object(const std::string& text, const char* what) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) throw Error(ErrorKind::data, std::string(what) + " must be a JSON object");
  return j;
}

// Applies a properties change to `current`: sets {ns: {name: value}}, or deletes {ns: [names]}.
std::string apply(const std::string& current, const nlohmann::json& change, bool remove) {
  auto props = nlohmann::json::parse(current, nullptr, false);
  if (!props.is_object()) props = nlohmann::json::object();
  for (const auto& [ns, members] : change.items()) {
    if (ns.empty()) throw Error(ErrorKind::data, "a properties namespace must not be empty");
    if (remove) {
      if (!members.is_array()) throw Error(ErrorKind::data, "properties to delete are {namespace: [name, ...]}");
      for (const auto& name : members) {
        if (!name.is_string()) throw Error(ErrorKind::data, "property names are strings");
        if (props.contains(ns)) props[ns].erase(name.get<std::string>());
      }
      if (props.contains(ns) && props[ns].empty()) props.erase(ns);
    } else {
      if (!members.is_object()) throw Error(ErrorKind::data, "properties to set are {namespace: {name: value}}");
      for (const auto& [name, value] : members.items()) {
        if (name.empty()) throw Error(ErrorKind::data, "a property name must not be empty");
        props[ns][name] = value;
      }
    }
  }
  std::string out = dump(props);
  if (out.size() > kMaxPropertiesBytes) throw Error(ErrorKind::data, "properties would exceed 64 KiB");
  return out;
}

}  // namespace

void ChatEngine::update_properties(const PropertyTarget& target, const std::string& change_text, bool remove,
                                   bool initial) {
  const auto change = parse_object(change_text, "properties");
  if (change.empty()) throw Error(ErrorKind::data, "no properties given");
  store::WriteTransaction tx(store_);
  model::Chat c = require_chat(target.chat);
  std::string scope = "chat";
  if (target.message != 0) {
    scope = "event";
    auto m = store_.find_message(target.message);
    if (!m || m->chat_id != c.id || (target.thread != 0 && m->thread_id != target.thread)) {
      throw Error(ErrorKind::not_found, "no such event in chat " + std::to_string(c.id));
    }
    m->properties = apply(m->properties, change, remove);
    store_.update_message(*m);
  } else if (target.thread != 0) {
    scope = "thread";
    auto threads = store_.list_threads(c.id);
    auto t = std::find_if(threads.begin(), threads.end(), [&](const auto& th) { return th.id == target.thread; });
    if (t == threads.end()) throw Error(ErrorKind::not_found, "no such thread in chat " + std::to_string(c.id));
    t->properties = apply(t->properties, change, remove);
    store_.update_thread(*t);
  } else {
    c.properties = apply(c.properties, change, remove);
  }
  touch(c);
  nlohmann::json payload{{"scope", scope}, {"thread_id", target.thread}, {"message_id", target.message}, {"properties", change}};
  if (initial) payload["initial"] = true;
  log(remove ? "ChatPropertiesDelete" : "ChatPropertiesUpdate", c, dump(payload));
  tx.commit();
}

void ChatEngine::mark_seen(model::ChatId id, model::ChatterType type, std::string_view chatter_id, core::Micros up_to) {
  store::WriteTransaction tx(store_);
  const model::Chat c = require_chat(id);
  auto p = store_.find_participant(id, type, chatter_id);
  if (!p || p->active == model::ChatterActive::left) {
    throw Error(ErrorKind::not_found, "no participant " + core::quoted(chatter_id) + " in chat " + std::to_string(id));
  }
  if (up_to <= p->seen_up_to) return;  // never backwards; nothing to tell anyone
  p->seen_up_to = up_to;
  store_.update_participant(*p);
  log("ChatEventsSeen", c,
      dump({{"chatter_id", p->chatter_id}, {"chatter_type", model::to_string(p->chatter_type)}, {"seen_up_to", up_to}}));
  tx.commit();
}

void ChatEngine::update_event(const model::Message& m) {
  parse_object(m.payload, "event fields");
  parse_object(m.properties, "event properties");
  store::WriteTransaction tx(store_);
  const model::Chat c = require_chat(m.chat_id);
  store_.update_message(m);
  log("ChatEventUpdate", c, dump({{"message_id", m.id}, {"thread_id", m.thread_id}}));
  tx.commit();
}

void ChatEngine::signal(model::ChatId id, std::string_view type, const std::string& payload) {
  if (type != "ChatTyping" && type != "ChatSneakPeek" && type != "ChatPostback") {
    throw Error(ErrorKind::internal, "unknown chat signal " + std::string(type));
  }
  parse_object(payload, "a signal");
  store::WriteTransaction tx(store_);
  const model::Chat c = require_chat(id);
  log(type, c, payload);
  tx.commit();
}

void ChatEngine::typing(model::ChatId id, std::string_view agent, bool is_typing) {
  if (permission_level(id, agent) == model::PermissionLevel::none) {
    throw Error(ErrorKind::permission, core::quoted(agent) + " is not an active participant of chat " + std::to_string(id));
  }
  signal(id, "ChatTyping", dump({{"author_id", agent}, {"is_typing", is_typing}}));
}

}  // namespace chatctl::engine
