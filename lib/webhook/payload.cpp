#include "webhook/payload.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <type_traits>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace chatctl::webhook {
namespace {

using Json = nlohmann::ordered_json;

// A payload's member as chatctl writes it, else `fallback`: a member of another type (an event
// another tool wrote) must not keep the deliverer from every later event.
template <class T>
T member(const Json& payload, const char* key, T fallback) {
  const auto it = payload.find(key);
  if (it == payload.end()) return fallback;
  if constexpr (std::is_same_v<T, std::string>) {
    return it->is_string() ? it->template get<std::string>() : fallback;
  } else {
    return it->is_number_integer() ? it->template get<T>() : fallback;
  }
}

// SuperOffice's chat session statuses as chatctl maps its own: request 1, active 2, closed 3.
int session_status(std::string_view status) {
  if (status == "request") return 1;
  if (status == "active") return 2;
  if (status == "closed") return 3;
  return 0;
}

std::int64_t agent_number(store::Store& store, const std::string& login) {
  if (login.empty()) return 0;
  const auto agent = store.find_agent(login);
  return agent ? agent->id : 0;
}

// The agent a chat is with: its active Owner, else its first active agent.
std::string chat_user(store::Store& store, model::ChatId chat) {
  std::string first;
  for (const auto& p : store.list_participants(chat)) {
    if (p.chatter_type != model::ChatterType::user || p.active != model::ChatterActive::active) continue;
    if (p.permission == model::PermissionLevel::owner) return p.chatter_id;
    if (first.empty()) first = p.chatter_id;
  }
  return first;
}

Json field_values(store::Store& store, const store::EventRecord& e, GoneChats* gone) {
  std::string customer;
  std::string status;
  std::int64_t ticket = 0;
  std::int64_t topic = e.channel_id.value_or(0);
  std::string user;
  const auto chat = e.chat_id ? store.find_chat(*e.chat_id) : std::nullopt;
  if (chat) {
    if (chat->requester_type != model::ChatterType::user) customer = chat->requester_id;
    status = model::to_string(chat->status);
    ticket = chat->ticket_id;
    topic = chat->channel_id;
    user = chat_user(store, chat->id);
  } else if (e.chat_id) {
    // The chat is gone (deleted since): as the log last recorded it up to this event, in its own
    // payload (ChatAdd, ChatUpdate, ChatChannelUpdate carry the chat) or an earlier one's, read
    // once per chat (the log has no index by chat).
    auto p = Json::parse(e.payload, nullptr, false);
    const bool carries_chat = p.is_object() && p.contains("status");
    const auto known = gone ? gone->find(*e.chat_id) : GoneChats::iterator{};
    if (carries_chat) {
      if (gone) (*gone)[*e.chat_id] = e.payload;
    } else if (gone && known != gone->end()) {
      p = Json::parse(known->second, nullptr, false);
    } else {
      std::string last;
      store::EventFilter f;
      f.chat_id = e.chat_id;
      f.limit = 100000;
      for (const auto& earlier : store.list_events(f)) {
        if (earlier.seq >= e.seq) break;
        if (earlier.type == "ChatAdd" || earlier.type == "ChatUpdate" || earlier.type == "ChatChannelUpdate") {
          last = earlier.payload;
        }
      }
      p = Json::parse(last, nullptr, false);
      if (gone) (*gone)[*e.chat_id] = last;
    }
    if (p.is_object()) {
      if (member(p, "requester_type", std::string()) != "User") customer = member(p, "requester_id", std::string());
      status = member(p, "status", std::string());
      ticket = member(p, "ticket_id", std::int64_t{0});
    }
  }
  Json f;
  f["AlertLevel"] = 0;
  f["ChatbotIsactive"] = false;
  f["Consented"] = false;
  f["ContactId"] = customer;
  f["CustomerAlias"] = 0;
  f["CustomerId"] = customer;
  f["ProjectId"] = 0;
  f["Rating"] = 0;
  f["SaleId"] = 0;
  f["Status"] = session_status(status);
  f["TicketId"] = ticket;
  f["TopicId"] = topic;
  f["UserId"] = agent_number(store, user);
  return f;
}

Json changes(std::string_view event_log_type, std::string_view webhook_event) {
  if (webhook_event == model::kChatSessionMessage) {
    return Json::array({"chatSession.topicId", "chatSession.userId", "chatSession.customerId",
                        "chatSession.customerName", "chatSession.customerEmail", "chatSession.companyName",
                        "chatSession.customerPhone", "chatMessage.sessionId", "chatMessage.id", "chatMessage.message",
                        "chatMessage.type", "chatMessage.specialType", "chatMessage.specialParam",
                        "chatMessage.author"});
  }
  if (event_log_type == "ChatUpdate") return Json::array({"chatSession.status"});
  if (event_log_type == "ChatChannelUpdate") return Json::array({"chatSession.topicId"});
  if (event_log_type.substr(0, 15) == "ChatParticipant") return Json::array({"chatSession.userId"});
  return Json::array();
}

}  // namespace

std::optional<std::string_view> webhook_event_for(std::string_view type) {
  if (type == "ChatAdd") return model::kChatSessionCreated;
  if (type == "ChatMessageAdd") return model::kChatSessionMessage;
  if (type == "ChatUpdate" || type == "ChatChannelUpdate" || type == "ChatParticipantAdd" ||
      type == "ChatParticipantUpdate" || type == "ChatParticipantRemove") {
    return model::kChatSessionChanged;
  }
  return std::nullopt;
}

std::string delivery_body(store::Store& store, const store::EventRecord& e, std::string_view webhook_event,
                          const std::string& event_id, const std::string& webhook_name, GoneChats* gone) {
  Json j;
  j["EventId"] = event_id;
  j["Timestamp"] = core::format_rfc3339(e.time);
  j["Changes"] = changes(e.type, webhook_event);
  j["Event"] = webhook_event;
  j["PrimaryKey"] = e.chat_id.value_or(0);
  j["Entity"] = "chatsession";
  j["ContextIdentifier"] = "Default";
  // Who caused it: a message's author when an agent (whoever ran the command), else the actor.
  std::string cause = e.actor;
  if (e.type == "ChatMessageAdd") {
    const auto p = Json::parse(e.payload, nullptr, false);
    if (p.is_object() && member(p, "chatter_type", std::string()) == "User") cause = member(p, "chatter_id", e.actor);
  }
  j["ChangedByAssociateId"] = agent_number(store, cause);
  j["WebhookName"] = webhook_name;
  j["FieldValues"] = field_values(store, e, gone);
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string test_body(const std::string& event_id, const std::string& webhook_name, core::Micros now) {
  Json j;
  j["EventId"] = event_id;
  j["Timestamp"] = core::format_rfc3339(now);
  j["Changes"] = Json::array();
  j["Event"] = "test";
  j["PrimaryKey"] = 0;
  j["Entity"] = "chatsession";
  j["ContextIdentifier"] = "Default";
  j["ChangedByAssociateId"] = 0;
  j["WebhookName"] = webhook_name;
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string signature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &mac_len)) {
    throw core::Error(core::ErrorKind::internal, "HMAC-SHA256 failed");
  }
  std::string out(4 * ((mac_len + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), mac, static_cast<int>(mac_len));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace chatctl::webhook
