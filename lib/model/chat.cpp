#include "model/chat.hpp"

namespace chatctl::model {

std::string_view to_string(ChatStatus s) {
  switch (s) {
    case ChatStatus::request: return "request";
    case ChatStatus::active: return "active";
    case ChatStatus::closed: return "closed";
  }
  return "request";
}

std::string_view to_string(ChatterType t) {
  switch (t) {
    case ChatterType::user: return "User";
    case ChatterType::customer: return "Customer";
    case ChatterType::public_user: return "Public";
  }
  return "User";
}

std::string_view to_string(PermissionLevel p) {
  switch (p) {
    case PermissionLevel::none: return "";
    case PermissionLevel::owner: return "Owner";
    case PermissionLevel::participant: return "Participant";
    case PermissionLevel::observer: return "Observer";
  }
  return "";
}

std::string_view to_string(Audience a) {
  switch (a) {
    case Audience::everyone: return "everyone";
    case Audience::agents: return "agents";
    case Audience::customer: return "customer";
  }
  return "everyone";
}

std::optional<ChatStatus> parse_chat_status(std::string_view s) {
  if (s == "request") return ChatStatus::request;
  if (s == "active") return ChatStatus::active;
  if (s == "closed") return ChatStatus::closed;
  return std::nullopt;
}

std::optional<ChatterType> parse_chatter_type(std::string_view s) {
  if (s == "User" || s == "user" || s == "agent") return ChatterType::user;
  if (s == "Customer" || s == "customer") return ChatterType::customer;
  if (s == "Public" || s == "public") return ChatterType::public_user;
  return std::nullopt;
}

std::optional<PermissionLevel> parse_permission_level(std::string_view s) {
  if (s == "Owner") return PermissionLevel::owner;
  if (s == "Participant") return PermissionLevel::participant;
  if (s == "Observer") return PermissionLevel::observer;
  if (s.empty()) return PermissionLevel::none;
  return std::nullopt;
}

}  // namespace chatctl::model
