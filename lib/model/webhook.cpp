#include "model/webhook.hpp"

#include <algorithm>

namespace chatctl::model {

std::string_view to_string(WebhookState s) {
  switch (s) {
    case WebhookState::active: return "Active";
    case WebhookState::stopped: return "Stopped";
    case WebhookState::too_many_errors: return "TooManyErrors";
  }
  return "Active";
}

std::optional<WebhookState> parse_webhook_state(std::string_view s) {
  if (s == "Active") return WebhookState::active;
  if (s == "Stopped") return WebhookState::stopped;
  if (s == "TooManyErrors") return WebhookState::too_many_errors;
  return std::nullopt;
}

bool Webhook::wants(std::string_view event) const {
  return std::find(events.begin(), events.end(), event) != events.end();
}

}  // namespace chatctl::model
