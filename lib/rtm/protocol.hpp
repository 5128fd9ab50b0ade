#pragma once

#include <nlohmann/json.hpp>

#include <exception>
#include <optional>
#include <string>
#include <string_view>

namespace chatctl::rtm {

// The error types of the RTM API (its "Possible errors" table), each with its default message.
enum class ErrorType {
  authentication,
  authorization,
  chat_inactive,
  customer_banned,
  greeting_not_found,
  group_not_found,
  group_offline,
  group_unavailable,
  groups_offline,
  internal,
  license_expired,
  limit_reached,
  not_allowed,
  not_found,
  pending_requests_limit_reached,
  request_timeout,
  service_unavailable,
  too_many_requests,
  unsupported_version,
  users_limit_reached,
  validation,
  wrong_product_version,
};
std::string_view to_string(ErrorType type);
std::string_view default_message(ErrorType type);

// Thrown by actions; the dispatcher answers it as an error response.
class RtmError : public std::exception {
 public:
  RtmError(ErrorType type, std::string message) : type_(type), message_(std::move(message)) {}
  explicit RtmError(ErrorType type) : RtmError(type, std::string(default_message(type))) {}
  ErrorType type() const noexcept { return type_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  ErrorType type_;
  std::string message_;
};

// A decoded request: {"request_id"?, "action", "payload"?}.
struct Request {
  nlohmann::json request_id;  // null when absent; echoed as given (a string)
  std::string action;
  nlohmann::json payload = nlohmann::json::object();
};

// Decodes one text frame. Throws RtmError(validation) for anything that is not a request object
// with a string action, a string request_id (when present) and an object payload (when present),
// or that nests arrays and objects more than 64 deep;
// `request_id` and `action` are filled as far as they could be read, so the error can echo them.
Request parse_request(std::string_view frame, nlohmann::json& request_id, std::string& action);

// Frames: a successful response, an error response, a push.
std::string response_frame(const nlohmann::json& request_id, std::string_view action, const nlohmann::json& payload);
std::string error_frame(const nlohmann::json& request_id, std::string_view action, ErrorType type,
                        std::string_view message);
std::string push_frame(std::string_view action, const nlohmann::json& payload,
                       const nlohmann::json& request_id = nullptr);
// The push that precedes a disconnect: customer_disconnected with a reason (and optional data).
std::string disconnect_frame(std::string_view reason, const nlohmann::json& data = nullptr);

// Serialises JSON the way every frame does: compact, invalid UTF-8 replaced.
std::string dump(const nlohmann::json& j);

}  // namespace chatctl::rtm
