#include "rtm/render.hpp"

#include "core/clock.hpp"
#include "engine/engine.hpp"

namespace chatctl::rtm {

std::optional<model::ChannelId> DefaultChannel::get(store::Store& store) {
  if (!id_) id_ = engine::default_channel_id(store);
  return id_;
}

Reader::Reader(store::Store& store, DefaultChannel& default_channel) : store_(store), default_channel_(default_channel) {}

std::int64_t Reader::group_of(model::ChannelId channel) {
  const auto id = default_channel_.get(store_);
  return id && *id == channel ? 0 : channel;
}

std::optional<model::ChannelId> Reader::channel_of(std::int64_t group) {
  if (group == 0) return default_channel_.get(store_);
  if (group < 0 || !store_.find_channel(group)) return std::nullopt;
  return group;
}

std::optional<ChatView> Reader::chat(model::ChatId id) {
  auto c = store_.find_chat(id);
  if (!c) return std::nullopt;
  ChatView v;
  v.chat = std::move(*c);
  v.threads = store_.list_threads(id);
  v.participants = store_.list_participants(id);
  v.group = group_of(v.chat.channel_id);
  return v;
}

model::ChatterType chatter_type_of(const model::Customer& customer) {
  return customer.kind == model::CustomerKind::public_user ? model::ChatterType::public_user
                                                           : model::ChatterType::customer;
}

std::vector<model::Message> Reader::events(model::ChatId chat, model::ThreadId thread) {
  store::MessageFilter f;
  f.chat_id = chat;
  f.exclude_internal = true;
  auto all = store_.list_messages(f);
  if (thread == 0) return all;
  std::vector<model::Message> out;
  for (auto& m : all) {
    if (m.thread_id == thread) out.push_back(std::move(m));
  }
  return out;
}

nlohmann::json properties_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

nlohmann::json access_json(std::int64_t group) { return {{"group_ids", {group}}}; }

nlohmann::json event_json(const model::Message& m) {
  nlohmann::json j = nlohmann::json::object();
  j["id"] = model::rtm_event_id(m.thread_id, m.id);
  if (!m.custom_id.empty()) j["custom_id"] = m.custom_id;
  j["created_at"] = core::format_rfc3339(m.create_time);
  j["type"] = model::to_string(m.type);
  if (m.type != model::EventType::system_message) j["author_id"] = m.chatter_id;
  if (m.type == model::EventType::message || !m.text.empty()) j["text"] = m.text;
  const auto fields = properties_json(m.payload);
  for (const auto& [k, v] : fields.items()) {
    if (!j.contains(k)) j[k] = v;
  }
  if (m.type == model::EventType::message) j["recipients"] = "all";
  const auto props = properties_json(m.properties);
  if (!props.empty()) j["properties"] = props;
  return j;
}

nlohmann::json customer_json(const model::Customer& c, const model::Participant* p) {
  nlohmann::json j{{"id", c.id}, {"type", "customer"}};
  if (!c.name.empty()) j["name"] = c.name;
  if (!c.email.empty()) j["email"] = c.email;
  const auto profile = properties_json(c.profile);
  if (auto it = profile.find("avatar"); it != profile.end() && it->is_string()) j["avatar"] = *it;
  // "Returned only if set": none set is none returned.
  if (auto it = profile.find("session_fields"); it != profile.end() && it->is_array() && !it->empty()) {
    j["session_fields"] = *it;
  }
  if (p) {
    j["present"] = p->active == model::ChatterActive::active;
    if (p->seen_up_to > 0) j["events_seen_up_to"] = core::format_rfc3339(p->seen_up_to);
  }
  return j;
}

nlohmann::json user_json(const model::Participant& p, const model::Customer* customer) {
  if (p.chatter_type != model::ChatterType::user) {
    if (customer && customer->id == p.chatter_id) return customer_json(*customer, &p);
    nlohmann::json j{{"id", p.chatter_id}, {"type", "customer"}, {"present", p.active == model::ChatterActive::active}};
    if (!p.chatter_name.empty()) j["name"] = p.chatter_name;
    return j;
  }
  nlohmann::json j{{"id", p.chatter_id},
                   {"type", "agent"},
                   {"name", p.chatter_name},
                   {"present", p.active == model::ChatterActive::active}};
  if (p.seen_up_to > 0) j["events_seen_up_to"] = core::format_rfc3339(p.seen_up_to);
  return j;
}

nlohmann::json users_json(const ChatView& view, const model::Customer* customer) {
  nlohmann::json users = nlohmann::json::array();
  for (const auto& p : view.participants) {
    if (p.active == model::ChatterActive::inactive && p.invitation) continue;  // invited agents are not in yet
    users.push_back(user_json(p, customer));
  }
  return users;
}

nlohmann::json thread_json(const ChatView& view, std::size_t index, const std::vector<model::Message>& events) {
  const auto& t = view.threads.at(index);
  nlohmann::json j = nlohmann::json::object();
  j["id"] = model::rtm_thread_id(t.id);
  j["created_at"] = core::format_rfc3339(t.create_time);
  j["active"] = t.active;
  nlohmann::json user_ids = nlohmann::json::array();
  for (const auto& p : view.participants) {
    if (p.active == model::ChatterActive::active) user_ids.push_back(p.chatter_id);
  }
  j["user_ids"] = std::move(user_ids);
  nlohmann::json evs = nlohmann::json::array();
  for (const auto& m : events) evs.push_back(event_json(m));
  j["events"] = std::move(evs);
  j["properties"] = properties_json(t.properties);
  j["access"] = access_json(view.group);
  if (index > 0) j["previous_thread_id"] = model::rtm_thread_id(view.threads[index - 1].id);
  if (index + 1 < view.threads.size()) j["next_thread_id"] = model::rtm_thread_id(view.threads[index + 1].id);
  return j;
}

nlohmann::json chat_with_thread_json(const ChatView& view, std::size_t index, const std::vector<model::Message>& events,
                                     const model::Customer* customer) {
  nlohmann::json j{{"id", model::rtm_chat_id(view.chat.id)}};
  j["users"] = users_json(view, customer);
  j["access"] = access_json(view.group);
  j["properties"] = properties_json(view.chat.properties);
  if (index < view.threads.size()) j["thread"] = thread_json(view, index, events);
  return j;
}

nlohmann::json greeting_json(const model::Greeting& g, const std::optional<model::Agent>& agent, bool first_time) {
  nlohmann::json j{{"id", g.greeting_id},
                   {"unique_id", g.unique_id},
                   {"displayed_first_time", first_time},
                   {"accepted", g.state == model::GreetingState::accepted},
                   {"event", properties_json(g.event)}};
  if (!g.addon.empty()) j["addon"] = g.addon;
  nlohmann::json a{{"id", g.agent_login}, {"type", "agent"}, {"is_bot", false}, {"job_title", "Support Agent"}};
  a["name"] = agent ? agent->name : g.agent_login;
  j["agent"] = a;
  return j;
}

}  // namespace chatctl::rtm
