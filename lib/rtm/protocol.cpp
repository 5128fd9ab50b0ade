#include "rtm/protocol.hpp"

namespace chatctl::rtm {
namespace {

struct ErrorInfo {
  std::string_view name;
  std::string_view message;
};

constexpr ErrorInfo kErrors[] = {
    {"authentication", "Authentication error"},
    {"authorization", "Authorization error"},
    {"chat_inactive", "No active chat thread"},
    {"customer_banned", "Customer is banned"},
    {"greeting_not_found", "Greeting not found"},
    {"group_not_found", "Group not found"},
    {"group_offline", "Group is offline"},
    {"group_unavailable", "No agent available for group"},
    {"groups_offline", "Groups offline"},
    {"internal", "Internal server error"},
    {"license_expired", "License expired"},
    {"limit_reached", "Resource limit reached"},
    {"not_allowed", "Not allowed"},
    {"not_found", "Not found"},
    {"pending_requests_limit_reached", "Requests limit reached"},
    {"request_timeout", "Request timed out"},
    {"service_unavailable", "Not accepting new requests"},
    {"too_many_requests", "Too many requests"},
    {"unsupported_version", "Unsupported version"},
    {"users_limit_reached", "Users limit reached"},
    {"validation", "Wrong format of request"},
    {"wrong_product_version", "Wrong product version"},
};

constexpr std::size_t kMaxRequestIdBytes = 256;
constexpr std::size_t kMaxActionBytes = 64;
// Far deeper than any request needs (a property value inside an initial event of start_chat is at
// depth 8); copying and serialising JSON recurse once per level, so a frame nesting arrays 100,000
// deep would overflow the stack.
constexpr int kMaxDepth = 64;

// True when the JSON text nests arrays and objects deeper than kMaxDepth (brackets inside strings
// do not count). Exact for valid JSON; invalid JSON fails to parse anyway.
bool too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

std::string_view to_string(ErrorType type) { return kErrors[static_cast<std::size_t>(type)].name; }
std::string_view default_message(ErrorType type) { return kErrors[static_cast<std::size_t>(type)].message; }

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

Request parse_request(std::string_view frame, nlohmann::json& request_id, std::string& action) {
  if (too_deep(frame)) throw RtmError(ErrorType::validation, "Wrong format of request: nested too deeply");
  auto j = nlohmann::json::parse(frame, nullptr, false);
  if (j.is_discarded()) throw RtmError(ErrorType::validation, "Wrong format of request: not valid JSON");
  if (!j.is_object()) throw RtmError(ErrorType::validation, "Wrong format of request: not a JSON object");
  Request r;
  // Both read before either is refused, so that the error echoes whichever is good.
  const auto id = j.find("request_id");
  const bool has_id = id != j.end() && !id->is_null();
  const bool id_ok = !has_id || (id->is_string() && id->get_ref<const std::string&>().size() <= kMaxRequestIdBytes);
  if (has_id && id_ok) {
    request_id = *id;
    r.request_id = *id;
  }
  const auto a = j.find("action");
  const bool action_string = a != j.end() && a->is_string();
  const bool action_ok = action_string && a->get_ref<const std::string&>().size() <= kMaxActionBytes;
  if (action_ok) {
    action = a->get<std::string>();
    r.action = action;
  }
  if (!id_ok) throw RtmError(ErrorType::validation, "`request_id` must be a string of at most 256 bytes");
  if (!action_string) throw RtmError(ErrorType::validation, "`action` is required and must be a string");
  if (!action_ok) throw RtmError(ErrorType::validation, "`action` is too long");
  if (auto p = j.find("payload"); p != j.end() && !p->is_null()) {
    if (!p->is_object()) throw RtmError(ErrorType::validation, "`payload` must be an object");
    r.payload = std::move(*p);
  }
  return r;
}

// Frames are written as text around the dumped payload, with the keys in the order an object
// of nlohmann::json has them (sorted): no copy of the payload into a frame object first.
namespace {

void append_string(std::string& out, std::string_view s) { out += dump(nlohmann::json(s)); }

std::string frame_text(std::string_view action, const nlohmann::json& payload, const nlohmann::json& request_id,
                       std::string_view rest) {
  std::string out = R"({"action":)";
  append_string(out, action);
  out += R"(,"payload":)";
  out += payload.is_null() ? std::string("{}") : dump(payload);
  if (!request_id.is_null()) {
    out += R"(,"request_id":)";
    out += dump(request_id);
  }
  out += rest;
  return out;
}

}  // namespace

std::string response_frame(const nlohmann::json& request_id, std::string_view action, const nlohmann::json& payload) {
  return frame_text(action, payload, request_id, R"(,"success":true,"type":"response"})");
}

std::string error_frame(const nlohmann::json& request_id, std::string_view action, ErrorType type,
                        std::string_view message) {
  nlohmann::json j = nlohmann::json::object();
  if (!request_id.is_null()) j["request_id"] = request_id;
  if (!action.empty()) j["action"] = action;
  j["type"] = "response";
  j["success"] = false;
  j["payload"] = {{"error", {{"type", to_string(type)}, {"message", message}}}};
  return dump(j);
}

std::string push_frame(std::string_view action, const nlohmann::json& payload, const nlohmann::json& request_id) {
  return frame_text(action, payload, request_id, R"(,"type":"push"})");
}

std::string disconnect_frame(std::string_view reason, const nlohmann::json& data) {
  nlohmann::json payload{{"reason", reason}};
  if (!data.is_null()) payload["data"] = data;
  return push_frame("customer_disconnected", payload);
}

}  // namespace chatctl::rtm
