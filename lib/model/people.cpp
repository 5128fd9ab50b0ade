#include "model/people.hpp"

namespace chatctl::model {

std::string_view to_string(AgentAvailability a) {
  switch (a) {
    case AgentAvailability::offline: return "offline";
    case AgentAvailability::unavailable: return "unavailable";
    case AgentAvailability::away: return "away";
    case AgentAvailability::online: return "online";
  }
  return "offline";
}

std::string_view to_string(CustomerAvailability a) {
  switch (a) {
    case CustomerAvailability::offline: return "offline";
    case CustomerAvailability::away: return "away";
    case CustomerAvailability::online: return "online";
  }
  return "offline";
}

std::string_view to_string(CustomerKind k) { return k == CustomerKind::customer ? "customer" : "public"; }

std::optional<AgentAvailability> parse_agent_availability(std::string_view s) {
  if (s == "offline" || s == "0") return AgentAvailability::offline;
  if (s == "unavailable" || s == "1") return AgentAvailability::unavailable;
  if (s == "away" || s == "2") return AgentAvailability::away;
  if (s == "online" || s == "3") return AgentAvailability::online;
  return std::nullopt;
}

std::optional<CustomerAvailability> parse_customer_availability(std::string_view s) {
  if (s == "offline" || s == "0") return CustomerAvailability::offline;
  if (s == "away" || s == "2") return CustomerAvailability::away;
  if (s == "online" || s == "3") return CustomerAvailability::online;
  return std::nullopt;
}

std::optional<CustomerKind> parse_customer_kind(std::string_view s) {
  if (s == "customer") return CustomerKind::customer;
  if (s == "public") return CustomerKind::public_user;
  return std::nullopt;
}

std::string_view to_string(GreetingState s) {
  switch (s) {
    case GreetingState::shown: return "shown";
    case GreetingState::accepted: return "accepted";
    case GreetingState::canceled: return "canceled";
  }
  return "shown";
}

std::optional<GreetingState> parse_greeting_state(std::string_view s) {
  if (s == "shown") return GreetingState::shown;
  if (s == "accepted") return GreetingState::accepted;
  if (s == "canceled") return GreetingState::canceled;
  return std::nullopt;
}

}  // namespace chatctl::model
