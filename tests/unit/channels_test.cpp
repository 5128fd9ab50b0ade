// Channel administration rules (lib/engine/channels.hpp) and the default channel
// (lib/engine/engine.hpp), on every available backend.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <functional>

#include "core/error.hpp"
#include "core/settings.hpp"
#include "engine/channel_file.hpp"
#include "engine/channels.hpp"
#include "engine/engine.hpp"
#include "faulty_store.hpp"
#include "support/databases.hpp"
#include "support/error_kind.hpp"

using namespace chatctl;
using core::ErrorKind;
using test::kind_of;

namespace {

struct Fixture {
  explicit Fixture(const std::string& backend, std::vector<std::pair<std::string, std::string>> settings = {})
      : db(test::make_test_database(backend)) {
    settings.emplace_back("database", db->address());
    settings.emplace_back("actor", "tester");
    config = core::Settings::defaults(settings);
    store = engine::open_database(*config, clock);
  }
  std::unique_ptr<test::TestDatabase> db;
  std::optional<core::Settings> config;
  core::ManualClock clock{1'700'000'000'000'000};
  std::unique_ptr<store::Store> store;
  engine::ChannelAdmin admin() { return engine::ChannelAdmin(*store, clock, "tester"); }
  std::size_t events() { return store->list_events({}).size(); }
};

engine::ChannelFields fields(const std::string& name, const std::string& group = "users") {
  engine::ChannelFields f;
  f.name = name;
  f.group = group;
  return f;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("the default channel exists once the engine is active, created once", "[engine][channels]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  auto channels = fx.admin().list({});
  REQUIRE(channels.size() == 1);
  CHECK(channels[0].name == "Chat Channel");
  CHECK(channels[0].customer_users);
  CHECK(channels[0].public_users);
  CHECK(engine::default_channel_id(*fx.store) == channels[0].id);

  // Opening again, or renaming it, never makes a second one.
  CHECK_FALSE(engine::ensure_default_channel(*fx.store, *fx.config, fx.clock));
  engine::ChannelFields rename;
  rename.name = "Renamed";
  fx.admin().update("Chat Channel", rename, false);
  auto again = engine::open_database(*fx.config, fx.clock);
  CHECK(engine::ChannelAdmin(*again, fx.clock, "t").list({}).size() == 1);
}

TEST_CASE("an inactive engine creates no default channel; activation adopts an existing one", "[engine][channels]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture fx(backend, {{"ChatEngine::Active", "false"}});
  CHECK(fx.admin().list({}).empty());
  CHECK_FALSE(engine::default_channel_id(*fx.store));

  const auto made = fx.admin().add(fields("Chat Channel", "support"), false);
  const auto active = core::Settings::defaults({{"database", fx.db->address()}});
  CHECK_FALSE(engine::ensure_default_channel(*fx.store, active, fx.clock));
  CHECK(engine::default_channel_id(*fx.store) == made.id);
  CHECK(fx.admin().list({}).size() == 1);
}

TEST_CASE("an invalid default channel name is a configuration error", "[engine][channels]") {
  test::TempDir dir;
  const auto settings = core::Settings::defaults(
      {{"database", dir.path() + "/x.db"}, {"ChatEngine::DefaultChatChannel", repeat("x", 201)}});
  core::ManualClock clock{0};
  CHECK(kind_of([&] { engine::open_database(settings, clock); }) == ErrorKind::config);
}

TEST_CASE("adding channels validates every field and writes nothing on error", "[engine][channels]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  auto admin = fx.admin();
  const auto before = fx.events();

  CHECK(kind_of([&] { admin.add(fields(""), false); }) == ErrorKind::data);
  CHECK(kind_of([&] { admin.add(fields("   "), false); }) == ErrorKind::data);
  CHECK(kind_of([&] { admin.add(fields(repeat("x", 201)), false); }) == ErrorKind::data);
  CHECK(kind_of([&] { admin.add(fields(repeat("ü", 201)), false); }) == ErrorKind::data);
  CHECK(kind_of([&] { admin.add(fields("tab\there"), false); }) == ErrorKind::data);
  CHECK(kind_of([&] { admin.add(fields("bad \xC3"), false); }) == ErrorKind::data);
  CHECK(kind_of([&] { admin.add(fields("no group", ""), false); }) == ErrorKind::data);
  auto no_group = fields("no group");
  no_group.group.reset();
  CHECK(kind_of([&] { admin.add(no_group, false); }) == ErrorKind::data);
  auto long_comment = fields("long comment");
  long_comment.comment = repeat("c", 251);
  CHECK(kind_of([&] { admin.add(long_comment, false); }) == ErrorKind::data);
  CHECK(kind_of([&] { admin.add(fields("Chat Channel"), false); }) == ErrorKind::data);  // duplicate

  CHECK(admin.list({}).size() == 1);
  CHECK(fx.events() == before);

  // 200 characters of two bytes each is within the limit: characters, not bytes, count.
  const auto c = admin.add(fields(repeat("ü", 200)), false);
  CHECK(c.id > 0);
  CHECK(admin.get(repeat("ü", 200)).id == c.id);
  CHECK(fx.events() == before + 1);
}

TEST_CASE("dry runs write nothing", "[engine][channels]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture fx(backend);
  auto admin = fx.admin();
  const auto before = fx.events();
  const auto c = admin.add(fields("Sales"), true);
  CHECK(c.id == 0);
  CHECK(c.name == "Sales");
  CHECK_THROWS(admin.get("Sales"));

  engine::ChannelFields f;
  f.validity = model::Validity::invalid;
  const auto entry = admin.update("Chat Channel", f, true);
  CHECK(entry.action == engine::PlanAction::updated);
  CHECK(admin.get("Chat Channel").validity == model::Validity::valid);
  CHECK(fx.events() == before);
}

TEST_CASE("updates change fields, log the change, and refuse conflicts", "[engine][channels]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  auto admin = fx.admin();
  const auto sales = admin.add(fields("Sales", "sales"), false);
  const auto before = fx.events();

  engine::ChannelFields f;
  f.validity = model::Validity::invalid_temporarily;
  f.public_users = true;
  f.comment = "paused";
  fx.clock.advance(1'000'000);
  const auto entry = admin.update(std::to_string(sales.id), f, false);
  CHECK(entry.action == engine::PlanAction::updated);
  CHECK(entry.changes.size() == 3);
  const auto now = admin.get("Sales");
  CHECK(now.validity == model::Validity::invalid_temporarily);
  CHECK(now.public_users);
  CHECK(now.comment == "paused");
  CHECK(now.change_time == sales.change_time + 1'000'000);
  CHECK(now.create_time == sales.create_time);

  const auto events = fx.store->list_events({});
  REQUIRE(events.size() == before + 1);
  CHECK(events.back().type == "ChannelUpdate");
  CHECK(events.back().channel_id == sales.id);
  const auto payload = nlohmann::json::parse(events.back().payload);
  CHECK(payload["changes"]["validity"]["after"] == "invalid-temporarily");

  // Setting what is already there changes nothing and logs nothing.
  CHECK(admin.update("Sales", f, false).action == engine::PlanAction::unchanged);
  CHECK(fx.events() == before + 1);

  engine::ChannelFields rename;
  rename.name = "Chat Channel";
  CHECK(kind_of([&] { admin.update("Sales", rename, false); }) == ErrorKind::data);
  CHECK(kind_of([&] { admin.update("Nope", f, false); }) == ErrorKind::not_found);
  CHECK(kind_of([&] { admin.get("9999"); }) == ErrorKind::not_found);
}

TEST_CASE("a channel name wins over an id when resolving", "[engine][channels]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture fx(backend);
  auto admin = fx.admin();
  const auto two = admin.add(fields("Second"), false);
  const auto named = admin.add(fields(std::to_string(two.id)), false);
  CHECK(admin.get(std::to_string(two.id)).id == named.id);
  CHECK(admin.get("1").name == "Chat Channel");
}

TEST_CASE("apply is idempotent and all or nothing", "[engine][channels]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  auto admin = fx.admin();
  const auto specs = engine::parse_channel_yaml(R"(
channels:
  - name: Chat Channel
    comment: The first channel
  - name: Sales
    group: sales
    public_users: true
---
channels:
  - name: Partners
    group: partners
    customer_users: false
    validity: invalid-temporarily
)", "test.yaml");
  REQUIRE(specs.size() == 3);

  const auto plan = admin.apply(specs, true);
  REQUIRE(plan.entries.size() == 3);
  CHECK(plan.entries[0].action == engine::PlanAction::updated);
  CHECK(plan.entries[1].action == engine::PlanAction::created);
  CHECK(plan.entries[2].action == engine::PlanAction::created);
  CHECK(admin.list({}).size() == 1);  // dry run

  const auto first = admin.apply(specs, false);
  CHECK(first.changed());
  CHECK(admin.list({}).size() == 3);
  CHECK(admin.get("Partners").validity == model::Validity::invalid_temporarily);
  CHECK_FALSE(admin.get("Partners").customer_users);
  CHECK(admin.get("Chat Channel").comment == "The first channel");
  CHECK(admin.get("Chat Channel").group == "users");  // omitted fields stay as they were

  const auto events = fx.events();
  const auto second = admin.apply(specs, false);
  CHECK_FALSE(second.changed());
  CHECK(fx.events() == events);
  CHECK_FALSE(admin.diff(specs).changed());

  auto more = specs;
  more[1].fields.comment = "changed";
  CHECK(admin.diff(more).changed());
}

TEST_CASE("apply rolls everything back when a write fails halfway", "[engine][channels]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture fx(backend);
  test::FaultyStore faulty(*fx.store);
  engine::ChannelAdmin admin(faulty, fx.clock, "tester");
  const auto specs = engine::parse_channel_yaml(
      "channels:\n  - {name: A, group: g}\n  - {name: B, group: g}\n  - {name: C, group: g}\n", "t.yaml");
  faulty.fail("insert_channel", 2, ErrorKind::temporary);
  CHECK(kind_of([&] { admin.apply(specs, false); }) == ErrorKind::temporary);
  CHECK(admin.list({}).size() == 1);
  CHECK(admin.apply(specs, false).changed());  // and the retry succeeds
  CHECK(admin.list({}).size() == 4);
}

TEST_CASE("apply refuses specs that conflict among themselves or are invalid", "[engine][channels]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture fx(backend);
  auto admin = fx.admin();
  const auto dup = engine::parse_channel_yaml("channels:\n  - {name: A, group: g}\n  - {name: A, group: h}\n", "d.yaml");
  CHECK(kind_of([&] { admin.apply(dup, false); }) == ErrorKind::data);
  const auto no_group = engine::parse_channel_yaml("channels:\n  - {name: New}\n", "n.yaml");
  try {
    admin.apply(no_group, false);
    FAIL("expected an error");
  } catch (const core::Error& e) {
    CHECK(e.kind() == ErrorKind::data);
    CHECK(std::string(e.what()).find("n.yaml:2:") != std::string::npos);
  }
  CHECK(admin.list({}).size() == 1);
}

TEST_CASE("channel files report the position of every problem", "[engine][channels]") {
  const auto error_of = [](const std::string& text) -> std::string {
    try {
      engine::parse_channel_yaml(text, "f.yaml");
    } catch (const core::Error& e) {
      CHECK(e.kind() == ErrorKind::data);
      return e.what();
    }
    FAIL("expected an error for: " << text);
    return {};
  };
  CHECK(error_of("channels:\n  - name: [oops\n").rfind("f.yaml:", 0) == 0);
  CHECK(error_of("channels:\n  - name: A\n    grup: x\n") .find("f.yaml:3:5: unknown field \"grup\"") == 0);
  CHECK(error_of("channels:\n  - name: A\n    validity: maybe\n").find("f.yaml:3:15:") == 0);
  CHECK(error_of("channels:\n  - name: A\n    public_users: sometimes\n").find("f.yaml:3:19:") == 0);
  CHECK(error_of("channels:\n  - group: g\n").find("f.yaml:2:5: channel has no name") == 0);
  CHECK(error_of("chanels: []\n").find("f.yaml:1:1: unknown key") == 0);
  CHECK(error_of("channels: {name: A}\n").find("'channels' must be a list") != std::string::npos);
  CHECK(error_of("- name: A\n").find("expected a mapping") != std::string::npos);
  CHECK(error_of("channels:\n  - name: \"\"\n").find("name must not be empty") != std::string::npos);
  CHECK(engine::parse_channel_yaml("", "empty.yaml").empty());
  CHECK(engine::parse_channel_yaml("channels:\n", "empty.yaml").empty());
}
