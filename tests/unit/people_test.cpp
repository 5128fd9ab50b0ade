// Agents and customers (lib/engine/people.hpp) on every available backend, with an injected
// clock for the on-line thresholds.
#include <catch2/catch.hpp>

#include "core/ids.hpp"
#include "core/settings.hpp"
#include "engine/channels.hpp"
#include "engine/engine.hpp"
#include "engine/people.hpp"
#include "support/databases.hpp"
#include "support/error_kind.hpp"

using namespace chatctl;
using core::ErrorKind;
using model::AgentAvailability;
using model::CustomerAvailability;
using test::kind_of;

namespace {

constexpr core::Micros kMinute = 60'000'000;

struct Fixture {
  explicit Fixture(const std::string& backend) : db(test::make_test_database(backend)) {
    settings = core::Settings::defaults({{"database", db->address()}, {"ChatEngine::AgentOnlineThreshold", "5"}});
    store = engine::open_database(*settings, clock);
  }
  std::unique_ptr<test::TestDatabase> db;
  std::optional<core::Settings> settings;
  core::ManualClock clock{1'700'000'000'000'000};
  std::unique_ptr<store::Store> store;
  engine::People people() { return engine::People(*store, *settings, clock, "tester"); }
  engine::ChannelAdmin channels() { return engine::ChannelAdmin(*store, clock, "tester"); }
};

engine::AgentFields agent(const std::string& login, std::vector<std::string> groups = {"users"}) {
  engine::AgentFields f;
  f.login = login;
  f.name = "Agent " + login;
  f.add_groups = std::move(groups);
  return f;
}

}  // namespace

TEST_CASE("agents are added, validated and updated", "[engine][people]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  auto p = fx.people();
  const auto events = fx.store->list_events({}).size();

  auto f = agent("jdoe", {"users", "sales", "users"});
  f.email = "jdoe@example.com";
  const auto a = p.add_agent(f, false);
  CHECK(a.id > 0);
  CHECK(a.groups == std::vector<std::string>{"sales", "users"});
  CHECK(p.agent("jdoe").email == "jdoe@example.com");
  CHECK(fx.store->list_events({}).size() == events + 1);

  CHECK(kind_of([&] { p.add_agent(agent("jdoe"), false); }) == ErrorKind::data);
  CHECK(kind_of([&] { p.add_agent(agent("j doe"), false); }) == ErrorKind::data);
  CHECK(kind_of([&] { p.add_agent(agent(""), false); }) == ErrorKind::data);
  auto bad_mail = agent("mail");
  bad_mail.email = "not-an-address";
  CHECK(kind_of([&] { p.add_agent(bad_mail, false); }) == ErrorKind::data);
  auto bad_channel = agent("chan");
  bad_channel.channels = std::vector<std::string>{"No such channel"};
  CHECK(kind_of([&] { p.add_agent(bad_channel, false); }) == ErrorKind::not_found);
  CHECK(p.agents({}).size() == 1);
  CHECK(p.add_agent(agent("dry"), true).id == 0);
  CHECK(p.agents({}).size() == 1);

  engine::AgentFields change;
  change.remove_groups = {"sales"};
  change.add_groups = {"support"};
  change.name = "John Doe";
  change.channels = std::vector<std::string>{"Chat Channel"};
  const auto updated = p.update_agent("jdoe", change, false);
  CHECK(updated.groups == std::vector<std::string>{"support", "users"});
  CHECK(updated.channels.size() == 1);
  CHECK(p.agent("jdoe").name == "John Doe");
  CHECK(p.agents({.group = "support"}).size() == 1);
  CHECK(p.agents({.group = "sales"}).empty());
  CHECK(kind_of([&] { p.update_agent("nobody", change, false); }) == ErrorKind::not_found);
}

TEST_CASE("agent availability follows the on-line threshold", "[engine][people]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  auto p = fx.people();
  p.add_agent(agent("a1"), false);
  p.add_agent(agent("a2", {"sales"}), false);
  p.add_agent(agent("a3"), false);

  CHECK(p.effective_availability(p.agent("a1")) == AgentAvailability::offline);
  p.set_agent_availability("a1", AgentAvailability::online, false);
  p.set_agent_availability("a2", AgentAvailability::online, false);
  p.set_agent_availability("a3", AgentAvailability::away, false);
  CHECK(p.effective_availability(p.agent("a1")) == AgentAvailability::online);
  CHECK(p.online_agents(std::nullopt).size() == 3);
  CHECK(p.online_agents(std::string("sales")).size() == 1);

  // Sales channel: only agents in group "sales" may receive its chats; a3 is only away.
  engine::ChannelFields sales;
  sales.name = "Sales";
  sales.group = "sales";
  const auto sales_id = fx.channels().add(sales, false).id;
  const auto available = p.available_agents();
  REQUIRE(available.size() == 2);
  CHECK(available.at("a1") == std::vector<model::ChannelId>{*engine::default_channel_id(*fx.store)});
  CHECK(available.at("a2") == std::vector<model::ChannelId>{sales_id});

  fx.clock.advance(4 * kMinute);
  p.touch_agent("a2");
  fx.clock.advance(2 * kMinute);  // a1 and a3 last seen 6 minutes ago, a2 2 minutes ago
  CHECK(p.effective_availability(p.agent("a1")) == AgentAvailability::offline);
  CHECK(p.effective_availability(p.agent("a2")) == AgentAvailability::online);
  CHECK(p.online_agents(std::nullopt).size() == 1);
  CHECK(p.available_agents().size() == 1);

  // An invalid channel is never available.
  engine::ChannelFields off;
  off.validity = model::Validity::invalid;
  fx.channels().update("Sales", off, false);
  CHECK(p.available_agents().at("a2").empty());
}

TEST_CASE("customers are added with UUIDs, updated, and go off-line", "[engine][people]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  auto p = fx.people();
  engine::CustomerFields f;
  f.name = "Ann";
  f.kind = model::CustomerKind::public_user;
  const auto c = p.add_customer(f, false);
  CHECK(core::is_uuid(c.id));
  CHECK(p.customer(c.id).kind == model::CustomerKind::public_user);

  engine::CustomerFields named;
  named.id = "crm-42";
  named.email = "ann@example.com";
  p.add_customer(named, false);
  CHECK(kind_of([&] { p.add_customer(named, false); }) == ErrorKind::data);
  engine::CustomerFields bad;
  bad.email = "@example.com";
  CHECK(kind_of([&] { p.add_customer(bad, false); }) == ErrorKind::data);
  CHECK(p.customers({}).size() == 2);
  CHECK(p.customers({.kind = model::CustomerKind::customer}).size() == 1);

  engine::CustomerFields rename;
  rename.name = "Ann B.";
  CHECK(p.update_customer("crm-42", rename, false).name == "Ann B.");
  CHECK(kind_of([&] { p.update_customer("nobody", rename, false); }) == ErrorKind::not_found);

  CHECK(p.online_customers(std::nullopt).empty());
  p.set_customer_availability("crm-42", CustomerAvailability::online, false);
  CHECK(p.online_customers(std::nullopt).size() == 1);
  fx.clock.advance(6 * kMinute);
  CHECK(p.effective_availability(p.customer("crm-42")) == CustomerAvailability::offline);
  CHECK(p.online_customers(std::nullopt).empty());
}

TEST_CASE("new UUIDs are version 4 and distinct", "[core][ids]") {
  const auto a = core::new_uuid();
  const auto b = core::new_uuid();
  CHECK(core::is_uuid(a));
  CHECK(a != b);
  CHECK(a[14] == '4');
  CHECK(std::string("89ab").find(a[19]) != std::string::npos);
  CHECK_FALSE(core::is_uuid("not-a-uuid"));
  CHECK_FALSE(core::is_uuid("C8583316-C555-41F0-B84D-F523119508BE"));
}
