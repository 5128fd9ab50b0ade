#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/settings.hpp"
#include "model/people.hpp"
#include "store/store.hpp"

namespace chatctl::engine {

struct AgentFields {
  std::optional<std::string> login{};
  std::optional<std::string> name{};
  std::optional<std::string> email{};
  std::vector<std::string> add_groups{};
  std::vector<std::string> remove_groups{};
  std::optional<std::vector<std::string>> channels{};  // channel names or ids; replaces the choice
};

struct CustomerFields {
  std::optional<std::string> id{};  // on creation; a new UUID when unset
  std::optional<std::string> name{};
  std::optional<std::string> email{};
  std::optional<model::CustomerKind> kind{};
  std::optional<bool> banned{};
  // RTM profile members to set (avatar, session_fields, page, statistics): replaced one by one.
  std::optional<std::string> profile_patch{};  // a JSON object
};

// An issued token: the secret is returned once and never stored.
struct IssuedToken {
  std::string token;
  model::CustomerToken record;
};

// Agents and customers as the engine keeps them: who they are, their availability and when they
// were last seen. An agent counts as on-line when its availability is above off-line and it was
// seen within ChatEngine::AgentOnlineThreshold minutes (customers: CustomerOnlineThreshold).
//
// Mutations run in one write transaction each and log AgentAdd / AgentUpdate / CustomerAdd /
// CustomerUpdate events. Not thread-safe.
class People {
 public:
  People(store::Store& store, const core::Settings& settings, const core::Clock& clock, std::string actor);

  // Throws Error(data) for an invalid or duplicate login, name or email, and Error(not_found) for
  // an unknown channel.
  model::Agent add_agent(const AgentFields& fields, bool dry_run);
  model::Agent update_agent(std::string_view login, const AgentFields& fields, bool dry_run);
  model::Agent agent(std::string_view login);  // Error(not_found)
  std::vector<model::Agent> agents(const store::AgentFilter& filter);
  // Sets the availability and marks the agent seen now.
  model::Agent set_agent_availability(std::string_view login, model::AgentAvailability availability, bool dry_run);
  // Marks the agent seen now (its client is alive).
  model::Agent touch_agent(std::string_view login, bool dry_run = false);
  // AgentAvailabilityGet: off-line when not seen within the threshold, else the stored value.
  model::AgentAvailability effective_availability(const model::Agent& agent) const;
  // OnlineUserList for agents: on-line agents, optionally of one group.
  std::vector<model::Agent> online_agents(const std::optional<std::string>& group);
  // AvailableUsersGet: each on-line agent whose availability is `online`, with the valid channels
  // it may receive (its groups include the channel's group) and chose (or all of those).
  std::map<std::string, std::vector<model::ChannelId>> available_agents();

  model::Customer add_customer(const CustomerFields& fields, bool dry_run);
  model::Customer update_customer(std::string_view id, const CustomerFields& fields, bool dry_run);
  model::Customer customer(std::string_view id);  // Error(not_found)
  std::vector<model::Customer> customers(const store::CustomerFilter& filter);
  model::Customer set_customer_availability(std::string_view id, model::CustomerAvailability availability,
                                            bool dry_run);
  model::Customer touch_customer(std::string_view id, bool dry_run = false);
  model::CustomerAvailability effective_availability(const model::Customer& customer) const;
  std::vector<model::Customer> online_customers(const std::optional<model::CustomerKind>& kind);
  // Increments a counter of the customer's RTM statistics (visits_count, ...), without logging an
  // event (statistics are not news to anyone).
  void count_customer(std::string_view id, std::string_view counter);

  // Customer access tokens for chatd. issue_token returns the token once; only its SHA-256 is
  // stored. `ttl_s` is 1 s to 10 years. Logs TokenIssue / TokenRevoke (without the token).
  IssuedToken issue_token(std::string_view customer_id, std::int64_t ttl_s, bool dry_run);
  std::vector<model::CustomerToken> tokens(const std::optional<std::string>& customer_id);
  // Revokes one token by id, or (id 0) every token of the customer; returns how many.
  std::size_t revoke_tokens(std::int64_t id, const std::optional<std::string>& customer_id, bool dry_run);
  // The customer a token (with or without "Bearer ") belongs to. Error(permission) for an unknown
  // or revoked token, Error(temporary) "expired" for an expired one.
  enum class TokenCheck { valid, unknown, expired };
  TokenCheck check_token(std::string_view token, model::Customer* customer, model::CustomerToken* record = nullptr);

  // Greetings: an agent invites a customer to chat (RTM incoming_greeting). Logs GreetingAdd;
  // accept/cancel log GreetingUpdate. Error(not_found) for an unknown greeting or one of another
  // customer, Error(data) when it is no longer shown.
  model::Greeting send_greeting(std::string_view customer_id, std::string_view agent_login, std::string_view text,
                                std::int64_t greeting_id, std::string_view addon, bool dry_run);
  model::Greeting settle_greeting(std::string_view customer_id, std::string_view unique_id,
                                  std::optional<std::int64_t> greeting_id, model::GreetingState state);
  std::vector<model::Greeting> greetings(std::string_view customer_id);

 private:
  core::Micros agent_cutoff() const;
  core::Micros customer_cutoff() const;
  void log(std::string_view type, const std::string& payload);

  store::Store& store_;
  const core::Settings& settings_;
  const core::Clock& clock_;
  std::string actor_;
};

}  // namespace chatctl::engine
