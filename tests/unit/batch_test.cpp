// Batch jobs on every available backend: cleanup (lib/engine/cleanup.hpp), export and import
// (lib/transcript/), and the pieces they stand on: threads, RTM ids, times, JSON strings.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sstream>

#include "core/text.hpp"
#include "engine/chats.hpp"
#include "engine/cleanup.hpp"
#include "engine/engine.hpp"
#include "store/store.hpp"
#include "support/databases.hpp"
#include "support/error_kind.hpp"
#include "transcript/export.hpp"
#include "transcript/import.hpp"
#include "transcript/json_text.hpp"

using namespace chatctl;
using core::ErrorKind;
using model::ChatterType;
using test::kind_of;

namespace {

constexpr core::Micros kHour = 3'600'000'000;
constexpr core::Micros kDay = 24 * kHour;

struct Fixture {
  explicit Fixture(const std::string& backend, std::vector<std::pair<std::string, std::string>> extra = {})
      : db(test::make_test_database(backend)) {
    extra.emplace_back("database", db->address());
    settings = core::Settings::defaults(extra);
    store = engine::open_database(*settings, clock);
  }
  std::unique_ptr<test::TestDatabase> db;
  std::optional<core::Settings> settings;
  core::ManualClock clock{1'700'000'000'000'000};
  std::unique_ptr<store::Store> store;
  engine::ChatEngine engine() { return engine::ChatEngine(*store, *settings, clock, "tester"); }
  engine::Cleanup cleanup() { return engine::Cleanup(*store, *settings, clock, "cron"); }

  // A chat with a customer and an agent, `messages` messages, one flag; closed when asked.
  model::ChatId chat(int messages, bool closed) {
    auto e = engine();
    engine::NewChat n;
    n.requester_id = "cust-1";
    n.requester_name = "Customer";
    const auto id = e.add_chat(n, false).id;
    e.add_participant(id, {"cust-1", "Customer", ChatterType::customer, model::ChatterActive::active}, false);
    engine::ParticipantSpec a{"agent-1", "Agent", ChatterType::user, model::ChatterActive::active,
                              model::PermissionLevel::owner};
    a.monitoring = model::Monitoring::all;
    e.add_participant(id, a, false);
    for (int i = 0; i < messages; ++i) {
      e.add_message(id, {i % 2 ? "agent-1" : "cust-1", i % 2 ? ChatterType::user : ChatterType::customer,
                         "message " + std::to_string(i)},
                    false);
    }
    e.set_flag(id, "NotificationNewChatSeen", "1", "agent-1", false);
    if (closed) e.set_status(id, model::ChatStatus::closed, false);
    return id;
  }
  std::size_t count_events(const std::string& type) {
    store::EventFilter f;
    f.type = type;
    f.limit = 100000;
    return store->list_events(f).size();
  }
};

std::string export_all(store::Store& store, bool lines = false, bool internal = true) {
  transcript::ExportOptions o;
  o.json_lines = lines;
  o.include_internal = internal;
  o.page_size = 2;  // several pages even in small tests
  std::ostringstream out;
  transcript::export_chats(store, o, out);
  return out.str();
}

transcript::ImportReport import_text(store::Store& store, const core::Clock& clock, const std::string& text,
                                     bool dry_run = false, std::size_t batch = 200) {
  std::istringstream in(text);
  transcript::ImportOptions o;
  o.source_name = "chats.json";
  o.dry_run = dry_run;
  o.batch_size = batch;
  return transcript::import_chats(store, clock, "importer", o, in);
}

}  // namespace

TEST_CASE("RTM ids are derived from integer ids and parse back exactly", "[transcript][ids]") {
  CHECK(model::rtm_chat_id(35) == "C00000000Z");
  CHECK(model::rtm_thread_id(36) == "T000000010");
  CHECK(model::rtm_event_id(1, 42) == "T000000001_42");
  for (const std::int64_t id : {1LL, 35LL, 36LL, 123456789LL, 101559956668415LL, 4'000'000'000'000'000'000LL}) {
    CHECK(model::parse_rtm_chat_id(model::rtm_chat_id(id)) == id);
    CHECK(model::parse_rtm_thread_id(model::rtm_thread_id(id)) == id);
  }
  CHECK_FALSE(model::parse_rtm_chat_id("T00000000Z"));   // a thread id is not a chat id
  CHECK_FALSE(model::parse_rtm_chat_id("C00000000z"));   // lower case is another spelling
  CHECK_FALSE(model::parse_rtm_chat_id("C0000000Z"));    // too short
  CHECK_FALSE(model::parse_rtm_chat_id("C000000000"));   // id 0 does not exist
  CHECK_FALSE(model::parse_rtm_chat_id("CZZZZZZZZZZZZZ"));  // past int64
  CHECK(model::parse_rtm_event_id("T000000001_42", 1) == 42);
  CHECK_FALSE(model::parse_rtm_event_id("T000000002_42", 1));
  CHECK_FALSE(model::parse_rtm_event_id("T000000001_042", 1));
  CHECK_FALSE(model::parse_rtm_event_id("T000000001_", 1));
}

TEST_CASE("RFC 3339 times and durations parse strictly", "[core][time]") {
  CHECK(core::parse_rfc3339("2017-10-12T15:19:21.010200Z") == 1507821561010200);
  CHECK(core::format_rfc3339(1507821561010200) == "2017-10-12T15:19:21.010200Z");
  CHECK(core::parse_rfc3339("2017-10-12T17:19:21.0102+02:00") == 1507821561010200);
  CHECK(core::parse_rfc3339("1970-01-01") == 0);
  CHECK(core::format_rfc3339(-1) == "1969-12-31T23:59:59.999999Z");
  CHECK(core::parse_rfc3339("2024-02-29"));
  CHECK_FALSE(core::parse_rfc3339("2023-02-29"));
  CHECK_FALSE(core::parse_rfc3339("2017-10-12T15:19:21"));  // no zone
  CHECK_FALSE(core::parse_rfc3339("2017-13-01"));
  CHECK_FALSE(core::parse_rfc3339("yesterday"));
  CHECK(core::parse_duration("90m") == 90 * 60'000'000LL);
  CHECK(core::parse_duration("7d") == 7 * kDay);
  CHECK(core::parse_duration("2w") == 14 * kDay);
  CHECK_FALSE(core::parse_duration("0h"));
  CHECK_FALSE(core::parse_duration("-1h"));
  CHECK_FALSE(core::parse_duration("5"));
  CHECK_FALSE(core::parse_duration("h"));
  CHECK_FALSE(core::parse_duration("99999999999999999w"));
}

TEST_CASE("JSON strings are escaped and always valid UTF-8", "[transcript][json]") {
  const auto enc = [](std::string_view s) {
    std::string out;
    transcript::append_json_string(out, s);
    return out;
  };
  CHECK(enc("plain") == "\"plain\"");
  CHECK(enc("a\"b\\c\n\t\x01") == "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  CHECK(enc("grüße ✓ 😁") == "\"grüße ✓ 😁\"");
  CHECK(enc("bad \xff byte") == "\"bad \xEF\xBF\xBD byte\"");
  CHECK(enc("\xC0\xAF") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");  // overlong '/'
  CHECK(enc("\xED\xA0\x80") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // a surrogate
  for (const std::string& s : std::vector<std::string>{"x\xe2\x82", "\xf4\x90\x80\x80", std::string("nul\0in", 6)}) {
    CHECK_NOTHROW(nlohmann::json::parse(enc(s)));
  }
}

TEST_CASE("a chat's life is threads: closing ends one, re-opening starts the next", "[engine][threads]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture f(backend);
  auto e = f.engine();
  const auto id = f.chat(2, false);
  auto threads = f.store->list_threads(id);
  REQUIRE(threads.size() == 1);
  CHECK(threads[0].active);
  f.clock.advance(1000);
  e.set_status(id, model::ChatStatus::closed, false);
  threads = f.store->list_threads(id);
  REQUIRE(threads.size() == 1);
  CHECK_FALSE(threads[0].active);
  CHECK(threads[0].close_time == f.clock.now());
  e.set_status(id, model::ChatStatus::active, false);
  e.add_message(id, {"agent-1", ChatterType::user, "again"}, false);
  threads = f.store->list_threads(id);
  REQUIRE(threads.size() == 2);
  CHECK(threads[1].active);
  const auto messages = e.messages(id, {});
  REQUIRE(messages.size() == 3);
  CHECK(messages[0].thread_id == threads[0].id);
  CHECK(messages[2].thread_id == threads[1].id);
}

TEST_CASE("cleanup removes closed chats past ChatTTL and old chats past ChatDecayTime", "[engine][cleanup]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture f(backend, {{"ChatEngine::ChatTTL", "2"}, {"ChatEngine::ChatDecayTime", "3"}});
  const auto old_closed = f.chat(3, true);
  const auto old_open = f.chat(2, false);
  f.clock.advance(2 * kHour + 1);
  const auto young_closed = f.chat(1, true);

  engine::CleanupOptions o;
  o.closed = true;
  auto r = f.cleanup().run(o);
  CHECK(r.removed.chats == 1);
  CHECK(r.removed.messages == 3);
  CHECK(r.removed.participants == 2);
  CHECK(r.removed.threads == 1);
  CHECK(r.removed.flags >= 1);
  CHECK(r.modes == std::vector<std::string>{"closed"});
  CHECK(r.cutoffs.at("closed") == f.clock.now() - 2 * kHour);
  CHECK_FALSE(f.store->find_chat(old_closed));
  CHECK(f.store->find_chat(old_open));
  CHECK(f.store->find_chat(young_closed));
  CHECK(f.count_events("ChatDelete") == 1);
  CHECK(f.store->list_messages({old_closed}).empty());
  CHECK(f.store->list_threads(old_closed).empty());

  // A second run finds nothing more: safe to run twice.
  CHECK(f.cleanup().run(o).removed.rows() == 0);

  // --old takes every status once unchanged for the decay time: the open chat is now 3 days
  // and 2 hours old, the younger closed one 2 hours short of 3 days.
  f.clock.advance(3 * kDay);
  o.closed = false;
  o.old = true;
  r = f.cleanup().run(o);
  CHECK(r.removed.chats == 1);
  CHECK_FALSE(f.store->find_chat(old_open));
  CHECK(f.store->find_chat(young_closed));
  CHECK(f.count_events("ChatDelete") == 2);
}

TEST_CASE("cleanup refuses an age of 0 and runs one at a time", "[engine][cleanup]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture f(backend, {{"ChatEngine::ChatTTL", "0"}});
  const auto id = f.chat(1, true);
  f.clock.advance(kDay);
  engine::CleanupOptions o;
  o.closed = true;
  CHECK(kind_of([&] { f.cleanup().run(o); }) == ErrorKind::config);
  CHECK(f.store->find_chat(id));  // never "delete everything"
  CHECK(kind_of([&] { f.cleanup().run({}); }) == ErrorKind::usage);

  // --older-than replaces the setting for one run; another process holding the lock wins.
  o.older_than = kHour;
  auto other = store::open_store({f.db->address()});
  {
    const auto held = other->try_process_lock("cleanup");
    REQUIRE(held);
    CHECK(kind_of([&] { f.cleanup().run(o); }) == ErrorKind::temporary);
    CHECK(f.store->find_chat(id));
  }
  CHECK(f.cleanup().run(o).removed.chats == 1);
}

TEST_CASE("cleanup works in bounded batches and a dry run counts exactly", "[engine][cleanup]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture f(backend);
  for (int i = 0; i < 40; ++i) f.chat(2, true);
  f.clock.advance(2 * kDay);
  engine::CleanupOptions o;
  o.closed = true;
  o.max_batch = 16;
  o.dry_run = true;
  std::size_t calls = 0;
  o.progress = [&](std::size_t done, std::size_t total) {
    ++calls;
    CHECK(total == 40);
    CHECK(done <= total);
  };
  auto dry = f.cleanup().run(o);
  CHECK(dry.removed.chats == 40);
  CHECK(dry.removed.messages == 80);
  CHECK(dry.chats.size() == 40);
  CHECK(dry.batches >= 3);  // at most 16 chats per transaction
  CHECK(calls == dry.batches);
  CHECK(f.store->list_chat_ids({}).size() == 40);  // nothing went
  CHECK(f.count_events("ChatDelete") == 0);

  o.dry_run = false;
  const auto real = f.cleanup().run(o);
  CHECK(real.removed.rows() == dry.removed.rows());
  CHECK(real.batches >= 3);
  CHECK(real.max_transaction_ms > 0);
  CHECK(f.store->list_chat_ids({}).empty());
}

TEST_CASE("export writes RTM chats; import re-creates them byte for byte", "[transcript]") {
  const auto source_backend = GENERATE(from_range(test::test_backends()));
  const auto target_backend = GENERATE(from_range(test::test_backends()));
  Fixture a(source_backend);
  auto e = a.engine();
  const auto first = a.chat(3, true);
  e.set_status(first, model::ChatStatus::active, false);
  e.add_message(first, {"agent-1", ChatterType::user, "note for agents", false, model::Audience::agents}, false);
  e.add_message(first, {"agent-1", ChatterType::user, "joined", true}, false);
  a.chat(1, false);
  a.chat(0, false);

  const auto text = export_all(*a.store);
  const auto doc = nlohmann::json::parse(text);
  REQUIRE(doc.size() == 3);
  const auto& c = doc[0];
  CHECK(c["id"] == model::rtm_chat_id(first));
  REQUIRE(c["threads"].size() == 2);
  CHECK(c["threads"][0]["active"] == false);
  CHECK(c["threads"][0]["next_thread_id"] == c["threads"][1]["id"]);
  CHECK(c["threads"][1]["previous_thread_id"] == c["threads"][0]["id"]);
  CHECK(c["threads"][0]["events"].size() == 3);
  const auto& events = c["threads"][1]["events"];
  REQUIRE(events.size() == 2);
  CHECK(events[0]["chatctl"]["audience"] == "agents");
  CHECK(events[1]["type"] == "system_message");
  CHECK(events[1]["system_message_type"] == "system_info");
  CHECK(c["access"]["group_ids"] == nlohmann::json::array({0}));
  CHECK(c["users"].size() == 2);
  CHECK(c["chatctl"]["status"] == "active");
  CHECK(c["chatctl"]["flags"].size() >= 1);

  // Without --include-internal the agents' note is left out.
  CHECK(nlohmann::json::parse(export_all(*a.store, false, false))[0]["threads"][1]["events"].size() == 1);

  Fixture b(target_backend);
  const auto r = import_text(*b.store, b.clock, text);
  CHECK(r.read == 3);
  CHECK(r.imported == 3);
  CHECK(export_all(*b.store) == text);
  CHECK(b.count_events("ChatImport") == 3);
  // JSON lines read back the same; running again skips everything.
  const auto again = import_text(*b.store, b.clock, export_all(*a.store, true));
  CHECK(again.skipped == 3);
  CHECK(again.imported == 0);
  CHECK(export_all(*b.store) == text);
  // New chats get ids after the imported ones.
  CHECK(b.chat(0, false) > first + 2);
}

TEST_CASE("import reports a malformed record by line and writes none of its batch", "[transcript]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture a(backend);
  for (int i = 0; i < 4; ++i) a.chat(1, false);
  const auto lines = export_all(*a.store, true);
  std::istringstream split(lines);
  std::vector<std::string> records;
  for (std::string l; std::getline(split, l);) records.push_back(l);
  REQUIRE(records.size() == 4);

  Fixture b(backend);
  // Batches of 2: the first batch lands, the second holds the bad record on line 4.
  std::string text = records[0] + "\n" + records[1] + "\n" + records[2] + "\n{\"id\": \"C000000004\"\n";
  const auto err = test::error_of([&] { import_text(*b.store, b.clock, text, false, 2); });
  CHECK(err.kind() == ErrorKind::data);
  CHECK_THAT(std::string(err.what()), Catch::StartsWith("chats.json:4: not valid JSON"));
  CHECK(b.store->list_chat_ids({}).size() == 2);
  CHECK_FALSE(b.store->find_chat(3));

  // A well-formed record that breaks a rule names its field.
  auto bad = nlohmann::ordered_json::parse(records[3]);
  bad["threads"][0]["events"][0]["author_id"] = "nobody";
  const auto rule = test::error_of([&] { import_text(*b.store, b.clock, records[2] + "\n" + bad.dump()); });
  CHECK_THAT(std::string(rule.what()), Catch::Contains("chats.json:2: chat C000000004.threads[0].events[0].author_id"));
  CHECK_FALSE(b.store->find_chat(3));

  // A group that is no channel here is refused; a dry run writes nothing.
  auto foreign = nlohmann::ordered_json::parse(records[3]);
  foreign["access"]["group_ids"] = {99};
  CHECK(kind_of([&] { import_text(*b.store, b.clock, foreign.dump()); }) == ErrorKind::data);
  const auto dry = import_text(*b.store, b.clock, lines, true);
  CHECK(dry.imported == 2);
  CHECK(dry.skipped == 2);
  CHECK(b.store->list_chat_ids({}).size() == 2);
}

TEST_CASE("participant changes count as activity: such a chat is not old", "[engine][cleanup]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture f(backend, {{"ChatEngine::ChatDecayTime", "1"}});
  const auto id = f.chat(1, false);
  f.clock.advance(2 * kDay);
  auto e = f.engine();
  engine::ParticipantSpec late{"agent-2", "Agent Two", ChatterType::user, model::ChatterActive::active,
                               model::PermissionLevel::participant};
  e.add_participant(id, late, false);
  CHECK(e.chat(id).change_time == f.clock.now());
  engine::CleanupOptions o;
  o.old = true;
  CHECK(f.cleanup().run(o).removed.chats == 0);
  f.clock.advance(2 * kDay);
  e.remove_participant(id, ChatterType::user, "agent-2", false);
  CHECK(e.chat(id).change_time == f.clock.now());
  CHECK(f.cleanup().run(o).removed.chats == 0);
  f.clock.advance(2 * kDay);
  CHECK(f.cleanup().run(o).removed.chats == 1);
}
