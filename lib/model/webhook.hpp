#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace chatctl::model {

// Active (1) delivers; Stopped is set by an administrator; TooManyErrors (3) after 9 consecutive
// failed attempts, until `webhook reset`.
enum class WebhookState { active, stopped, too_many_errors };
std::string_view to_string(WebhookState s);  // Active, Stopped, TooManyErrors
std::optional<WebhookState> parse_webhook_state(std::string_view s);

inline constexpr std::string_view kChatSessionCreated = "chatsession.created";
inline constexpr std::string_view kChatSessionMessage = "chatsession.message";
inline constexpr std::string_view kChatSessionChanged = "chatsession.changed";
inline constexpr std::string_view kWebhookEvents[] = {kChatSessionCreated, kChatSessionMessage, kChatSessionChanged};

using WebhookId = std::int64_t;

struct Webhook {
  WebhookId id{0};
  std::string name;
  std::string url;
  std::vector<std::string> events;  // a subset of kWebhookEvents
  std::string secret;               // empty: deliveries are not signed
  WebhookState state{WebhookState::active};
  std::int64_t cursor{0};           // event log seq read up to
  std::int64_t failures{0};         // consecutive failed attempts
  std::string last_error;
  std::optional<core::Micros> last_attempt_time{};
  core::Micros create_time{0};
  core::Micros change_time{0};
  bool wants(std::string_view event) const;
};

// An event waiting for delivery to one webhook: what every attempt sends.
struct WebhookDelivery {
  WebhookId webhook_id{0};
  std::int64_t seq{0};
  std::string event_id;  // X-SuperOffice-EventId
  std::string event;     // chatsession.*
  std::int64_t chat_id{0};
  std::string body;
  std::int64_t attempts{0};
  core::Micros next_attempt_time{0};
};

}  // namespace chatctl::model
