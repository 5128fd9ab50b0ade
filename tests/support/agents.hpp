#pragma once

#include "engine/people.hpp"
#include "model/people.hpp"

namespace chatctl::test {

// agent1 (Agent Smith, group users), on-line: someone for start_chat to route to.
inline void add_online_agent(engine::People& people) {
  engine::AgentFields f;
  f.login = "agent1";
  f.name = "Agent Smith";
  f.add_groups = {"users"};
  people.add_agent(f, false);
  people.set_agent_availability("agent1", model::AgentAvailability::online, false);
}

}  // namespace chatctl::test
