#include "model/chat.hpp"

#include <iterator>

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

namespace {

constexpr std::string_view kEventTypes[] = {"message", "system_message", "file", "filled_form", "rich_message", "custom"};
constexpr std::size_t kRtmDigits = 9;
constexpr char kBase36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

std::string rtm_id(char prefix, std::int64_t id) {
  std::string digits(kRtmDigits, '0');
  auto v = static_cast<std::uint64_t>(id);
  for (std::size_t i = kRtmDigits; i-- > 0 && v > 0; v /= 36) digits[i] = kBase36[v % 36];
  // Ids beyond 36^9 (about 10^14) need more digits; the id stays unambiguous.
  std::string more;
  for (; v > 0; v /= 36) more.insert(more.begin(), kBase36[v % 36]);
  return prefix + more + digits;
}

std::optional<std::int64_t> parse_rtm_id(char prefix, std::string_view s) {
  if (s.size() < kRtmDigits + 1 || s.size() > 13 || s.front() != prefix) return std::nullopt;
  std::int64_t v = 0;
  for (const char c : s.substr(1)) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'A' && c <= 'Z') d = c - 'A' + 10;
    if (d < 0) return std::nullopt;
    v = v * 36 + d;
  }
  if (v <= 0 || rtm_id(prefix, v) != s) return std::nullopt;  // one spelling per id
  return v;
}

}  // namespace

std::string_view to_string(EventType t) { return kEventTypes[static_cast<int>(t)]; }

std::optional<EventType> parse_event_type(std::string_view s) {
  for (std::size_t i = 0; i < std::size(kEventTypes); ++i) {
    if (kEventTypes[i] == s) return static_cast<EventType>(i);
  }
  return std::nullopt;
}

std::string rtm_chat_id(ChatId id) { return rtm_id('C', id); }
std::string rtm_thread_id(ThreadId id) { return rtm_id('T', id); }
std::string rtm_event_id(ThreadId thread, MessageId message) {
  return rtm_thread_id(thread) + "_" + std::to_string(message);
}
std::optional<ChatId> parse_rtm_chat_id(std::string_view s) { return parse_rtm_id('C', s); }
std::optional<ThreadId> parse_rtm_thread_id(std::string_view s) { return parse_rtm_id('T', s); }

std::optional<MessageId> parse_rtm_event_id(std::string_view s, ThreadId thread) {
  const std::string prefix = rtm_thread_id(thread) + "_";
  if (s.substr(0, prefix.size()) != prefix) return std::nullopt;
  const auto rest = s.substr(prefix.size());
  if (rest.empty() || rest.size() > 18 || rest.front() == '0') return std::nullopt;
  MessageId v = 0;
  for (const char c : rest) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace chatctl::model
