#include "engine/chats.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/error.hpp"
#include "core/text.hpp"
#include "engine/channels.hpp"
#include "engine/engine.hpp"
#include "engine/validate.hpp"

namespace chatctl::engine {
namespace {

using core::Error;
using core::ErrorKind;
using model::ChatterActive;
using model::ChatterType;
using model::PermissionLevel;

constexpr core::Micros kDay = 86'400'000'000;
constexpr std::size_t kMaxRtmTextBytes = 16 * 1024;

nlohmann::json chat_json(const model::Chat& c) {
  return {{"id", c.id},
          {"status", model::to_string(c.status)},
          {"requester_id", c.requester_id},
          {"requester_name", c.requester_name},
          {"requester_type", model::to_string(c.requester_type)},
          {"target_type", model::to_string(c.target_type)},
          {"channel_id", c.channel_id},
          {"ticket_id", c.ticket_id}};
}

nlohmann::json participant_json(const model::Participant& p) {
  return {{"chatter_id", p.chatter_id},
          {"chatter_name", p.chatter_name},
          {"chatter_type", model::to_string(p.chatter_type)},
          {"chatter_active", static_cast<int>(p.active)},
          {"permission_level", model::to_string(p.permission)},
          {"invitation", p.invitation},
          {"monitoring", static_cast<int>(p.monitoring)}};
}

bool is_customer(ChatterType t) { return t == ChatterType::customer || t == ChatterType::public_user; }

}  // namespace

ChatEngine::ChatEngine(store::Store& store, const core::Settings& settings, const core::Clock& clock,
                       std::string actor)
    : store_(store), settings_(settings), clock_(clock), actor_(std::move(actor)) {}

void ChatEngine::log(std::string_view type, const model::Chat& chat, const std::string& payload) {
  store::EventRecord e;
  e.type = std::string(type);
  e.time = clock_.now();
  e.actor = actor_;
  e.chat_id = chat.id;
  e.channel_id = chat.channel_id;
  e.payload = payload;
  store_.append_event(e);
}

model::MessageId ChatEngine::post(model::Message& m) {
  const auto threads = store_.list_threads(m.chat_id);
  if (threads.empty()) {
    m.thread_id = store_.insert_thread({0, m.chat_id, true, "{}", m.create_time, std::nullopt});
  } else {
    m.thread_id = threads.back().id;
  }
  if (m.system_generated) m.type = model::EventType::system_message;
  if (m.type == model::EventType::system_message && m.payload == "{}") {
    m.payload = R"({"system_message_type":"system_info"})";
  }
  m.id = store_.insert_message(m);
  return m.id;
}

void ChatEngine::touch(model::Chat& chat) {
  chat.change_time = clock_.now();
  store_.update_chat(chat);
}

model::Chat ChatEngine::require_chat(model::ChatId id) {
  auto c = store_.find_chat(id);
  if (!c) throw Error(ErrorKind::not_found, "no chat " + std::to_string(id));
  return *c;
}

model::ChannelId ChatEngine::resolve_channel(std::string_view ref, ChatterType requester) {
  model::Channel channel;
  if (ref.empty()) {
    const auto id = default_channel_id(store_);
    if (!id) throw Error(ErrorKind::not_found, "no default channel: give a channel (or enable ChatEngine::Active)");
    channel = ChannelAdmin(store_, clock_, actor_).get(std::to_string(*id));
  } else {
    channel = ChannelAdmin(store_, clock_, actor_).get(ref);
  }
  if (is_customer(requester)) {
    const bool allowed = requester == ChatterType::customer ? channel.customer_users : channel.public_users;
    if (!channel.usable() || !allowed) {
      throw Error(ErrorKind::data, "channel " + core::quoted(channel.name) + " is not open to " +
                                       (requester == ChatterType::customer ? "customer" : "public") + " users");
    }
  }
  return channel.id;
}

model::Chat ChatEngine::add_chat(const NewChat& n, bool dry_run) {
  if (n.status == model::ChatStatus::closed) throw Error(ErrorKind::data, "a new chat is a request or active");
  if (n.target_type == ChatterType::public_user) throw Error(ErrorKind::data, "the target type is User or Customer");
  check_text("requester id", n.requester_id, {200});
  check_text("requester name", n.requester_name, {200});
  if (n.ticket_id < 0) throw Error(ErrorKind::data, "ticket id must not be negative");
  store::WriteTransaction tx(store_);
  model::Chat c;
  c.status = n.status;
  c.requester_id = n.requester_id;
  c.requester_name = n.requester_name;
  c.requester_type = n.requester_type;
  c.target_type = n.target_type;
  c.channel_id = resolve_channel(n.channel, n.requester_type);
  c.ticket_id = n.ticket_id;
  c.create_time = c.change_time = clock_.now();
  if (dry_run) {  // as it would be read back
    if (const auto ch = store_.find_channel(c.channel_id)) c.channel_name = ch->name;
    return c;
  }
  c.id = store_.insert_chat(c);
  store_.insert_thread({0, c.id, true, "{}", c.create_time, std::nullopt});
  log("ChatAdd", c, chat_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return require_chat(c.id);
}

model::Chat ChatEngine::set_status(model::ChatId id, model::ChatStatus status, bool dry_run) {
  store::WriteTransaction tx(store_);
  model::Chat c = require_chat(id);
  const auto before = c.status;
  if (before == status) return c;  // nothing changes, nothing is logged
  c.status = status;
  if (dry_run) return c;
  // An agent of the chat closing it says so, and when the chat goes (ChatCleanup removes closed
  // chats ChatEngine::ChatTTL hours on), in a system message everyone sees, as OTRS's agents do.
  if (status == model::ChatStatus::closed) {
    const auto agent = store_.find_participant(id, ChatterType::user, actor_);
    const auto ttl = settings_.get_int(core::keys::kChatTTL);
    if (agent && agent->active == ChatterActive::active && ttl > 0) {
      NewMessage closing;
      closing.chatter_id = actor_;
      closing.system_generated = true;
      closing.text = agent->chatter_name + " closed the chat. It will be removed in " + std::to_string(ttl) +
                     (ttl == 1 ? " hour." : " hours.");
      closing.payload = R"({"system_message_type":"manual_archived_agent"})";
      add_message(id, closing, false);
      c = require_chat(id);
      c.status = status;
    }
  }
  touch(c);
  // Closing ends the current RTM thread; re-opening a closed chat starts a new one.
  if (status == model::ChatStatus::closed) {
    for (auto& t : store_.list_threads(id)) {
      if (!t.active) continue;
      t.active = false;
      t.close_time = c.change_time;
      store_.update_thread(t);
    }
  } else if (before == model::ChatStatus::closed) {
    store_.insert_thread({0, id, true, "{}", c.change_time, std::nullopt});
  }
  auto payload = chat_json(c);
  payload["previous_status"] = model::to_string(before);
  log("ChatUpdate", c, payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (before == model::ChatStatus::request) log("ChatRequestUpdate", c, payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return c;
}

model::Chat ChatEngine::chat(model::ChatId id) { return require_chat(id); }

std::vector<model::Chat> ChatEngine::chats(const ChatQuery& q) {
  store::ChatFilter f = q.filter;
  if ((f.chatter_id.has_value() != f.chatter_type.has_value()) || ((f.chatter_active || f.invitation_pending) && !f.chatter_id)) {
    throw Error(ErrorKind::usage, "filtering by participant needs both a chatter id and a chatter type");
  }
  if (q.outdated) {
    const auto days = settings_.get_int(core::keys::kChatDecayTime);
    if (days <= 0) throw Error(ErrorKind::config, "ChatEngine::ChatDecayTime must be at least 1 day to find outdated chats");
    f.changed_before = clock_.now() - days * kDay;
  }
  auto out = store_.list_chats(f);
  if (q.mask_agent_name) {
    for (auto& c : out) {
      if (c.requester_type == ChatterType::user) c.requester_name = masked_name(c.id, c.requester_name);
    }
  }
  return out;
}

void ChatEngine::delete_chat(model::ChatId id, bool dry_run) {
  store::WriteTransaction tx(store_);
  const model::Chat c = require_chat(id);
  if (dry_run) return;
  store_.delete_chat(id);
  log("ChatDelete", c, chat_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
}

model::Chat ChatEngine::move_chat(model::ChatId id, std::string_view channel, bool dry_run) {
  store::WriteTransaction tx(store_);
  model::Chat c = require_chat(id);
  const auto from = c.channel_id;
  c.channel_id = resolve_channel(channel, c.requester_type);
  if (c.channel_id == from) return c;
  if (dry_run) {  // as it would be read back
    if (const auto ch = store_.find_channel(c.channel_id)) c.channel_name = ch->name;
    return c;
  }
  touch(c);
  auto payload = chat_json(c);
  payload["previous_channel_id"] = from;
  log("ChatChannelUpdate", c, payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return require_chat(id);
}

std::optional<std::string> ChatEngine::customer_id(model::ChatId id) {
  const model::Chat c = require_chat(id);
  if (is_customer(c.requester_type)) return c.requester_id;
  for (const auto& p : store_.list_participants(id)) {
    if (is_customer(p.chatter_type)) return p.chatter_id;
  }
  return std::nullopt;
}

PermissionLevel ChatEngine::permission_level(model::ChatId id, std::string_view user) {
  require_chat(id);
  const auto p = store_.find_participant(id, ChatterType::user, user);
  if (!p || p->active != ChatterActive::active) return PermissionLevel::none;
  return p->permission;
}

model::Participant ChatEngine::add_participant(model::ChatId id, const ParticipantSpec& s, bool dry_run) {
  check_text("chatter id", s.chatter_id, {200});
  check_text("chatter name", s.chatter_name, {200});
  if (s.chatter_type == ChatterType::user && s.permission == PermissionLevel::none) {
    throw Error(ErrorKind::data, "an agent participant needs a permission level: Owner, Participant or Observer");
  }
  if (s.active == ChatterActive::left) throw Error(ErrorKind::data, "a participant is added as active or invited");
  store::WriteTransaction tx(store_);
  model::Chat c = require_chat(id);
  model::Participant p;
  const auto existing = store_.find_participant(id, s.chatter_type, s.chatter_id);
  if (existing) p = *existing;
  p.chat_id = id;
  p.chatter_id = s.chatter_id;
  p.chatter_name = s.chatter_name;
  p.chatter_type = s.chatter_type;
  p.active = s.active;
  p.invitation = s.invitation;
  p.monitoring = s.monitoring;
  p.permission = s.chatter_type == ChatterType::user ? s.permission : PermissionLevel::none;
  if (!existing) p.create_time = clock_.now();
  if (dry_run) return p;
  if (existing) {
    store_.update_participant(p);
  } else {
    p.id = store_.insert_participant(p);
  }
  touch(c);  // who takes part is a change of the chat (it is not outdated)
  // One added again (after leaving, or while invited) is told apart from one new to the chat.
  nlohmann::json added = participant_json(p);
  if (existing) added["chatter_active_before"] = static_cast<int>(existing->active);
  const std::string payload = added.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  log("ChatParticipantAdd", c, payload);
  if (p.active == ChatterActive::inactive) {
    log(s.chatter_type == ChatterType::user ? "ChatRequestUser" : "ChatRequestCustomer", c, payload);
  }
  tx.commit();
  return p;
}

model::Participant ChatEngine::update_participant(model::ChatId id, ChatterType type, std::string_view chatter_id,
                                                  const ParticipantChange& change, bool dry_run) {
  store::WriteTransaction tx(store_);
  model::Chat c = require_chat(id);
  auto p = store_.find_participant(id, type, chatter_id);
  if (!p) throw Error(ErrorKind::not_found, "no participant " + core::quoted(chatter_id) + " in chat " + std::to_string(id));
  const ChatterActive was_active = p->active;
  if (change.active) p->active = *change.active;
  if (change.monitoring) p->monitoring = *change.monitoring;
  if (change.permission) {
    if (type != ChatterType::user && *change.permission != PermissionLevel::none) {
      throw Error(ErrorKind::data, "only agents have permission levels");
    }
    if (type == ChatterType::user && *change.permission == PermissionLevel::none) {
      throw Error(ErrorKind::data, "an agent participant needs a permission level");
    }
    p->permission = *change.permission;
  }
  // Accepting an invitation settles it.
  const bool accepted = change.active == ChatterActive::active && p->invitation;
  if (accepted) p->invitation = false;
  if (dry_run) return *p;
  store_.update_participant(*p);
  if (accepted) store_.delete_invites(chatter_id, id, std::nullopt);
  touch(c);
  // Who joins (an invited agent accepting) is told apart from who only changes.
  nlohmann::json payload = participant_json(*p);
  if (p->active != was_active) payload["chatter_active_before"] = static_cast<int>(was_active);
  log("ChatParticipantUpdate", c, payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return *p;
}

model::Participant ChatEngine::set_agent_permission(model::ChatId id, std::string_view agent, PermissionLevel level,
                                                    const std::optional<std::string>& by, bool dry_run) {
  if (level != PermissionLevel::participant && level != PermissionLevel::observer) {
    throw Error(ErrorKind::data, "an agent's permission can only be changed to Participant or Observer");
  }
  if (by) {
    const auto actor = permission_level(id, *by);
    if (actor != PermissionLevel::owner) {
      throw Error(ErrorKind::permission, core::quoted(*by) + " is " +
                                             (actor == PermissionLevel::none ? std::string("not an active participant")
                                                                             : std::string(model::to_string(actor))) +
                                             " in chat " + std::to_string(id) + "; only its Owner may change permissions");
    }
  }
  if (const auto target = store_.find_participant(id, ChatterType::user, agent);
      target && target->permission == PermissionLevel::owner) {
    throw Error(ErrorKind::data, "the Owner's permission cannot be changed");
  }
  ParticipantChange change;
  change.permission = level;
  return update_participant(id, ChatterType::user, agent, change, dry_run);
}

model::Participant ChatEngine::remove_participant(model::ChatId id, ChatterType type, std::string_view chatter_id,
                                                  bool dry_run) {
  store::WriteTransaction tx(store_);
  model::Chat c = require_chat(id);
  auto p = store_.find_participant(id, type, chatter_id);
  if (!p) throw Error(ErrorKind::not_found, "no participant " + core::quoted(chatter_id) + " in chat " + std::to_string(id));
  const ChatterActive was_active = p->active;
  p->active = ChatterActive::left;
  if (dry_run) return *p;
  store_.update_participant(*p);
  touch(c);
  // Whether the one removed took part until now (chatd's pushes of the events before it).
  nlohmann::json payload = participant_json(*p);
  payload["chatter_active_before"] = static_cast<int>(was_active);
  log("ChatParticipantRemove", c, payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return *p;
}

std::size_t ChatEngine::remove_all_participants(model::ChatId id, bool dry_run) {
  store::WriteTransaction tx(store_);
  model::Chat c = require_chat(id);
  if (dry_run) return store_.list_participants(id).size();
  const auto n = store_.delete_participants(id);
  touch(c);
  log("ChatParticipantRemove", c, nlohmann::json{{"all", true}, {"removed", n}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return n;
}

std::vector<model::Participant> ChatEngine::participants(model::ChatId id) {
  require_chat(id);
  return store_.list_participants(id);
}

std::optional<model::Participant> ChatEngine::check_participant(model::ChatId id, ChatterType type,
                                                                std::string_view chatter_id, bool include_inactive) {
  require_chat(id);
  auto p = store_.find_participant(id, type, chatter_id);
  if (!p || p->active == ChatterActive::left) return std::nullopt;
  if (!include_inactive && p->active != ChatterActive::active) return std::nullopt;
  return p;
}

std::size_t ChatEngine::contributors(model::ChatId id) {
  const auto all = participants(id);
  return static_cast<std::size_t>(std::count_if(all.begin(), all.end(), [](const auto& p) {
    return p.chatter_type == ChatterType::user && p.active == ChatterActive::active &&
           p.permission != PermissionLevel::observer;
  }));
}

bool ChatEngine::customer_present(model::ChatId id, bool active_only) {
  const auto all = participants(id);
  return std::any_of(all.begin(), all.end(), [&](const auto& p) {
    return is_customer(p.chatter_type) && (active_only ? p.active == ChatterActive::active : p.active != ChatterActive::left);
  });
}

std::size_t ChatEngine::participant_number(model::ChatId id, std::string_view chatter_name) {
  std::size_t n = 0;
  for (const auto& p : participants(id)) {
    if (p.chatter_type != ChatterType::user) continue;
    ++n;
    if (p.chatter_name == chatter_name) return n;
  }
  throw Error(ErrorKind::not_found, "no agent named " + core::quoted(chatter_name) + " in chat " + std::to_string(id));
}

bool ChatEngine::agent_to_agent(model::ChatId id) {
  const model::Chat c = require_chat(id);
  return c.requester_type == ChatterType::user && c.target_type == ChatterType::user;
}

std::string ChatEngine::masked_name(model::ChatId chat, const std::string& name) {
  std::string masked = settings_.get_string(core::keys::kDefaultAgentName);
  if (settings_.get_bool(core::keys::kDefaultAgentNameNumbers)) {
    std::size_t n = 0;
    for (const auto& p : store_.list_participants(chat)) {
      if (p.chatter_type != ChatterType::user) continue;
      ++n;
      if (p.chatter_name == name) return masked + " " + std::to_string(n);
    }
  }
  return masked;
}

model::Message ChatEngine::add_message(model::ChatId id, const NewMessage& n, bool dry_run) {
  const auto len = core::utf8_length(n.text);
  if (!len) throw Error(ErrorKind::data, "the message is not valid UTF-8");
  const bool text_required = n.type == model::EventType::message;
  if (text_required && core::trim(n.text).empty()) throw Error(ErrorKind::data, "the message is empty");
  if (n.text.find('\0') != std::string::npos) throw Error(ErrorKind::data, "the message contains a NUL character");
  if (is_customer(n.chatter_type) && n.audience == model::Audience::agents) {
    throw Error(ErrorKind::data, "a customer cannot post an internal (agents only) message");
  }
  if (n.rtm_limits) {
    if (n.text.size() > kMaxRtmTextBytes) {
      throw Error(ErrorKind::data, "the text is " + std::to_string(n.text.size()) + " bytes long; at most " +
                                       std::to_string(kMaxRtmTextBytes) + " allowed");
    }
  } else if (*len > model::kMaxMessageLength) {
    throw Error(ErrorKind::data, "the message is " + std::to_string(*len) + " characters long; at most " +
                                     std::to_string(model::kMaxMessageLength) + " allowed");
  }
  for (const auto* json : {&n.properties, &n.payload}) {
    if (json->empty() || json->front() != '{' || !nlohmann::json::accept(*json)) {
      throw Error(ErrorKind::data, "event fields must be a JSON object");
    }
  }
  store::WriteTransaction tx(store_);
  model::Chat c = require_chat(id);
  const auto sender = store_.find_participant(id, n.chatter_type, n.chatter_id);
  if (!sender || sender->active != ChatterActive::active) {
    throw Error(ErrorKind::permission, core::quoted(n.chatter_id) + " is not an active participant of chat " +
                                           std::to_string(id) + " and cannot post to it");
  }
  model::Message m;
  m.chat_id = id;
  m.participant_id = sender->id;
  m.chatter_id = sender->chatter_id;
  m.chatter_name = sender->chatter_name;
  m.chatter_type = sender->chatter_type;
  m.text = n.text;
  m.system_generated = n.system_generated;
  m.audience = n.audience;
  m.create_time = clock_.now();
  m.type = n.type;
  m.custom_id = n.custom_id;
  m.properties = n.properties;
  m.payload = n.payload;
  if (dry_run) return m;
  m.id = post(m);
  if (n.seen_by_sender && m.create_time > sender->seen_up_to) {
    auto seen = *sender;
    seen.seen_up_to = m.create_time;
    store_.update_participant(seen);
  }
  // Monitoring agents learn of the update: 2 every message, 1 customer messages only. The sender,
  // observers and inactive agents are skipped.
  for (const auto& p : store_.list_participants(id)) {
    if (p.chatter_type != ChatterType::user || p.id == sender->id || p.active != ChatterActive::active ||
        p.permission == PermissionLevel::observer || p.monitoring == model::Monitoring::none) {
      continue;
    }
    if (p.monitoring == model::Monitoring::customer && !is_customer(sender->chatter_type)) continue;
    store_.set_flag({id, "NotificationChatUpdateSeen", "0", p.chatter_id, m.create_time});
  }
  touch(c);
  nlohmann::json payload{{"message_id", m.id},
                         {"thread_id", m.thread_id},
                         {"chatter_id", m.chatter_id},
                         {"chatter_type", model::to_string(m.chatter_type)},
                         {"audience", model::to_string(m.audience)},
                         {"system_generated", m.system_generated},
                         {"event_type", model::to_string(m.type)},
                         {"text", m.text}};
  if (n.initial) payload["initial"] = true;
  if (n.seen_by_sender) payload["seen_by_sender"] = true;
  log("ChatMessageAdd", c, payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return m;
}

model::Message ChatEngine::message(model::MessageId id) {
  auto m = store_.find_message(id);
  if (!m) throw Error(ErrorKind::not_found, "no message " + std::to_string(id));
  return *m;
}

std::vector<model::Message> ChatEngine::messages(model::ChatId id, const MessageQuery& q) {
  require_chat(id);
  store::MessageFilter f = q.filter;
  f.chat_id = id;
  if (f.first && f.last) throw Error(ErrorKind::usage, "ask for the first or the last message, not both");
  if (f.first || f.last) f.text_only = true;  // FirstMessage/LastMessage mean text messages
  auto out = store_.list_messages(f);
  if (q.mask_agent_name) {
    for (auto& m : out) {
      if (m.chatter_type == ChatterType::user) m.chatter_name = masked_name(id, m.chatter_name);
    }
  }
  return out;
}

model::Invite ChatEngine::invite(model::ChatId id, std::string_view invitee, std::string_view inviter,
                                 model::ChatId invitation_chat, bool dry_run) {
  if (invitee == inviter) throw Error(ErrorKind::data, "an agent cannot invite itself");
  store::WriteTransaction tx(store_);
  const model::Chat c = require_chat(id);
  const auto agent = core::utf8_length(invitee) ? store_.find_agent(invitee) : std::nullopt;
  if (!agent) throw Error(ErrorKind::not_found, "no agent with login " + core::quoted(invitee));
  if (permission_level(id, inviter) == PermissionLevel::none) {
    throw Error(ErrorKind::permission, core::quoted(inviter) + " is not an active participant of chat " +
                                           std::to_string(id) + " and cannot invite to it");
  }
  if (invitation_chat != 0) require_chat(invitation_chat);
  const auto existing = store_.find_participant(id, ChatterType::user, invitee);
  if (existing && existing->active == ChatterActive::active) {
    throw Error(ErrorKind::data, core::quoted(invitee) + " already takes part in chat " + std::to_string(id));
  }
  model::Invite inv{0, id, std::string(invitee), std::string(inviter), invitation_chat, clock_.now()};
  if (dry_run) return inv;
  store_.insert_invite(inv);
  model::Participant p = existing.value_or(model::Participant{});
  p.chat_id = id;
  p.chatter_id = agent->login;
  p.chatter_name = agent->name;
  p.chatter_type = ChatterType::user;
  p.active = ChatterActive::inactive;
  p.invitation = true;
  p.permission = PermissionLevel::participant;
  if (existing) {
    store_.update_participant(p);
  } else {
    p.create_time = inv.create_time;
    p.id = store_.insert_participant(p);
  }
  const std::string payload =
      nlohmann::json{{"invitee", inv.chatter_id}, {"inviter", inv.inviter_id}, {"invitation_chat_id", invitation_chat}}
          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  log("ChatInvite", c, payload);
  log("ChatRequestUser", c, participant_json(p).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return store_.list_invites(invitee, id, std::nullopt).front();
}

std::vector<model::Invite> ChatEngine::invites(std::string_view user, std::optional<model::ChatId> chat,
                                               std::optional<model::ChatId> invitation_chat) {
  if (chat && invitation_chat) throw Error(ErrorKind::usage, "give the chat or the invitation chat, not both");
  if (!core::utf8_length(user)) return {};
  return store_.list_invites(user, chat, invitation_chat);
}

void ChatEngine::decline(model::ChatId id, std::string_view user, const std::string& message, bool dry_run) {
  const auto len = core::utf8_length(message);
  if (!len || *len == 0 || *len > model::kMaxMessageLength) {
    throw Error(ErrorKind::data, "the decline message must be 1 to 3800 characters of valid UTF-8");
  }
  store::WriteTransaction tx(store_);
  const model::Chat c = require_chat(id);
  auto p = store_.find_participant(id, ChatterType::user, user);
  if (!p) throw Error(ErrorKind::not_found, "no participant " + core::quoted(user) + " in chat " + std::to_string(id));
  if (p->active != ChatterActive::inactive || !p->invitation) {
    throw Error(ErrorKind::data, core::quoted(user) + " can only decline while an invitation is pending");
  }
  if (dry_run) return;
  model::Message m;
  m.chat_id = id;
  m.participant_id = p->id;
  m.text = message;
  m.system_generated = true;
  m.audience = model::Audience::agents;
  m.create_time = clock_.now();
  post(m);
  p->active = ChatterActive::left;
  p->invitation = false;
  store_.update_participant(*p);
  store_.delete_invites(user, id, std::nullopt);
  log("ChatDecline", c, participant_json(*p).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
}

std::size_t ChatEngine::remove_invite(std::string_view user, std::optional<model::ChatId> chat,
                                      std::optional<model::ChatId> invitation_chat, bool dry_run) {
  if (chat.has_value() == invitation_chat.has_value()) {
    throw Error(ErrorKind::usage, "give either the chat or the invitation chat");
  }
  store::WriteTransaction tx(store_);
  const auto found = invites(user, chat, invitation_chat);
  if (dry_run || found.empty()) return found.size();
  const auto n = store_.delete_invites(user, chat, invitation_chat);
  for (const auto& inv : found) {
    log("ChatInviteRemove", require_chat(inv.chat_id),
        nlohmann::json{{"invitee", inv.chatter_id}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  tx.commit();
  return n;
}

model::Flag ChatEngine::set_flag(model::ChatId id, std::string_view key, std::string_view value, std::string_view user,
                                 bool dry_run) {
  check_text("flag key", std::string(key), {200});
  check_text("user", std::string(user), {200});
  if (!core::utf8_length(value)) throw Error(ErrorKind::data, "flag value is not valid UTF-8");
  store::WriteTransaction tx(store_);
  const model::Chat c = require_chat(id);
  model::Flag f{id, std::string(key), std::string(value), std::string(user), clock_.now()};
  if (dry_run) return f;
  store_.set_flag(f);
  log("ChatFlagSet", c, nlohmann::json{{"key", f.key}, {"value", f.value}, {"user", f.user}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return f;
}

std::size_t ChatEngine::delete_flag(model::ChatId id, std::string_view key, const std::optional<std::string>& user,
                                    bool dry_run) {
  store::WriteTransaction tx(store_);
  const model::Chat c = require_chat(id);
  if (dry_run) {
    store::FlagFilter f;
    f.chat_id = id;
    f.key = std::string(key);
    f.user = user;
    return store_.list_flags(f).size();
  }
  const auto n = store_.delete_flags(id, key, user);
  if (n > 0) {
    nlohmann::json payload{{"key", key}, {"removed", n}};
    payload["user"] = user ? nlohmann::json(*user) : nlohmann::json(nullptr);
    log("ChatFlagDelete", c, payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  tx.commit();
  return n;
}

std::vector<model::Flag> ChatEngine::flags(const store::FlagFilter& f) {
  if (!f.chat_id && !f.key && !f.key_not && !f.user && !f.value && !f.value_not) {
    throw Error(ErrorKind::usage, "give at least one flag filter: chat, key, key-not, user, value or value-not");
  }
  return store_.list_flags(f);
}

}  // namespace chatctl::engine
