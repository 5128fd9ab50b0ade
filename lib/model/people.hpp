#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "model/channel.hpp"

namespace chatctl::model {

// Agent chat availability as the engine numbers it.
enum class AgentAvailability : int { offline = 0, unavailable = 1, away = 2, online = 3 };
// Customer chat availability: there is no "unavailable" for customers.
enum class CustomerAvailability : int { offline = 0, away = 2, online = 3 };
enum class CustomerKind { customer, public_user };

std::string_view to_string(AgentAvailability a);
std::string_view to_string(CustomerAvailability a);
std::string_view to_string(CustomerKind k);
// Names (offline, unavailable, away, online) or the numbers 0..3.
std::optional<AgentAvailability> parse_agent_availability(std::string_view s);
// Names (offline, away, online) or the numbers 0, 2, 3.
std::optional<CustomerAvailability> parse_customer_availability(std::string_view s);
std::optional<CustomerKind> parse_customer_kind(std::string_view s);

using AgentId = std::int64_t;

// An agent: a user of the chat engine with a login. Its groups decide which channels' chats it
// may receive; `channels` are the ones it chose (none chosen: every channel it may receive).
struct Agent {
  AgentId id{0};
  std::string login;  // unique, 1..200 characters, no whitespace
  std::string name;   // shown in chats
  std::string email;
  std::vector<std::string> groups{};  // sorted, unique
  std::vector<ChannelId> channels{};  // sorted, unique
  AgentAvailability availability{AgentAvailability::offline};
  core::Micros last_seen{0};  // 0: never
  core::Micros create_time{0};
  core::Micros change_time{0};
};

// A customer of the RTM API: a customer user (logged in) or a public (anonymous) user.
struct Customer {
  std::string id;  // RTM customer id, a UUID unless given
  std::string name;
  std::string email;
  CustomerKind kind{CustomerKind::customer};
  CustomerAvailability availability{CustomerAvailability::offline};
  core::Micros last_seen{0};
  core::Micros create_time{0};
  core::Micros change_time{0};
  // What the RTM API keeps of a customer beside the engine's fields, a compact JSON object:
  // avatar, session_fields (array), page {url, title, timestamp}, statistics counters.
  std::string profile{"{}"};
  bool banned{false};  // refused at login (customer_banned)
};

// A customer's access token for chatd's login. Only its SHA-256 is stored.
struct CustomerToken {
  std::int64_t id{0};
  std::string token_hash;  // lower-case hex SHA-256 of the token
  std::string customer_id;
  core::Micros create_time{0};
  core::Micros expire_time{0};
  bool revoked{false};
};

// A greeting an agent sent to a customer (RTM incoming_greeting), until accepted or canceled.
enum class GreetingState { shown, accepted, canceled };
std::string_view to_string(GreetingState s);
std::optional<GreetingState> parse_greeting_state(std::string_view s);

struct Greeting {
  std::int64_t id{0};
  std::string unique_id;       // RTM unique_id
  std::int64_t greeting_id{0};  // RTM id: the greeting as configured
  std::string customer_id;
  std::string agent_login;
  std::string event{"{}"};  // the RTM message event shown, a JSON object
  std::string addon;
  GreetingState state{GreetingState::shown};
  core::Micros create_time{0};
  core::Micros change_time{0};
};

inline constexpr std::size_t kMaxLoginLength = 200;
inline constexpr std::size_t kMaxPersonNameLength = 200;
inline constexpr std::size_t kMaxEmailLength = 254;

}  // namespace chatctl::model
