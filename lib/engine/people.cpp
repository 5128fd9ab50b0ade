#include "engine/people.hpp"

#include <nlohmann/json.hpp>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/text.hpp"
#include "engine/channels.hpp"
#include "model/chat.hpp"
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
          {"availability", model::to_string(c.availability)},
          {"banned", c.banned},
          {"profile", nlohmann::json::parse(c.profile, nullptr, false, true)}};
}

constexpr std::string_view kProfileMembers[] = {"avatar", "session_fields", "page", "statistics"};

// Merges `patch` (a JSON object of profile members) into `profile`; Error(data) for anything else.
std::string merge_profile(const std::string& profile, const std::string& patch) {
  auto base = nlohmann::json::parse(profile, nullptr, false);
  if (!base.is_object()) base = nlohmann::json::object();
  const auto p = nlohmann::json::parse(patch, nullptr, false);
  if (!p.is_object()) throw Error(ErrorKind::data, "a customer profile change must be a JSON object");
  for (const auto& [k, v] : p.items()) {
    if (std::find(std::begin(kProfileMembers), std::end(kProfileMembers), k) == std::end(kProfileMembers)) {
      throw Error(ErrorKind::data, "unknown customer profile member " + core::quoted(k));
    }
    if (v.is_null()) {
      base.erase(k);
    } else {
      base[k] = v;
    }
  }
  return base.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xF];
  }
  return out;
}

std::string sha256_hex(std::string_view s) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  return hex(digest, sizeof digest);
}

// `bytes` random bytes from the operating system's generator, as hex.
std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
    throw Error(ErrorKind::internal, "no random numbers available");
  }
  return hex(buf.data(), buf.size());
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
  a.last_seen = clock_.now();  // availability is a state, with a time of its own: change_time stays
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
  if (fields.banned) c.banned = *fields.banned;
  if (fields.profile_patch) c.profile = merge_profile(c.profile, *fields.profile_patch);
  if (c.name == before.name && c.email == before.email && c.kind == before.kind && c.banned == before.banned &&
      c.profile == before.profile) {
    return c;
  }
  c.change_time = clock_.now();
  if (dry_run) return c;
  store_.update_customer(c);
  // A new page is news of its own (RTM customer_page_updated), not a change of who the customer is:
  // CustomerPageUpdate, beside a CustomerUpdate when more changed with it (a login can do both).
  const auto patch = fields.profile_patch ? nlohmann::json::parse(*fields.profile_patch, nullptr, false)
                                          : nlohmann::json::object();
  const bool new_page = patch.is_object() && patch.contains("page");
  const bool profile_beside_page = c.profile != before.profile && !(new_page && patch.size() == 1);
  const auto payload = [&](bool page) {
    auto j = customer_json(c);
    nlohmann::json changes = nlohmann::json::array();
    if (!page) {
      if (c.name != before.name) changes.push_back("name");
      if (c.email != before.email) changes.push_back("email");
      if (c.kind != before.kind) changes.push_back("kind");
      if (c.banned != before.banned) changes.push_back("banned");
    }
    if (page || profile_beside_page) changes.push_back("profile");
    j["changes"] = changes;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  if (c.name != before.name || c.email != before.email || c.kind != before.kind || c.banned != before.banned ||
      profile_beside_page) {
    log("CustomerUpdate", payload(false));
  }
  if (new_page) log("CustomerPageUpdate", payload(true));
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
  c.last_seen = clock_.now();  // availability is a state, with a time of its own: change_time stays
  if (dry_run) return c;
  store_.update_customer(c);
  if (changed) {
    auto payload = customer_json(c);
    payload["changes"] = {"availability"};
    log("CustomerUpdate", payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
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

void People::count_customer(std::string_view id, std::string_view counter) {
  store::WriteTransaction tx(store_);
  model::Customer c = customer(id);
  auto profile = nlohmann::json::parse(c.profile, nullptr, false);
  if (!profile.is_object()) profile = nlohmann::json::object();
  auto& stats = profile["statistics"];
  if (!stats.is_object()) stats = nlohmann::json::object();
  const auto k = std::string(counter);
  stats[k] = (stats.contains(k) && stats[k].is_number_integer() ? stats[k].get<std::int64_t>() : 0) + 1;
  c.profile = profile.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  store_.update_customer(c);
  tx.commit();
}

IssuedToken People::issue_token(std::string_view customer_id, std::int64_t ttl_s, bool dry_run) {
  constexpr std::int64_t kMaxTtl = 10LL * 365 * 86400;
  if (ttl_s <= 0 || ttl_s > kMaxTtl) throw Error(ErrorKind::data, "a token's lifetime must be 1 second to 10 years");
  store::WriteTransaction tx(store_);
  const model::Customer c = customer(customer_id);
  IssuedToken out;
  out.token = "ctk_" + random_hex(32);
  out.record.token_hash = sha256_hex(out.token);
  out.record.customer_id = c.id;
  out.record.create_time = clock_.now();
  out.record.expire_time = out.record.create_time + ttl_s * 1'000'000;
  if (dry_run) return out;
  out.record.id = store_.insert_token(out.record);
  log("TokenIssue", nlohmann::json{{"id", out.record.id}, {"customer_id", c.id}}.dump(
                        -1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return out;
}

std::vector<model::CustomerToken> People::tokens(const std::optional<std::string>& customer_id) {
  return store_.list_tokens(customer_id);
}

std::size_t People::revoke_tokens(std::int64_t id, const std::optional<std::string>& customer_id, bool dry_run) {
  if ((id == 0) == !customer_id) throw Error(ErrorKind::usage, "give a token id or a customer, not both");
  store::WriteTransaction tx(store_);
  std::size_t n = 0;
  for (const auto& t : store_.list_tokens(customer_id)) {
    if (!t.revoked && (id == 0 || t.id == id)) ++n;
  }
  if (id != 0 && n == 0) {
    const auto all = store_.list_tokens(std::nullopt);
    const bool exists = std::any_of(all.begin(), all.end(), [&](const auto& t) { return t.id == id; });
    if (!exists) throw Error(ErrorKind::not_found, "no token " + std::to_string(id));
  }
  if (dry_run || n == 0) return n;
  n = store_.revoke_tokens(id, customer_id);
  nlohmann::json payload{{"revoked", n}};
  if (id) payload["id"] = id;
  if (customer_id) payload["customer_id"] = *customer_id;
  log("TokenRevoke", payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return n;
}

People::TokenCheck People::check_token(std::string_view token, model::Customer* out, model::CustomerToken* record) {
  // The scheme is case-insensitive, as in an HTTP Authorization header (RFC 7235).
  constexpr std::string_view kBearer = "bearer ";
  if (core::to_lower(token.substr(0, kBearer.size())) == kBearer) token.remove_prefix(kBearer.size());
  if (token.empty() || token.size() > 512) return TokenCheck::unknown;
  const auto t = store_.find_token(sha256_hex(token));
  if (!t || t->revoked) return TokenCheck::unknown;
  if (t->expire_time <= clock_.now()) return TokenCheck::expired;
  auto c = store_.find_customer(t->customer_id);
  if (!c) return TokenCheck::unknown;
  if (out) *out = *c;
  if (record) *record = *t;
  return TokenCheck::valid;
}

model::Greeting People::send_greeting(std::string_view customer_id, std::string_view agent_login,
                                      std::string_view text, std::int64_t greeting_id, std::string_view addon,
                                      bool dry_run) {
  const auto len = core::utf8_length(text);
  if (!len || *len == 0 || *len > model::kMaxMessageLength) {
    throw Error(ErrorKind::data, "a greeting's text must be 1 to 3800 characters of valid UTF-8");
  }
  if (greeting_id < 0) throw Error(ErrorKind::data, "a greeting id must not be negative");
  check_text("addon", std::string(addon), {200, false});
  store::WriteTransaction tx(store_);
  const model::Customer c = customer(customer_id);
  const model::Agent a = agent(agent_login);
  model::Greeting g;
  g.unique_id = random_hex(16);
  g.greeting_id = greeting_id;
  g.customer_id = c.id;
  g.agent_login = a.login;
  g.addon = std::string(addon);
  g.create_time = g.change_time = clock_.now();
  nlohmann::json event{{"id", g.unique_id + "_1"},
                       {"created_at", core::format_rfc3339(g.create_time)},
                       {"type", "message"},
                       {"text", std::string(text)},
                       {"author_id", a.login}};
  g.event = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (dry_run) return g;
  // A new greeting cancels the one the customer still sees.
  for (auto old : store_.list_greetings(c.id)) {
    if (old.state != model::GreetingState::shown) continue;
    old.state = model::GreetingState::canceled;
    old.change_time = g.create_time;
    store_.update_greeting(old);
    log("GreetingUpdate", nlohmann::json{{"customer_id", c.id}, {"unique_id", old.unique_id}, {"state", "canceled"}}
                              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  g.id = store_.insert_greeting(g);
  count_customer(c.id, "greetings_shown_count");
  log("GreetingAdd", nlohmann::json{{"customer_id", c.id}, {"unique_id", g.unique_id}}.dump(
                         -1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return g;
}

model::Greeting People::settle_greeting(std::string_view customer_id, std::string_view unique_id,
                                        std::optional<std::int64_t> greeting_id, model::GreetingState state) {
  store::WriteTransaction tx(store_);
  auto g = store_.find_greeting(unique_id);
  if (!g || g->customer_id != customer_id || (greeting_id && *greeting_id != g->greeting_id)) {
    throw Error(ErrorKind::not_found, "no greeting " + core::quoted(unique_id));
  }
  if (g->state != model::GreetingState::shown) {
    throw Error(ErrorKind::data, "greeting " + core::quoted(unique_id) + " was already " +
                                     std::string(model::to_string(g->state)));
  }
  g->state = state;
  g->change_time = clock_.now();
  store_.update_greeting(*g);
  if (state == model::GreetingState::accepted) count_customer(customer_id, "greetings_accepted_count");
  log("GreetingUpdate",
      nlohmann::json{{"customer_id", g->customer_id}, {"unique_id", g->unique_id}, {"state", model::to_string(state)}}
          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
  return *g;
}

std::vector<model::Greeting> People::greetings(std::string_view customer_id) {
  return store_.list_greetings(customer_id);
}

}  // namespace chatctl::engine
