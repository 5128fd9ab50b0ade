#include "engine/people.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/text.hpp"
#include "engine/channels.hpp"
#include "engine/validate.hpp"

namespace chatctl::engine {
namespace {

using core::Error;
using core::ErrorKind;

constexpr core::Micros kMinute = 60'000'000;

void check_login(const std::string& login) {
  check_text("login", login, {model::kMaxLoginLength, true});
  if (login.find(' ') != std::string::npos) throw Error(ErrorKind::data, "login must not contain spaces");
}

void check_email(const std::string& email) {
  if (email.empty()) return;
  check_text("email", email, {model::kMaxEmailLength, false});
  const auto at = email.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == email.size() || email.find(' ') != std::string::npos) {
    throw Error(ErrorKind::data, "email " + core::quoted(email) + " is not an email address");
  }
}

nlohmann::json agent_json(const model::Agent& a) {
  return {{"id", a.id},         {"login", a.login},       {"name", a.name},
          {"email", a.email},   {"groups", a.groups},     {"channels", a.channels},
          {"availability", model::to_string(a.availability)}};
}

nlohmann::json customer_json(const model::Customer& c) {
  return {{"id", c.id},
          {"name", c.name},
          {"email", c.email},
          {"kind", model::to_string(c.kind)},
          {"availability", model::to_string(c.availability)}};
}

}  // namespace

People::People(store::Store& store, const core::Settings& settings, const core::Clock& clock, std::string actor)
    : store_(store), settings_(settings), clock_(clock), actor_(std::move(actor)) {}

core::Micros People::agent_cutoff() const {
  return clock_.now() - settings_.get_int(core::keys::kAgentOnlineThreshold) * kMinute;
}

core::Micros People::customer_cutoff() const {
  return clock_.now() - settings_.get_int(core::keys::kCustomerOnlineThreshold) * kMinute;
}

void People::log(std::string_view type, const std::string& payload) {
  store::EventRecord e;
  e.type = std::string(type);
  e.time = clock_.now();
  e.actor = actor_;
  e.payload = payload;
  store_.append_event(e);
}

namespace {

// Applies `f` to `a`, resolving channel names through `channels`.
void merge(model::Agent& a, const AgentFields& f, ChannelAdmin& channels) {
  if (f.login) a.login = *f.login;
  if (f.name) a.name = *f.name;
  if (f.email) a.email = *f.email;
  std::set<std::string> groups(a.groups.begin(), a.groups.end());
  for (const auto& g : f.add_groups) {
    check_text("group", g, {model::kMaxGroupNameLength, true});
    groups.insert(g);
  }
  for (const auto& g : f.remove_groups) groups.erase(g);
  a.groups.assign(groups.begin(), groups.end());
  if (f.channels) {
    std::set<model::ChannelId> ids;
    for (const auto& ref : *f.channels) ids.insert(channels.get(ref).id);
    a.channels.assign(ids.begin(), ids.end());
  }
}

}  // namespace

model::Agent People::add_agent(const AgentFields& fields, bool dry_run) {
  if (!fields.login) throw Error(ErrorKind::data, "login is required");
  if (!fields.name) throw Error(ErrorKind::data, "name is required");
  check_login(*fields.login);
  check_text("name", *fields.name, {model::kMaxPersonNameLength, true});
  if (fields.email) check_email(*fields.email);

  store::WriteTransaction tx(store_);
  if (store_.find_agent(*fields.login)) {
    throw Error(ErrorKind::data, "an agent with login " + core::quoted(*fields.login) + " already exists");
  }
  ChannelAdmin channels(store_, clock_, actor_);
  model::Agent a;
  merge(a, fields, channels);
  a.create_time = a.change_time = clock_.now();
  if (dry_run) return a;
  a.id = store_.insert_agent(a);
  log("AgentAdd", agent_json(a).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return a;
}

model::Agent People::update_agent(std::string_view login, const AgentFields& fields, bool dry_run) {
  if (fields.login) check_login(*fields.login);
  if (fields.name) check_text("name", *fields.name, {model::kMaxPersonNameLength, true});
  if (fields.email) check_email(*fields.email);
  store::WriteTransaction tx(store_);
  model::Agent a = agent(login);
  const model::Agent before = a;
  ChannelAdmin channels(store_, clock_, actor_);
  merge(a, fields, channels);
  if (fields.login && *fields.login != before.login && store_.find_agent(*fields.login)) {
    throw Error(ErrorKind::data, "an agent with login " + core::quoted(*fields.login) + " already exists");
  }
  if (a.login == before.login && a.name == before.name && a.email == before.email && a.groups == before.groups &&
      a.channels == before.channels) {
    return a;
  }
  a.change_time = clock_.now();
  if (dry_run) return a;
  store_.update_agent(a);
  log("AgentUpdate", agent_json(a).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return a;
}

model::Agent People::agent(std::string_view login) {
  auto a = core::utf8_length(login) ? store_.find_agent(login) : std::nullopt;
  if (!a) throw Error(ErrorKind::not_found, "no agent with login " + core::quoted(login));
  return *a;
}

std::vector<model::Agent> People::agents(const store::AgentFilter& filter) { return store_.list_agents(filter); }

model::Agent People::set_agent_availability(std::string_view login, model::AgentAvailability availability,
                                            bool dry_run) {
  store::WriteTransaction tx(store_);
  model::Agent a = agent(login);
  const bool changed = a.availability != availability;
  a.availability = availability;
  a.last_seen = clock_.now();
  if (changed) a.change_time = a.last_seen;
  if (dry_run) return a;
  store_.update_agent(a);
  if (changed) log("AgentUpdate", agent_json(a).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return a;
}

model::Agent People::touch_agent(std::string_view login, bool dry_run) {
  store::WriteTransaction tx(store_);
  model::Agent a = agent(login);
  a.last_seen = clock_.now();
  if (dry_run) return a;
  store_.update_agent(a);
  tx.commit();
  return a;
}

model::AgentAvailability People::effective_availability(const model::Agent& a) const {
  return a.last_seen >= agent_cutoff() ? a.availability : model::AgentAvailability::offline;
}

std::vector<model::Agent> People::online_agents(const std::optional<std::string>& group) {
  store::AgentFilter f;
  f.group = group;
  f.seen_since = agent_cutoff();
  f.min_availability = model::AgentAvailability::unavailable;
  return store_.list_agents(f);
}

std::map<std::string, std::vector<model::ChannelId>> People::available_agents() {
  store::AgentFilter f;
  f.seen_since = agent_cutoff();
  f.min_availability = model::AgentAvailability::online;
  const auto valid = store_.list_channels({.valid_only = true});
  std::map<std::string, std::vector<model::ChannelId>> out;
  for (const auto& a : store_.list_agents(f)) {
    auto& ids = out[a.login];
    for (const auto& c : valid) {
      const bool permitted = std::binary_search(a.groups.begin(), a.groups.end(), c.group);
      const bool chosen = a.channels.empty() || std::binary_search(a.channels.begin(), a.channels.end(), c.id);
      if (permitted && chosen) ids.push_back(c.id);
    }
  }
  return out;
}

model::Customer People::add_customer(const CustomerFields& fields, bool dry_run) {
  model::Customer c;
  c.id = fields.id.value_or(core::new_uuid());
  check_text("id", c.id, {model::kMaxLoginLength, true});
  c.name = fields.name.value_or("");
  check_text("name", c.name, {model::kMaxPersonNameLength, false});
  c.email = fields.email.value_or("");
  check_email(c.email);
  c.kind = fields.kind.value_or(model::CustomerKind::customer);
  c.create_time = c.change_time = clock_.now();

  store::WriteTransaction tx(store_);
  if (store_.find_customer(c.id)) throw Error(ErrorKind::data, "a customer with id " + core::quoted(c.id) + " already exists");
  if (dry_run) return c;
  store_.insert_customer(c);
  log("CustomerAdd", customer_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return c;
}

model::Customer People::update_customer(std::string_view id, const CustomerFields& fields, bool dry_run) {
  if (fields.id) throw Error(ErrorKind::usage, "a customer's id cannot be changed");
  if (fields.name) check_text("name", *fields.name, {model::kMaxPersonNameLength, false});
  if (fields.email) check_email(*fields.email);
  store::WriteTransaction tx(store_);
  model::Customer c = customer(id);
  const model::Customer before = c;
  if (fields.name) c.name = *fields.name;
  if (fields.email) c.email = *fields.email;
  if (fields.kind) c.kind = *fields.kind;
  if (c.name == before.name && c.email == before.email && c.kind == before.kind) return c;
  c.change_time = clock_.now();
  if (dry_run) return c;
  store_.update_customer(c);
  log("CustomerUpdate", customer_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return c;
}

model::Customer People::customer(std::string_view id) {
  auto c = core::utf8_length(id) ? store_.find_customer(id) : std::nullopt;
  if (!c) throw Error(ErrorKind::not_found, "no customer with id " + core::quoted(id));
  return *c;
}

std::vector<model::Customer> People::customers(const store::CustomerFilter& filter) {
  return store_.list_customers(filter);
}

model::Customer People::set_customer_availability(std::string_view id, model::CustomerAvailability availability,
                                                  bool dry_run) {
  store::WriteTransaction tx(store_);
  model::Customer c = customer(id);
  const bool changed = c.availability != availability;
  c.availability = availability;
  c.last_seen = clock_.now();
  if (changed) c.change_time = c.last_seen;
  if (dry_run) return c;
  store_.update_customer(c);
  if (changed) log("CustomerUpdate", customer_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return c;
}

model::Customer People::touch_customer(std::string_view id, bool dry_run) {
  store::WriteTransaction tx(store_);
  model::Customer c = customer(id);
  c.last_seen = clock_.now();
  if (dry_run) return c;
  store_.update_customer(c);
  tx.commit();
  return c;
}

model::CustomerAvailability People::effective_availability(const model::Customer& c) const {
  return c.last_seen >= customer_cutoff() ? c.availability : model::CustomerAvailability::offline;
}

std::vector<model::Customer> People::online_customers(const std::optional<model::CustomerKind>& kind) {
  store::CustomerFilter f;
  f.kind = kind;
  f.seen_since = customer_cutoff();
  f.min_availability = model::CustomerAvailability::away;
  return store_.list_customers(f);
}

}  // namespace chatctl::engine
