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
