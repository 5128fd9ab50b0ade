// The RTM service in process (lib/rtm/): every action over the real engine, pushes from the event
// log (including another session's writes), errors and session rules, on every backend.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <deque>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "core/error.hpp"
#include "core/text.hpp"
#include "engine/channels.hpp"
#include "engine/chats.hpp"
#include "engine/engine.hpp"
#include "engine/people.hpp"
#include "rtm/protocol.hpp"
#include "rtm/pushes.hpp"
#include "rtm/service.hpp"
#include "support/agents.hpp"
#include "support/databases.hpp"
#include "support/rtm_client.hpp"

using namespace chatctl;
using json = nlohmann::json;

namespace {

struct Fixture {
  explicit Fixture(const std::string& backend, std::vector<std::pair<std::string, std::string>> extra = {})
      : db(test::make_test_database(backend)) {
    extra.emplace_back("database", db->address());
    settings = core::Settings::defaults(extra);
    store = engine::open_database(settings, clock);
    engine::People people(*store, settings, clock, "admin");
    engine::CustomerFields f;
    f.id = "cust-1";
    f.name = "Thomas Anderson";
    people.add_customer(f, false);
    token = people.issue_token("cust-1", 3600, false).token;
    service = std::make_unique<rtm::Service>(settings, clock);
  }
  ~Fixture() { service.reset(); }

  engine::People people() { return engine::People(*store, settings, clock, "admin"); }
  engine::ChatEngine chats() { return engine::ChatEngine(*store, settings, clock, "agent1"); }

  void agent_online() {
    auto p = people();
    test::add_online_agent(p);
  }

  std::unique_ptr<test::TestDatabase> db;
  core::SystemClock clock;
  core::Settings settings = core::Settings::defaults();
  std::unique_ptr<store::Store> store;
  std::string token;
  std::unique_ptr<rtm::Service> service;
};

// Runs functions on a thread of its own, in the order given, a little late: an I/O thread, as
// chatd's courier has it.
class CourierThread {
 public:
  CourierThread() : thread_([this] { run(); }) {}
  CourierThread(const CourierThread&) = delete;
  CourierThread& operator=(const CourierThread&) = delete;
  ~CourierThread() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  rtm::Service::Courier courier() {
    return [this](std::function<void()> fn) {
      {
        std::lock_guard lock(mu_);
        queue_.push_back(std::move(fn));
      }
      cv_.notify_one();
    };
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      // A busy I/O thread comes late: let several batches' functions queue up.
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      lock.lock();
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_{false};
  std::thread thread_;  // last: starts once the rest is there
};

// agent1 joins the chat as its owner, as `chatctl participant add` makes it.
void join_agent1(engine::ChatEngine& chats, model::ChatId id) {
  engine::ParticipantSpec agent;
  agent.chatter_id = "agent1";
  agent.chatter_name = "Agent Smith";
  agent.permission = model::PermissionLevel::owner;
  chats.add_participant(id, agent, false);
}

// A message agent1 writes, as `chatctl message add` makes it.
engine::NewMessage agent1_says(std::string text) {
  engine::NewMessage m;
  m.chatter_id = "agent1";
  m.text = std::move(text);
  return m;
}

bool ok(const json& r) { return r.is_object() && r.value("success", false); }
std::string error_type(const json& r) {
  return r.is_object() && r.contains("payload") && r["payload"].contains("error") ? r["payload"]["error"].value("type", "")
                                                                                   : "";
}

}  // namespace

TEST_CASE("rtm: login, start a chat, exchange events with an agent from the shell", "[rtm]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture fx(backend);
  test::RtmConnection c(*fx.service);

  CHECK(error_type(c.request("get_customer")) == "authentication");
  CHECK(error_type(c.request("login", {{"token", "Bearer nope"}})) == "authentication");
  auto login = c.request("login", {{"token", "Bearer " + fx.token}, {"customer", {{"email", "t.anderson@example.com"}}}});
  REQUIRE(ok(login));
  CHECK(login["payload"]["customer"]["id"] == "cust-1");
  CHECK(login["payload"]["customer"]["email"] == "t.anderson@example.com");
  CHECK(login["payload"]["customer"]["statistics"]["visits_count"] == 1);
  CHECK(login["payload"]["has_active_thread"] == false);
  CHECK(login["payload"]["__priv_dynamic_config"]["online_groups_ids"] == json::array());
  CHECK(error_type(c.request("login", {{"token", fx.token}})) == "not_allowed");

  // No agent on-line: only a continuous chat may start.
  CHECK(error_type(c.request("start_chat")) == "groups_offline");
  fx.agent_online();
  auto started = c.request("start_chat", {{"chat", {{"properties", {{"ns", {{"k", "v"}}}}},
                                                    {"thread", {{"events", {{{"type", "message"}, {"text", "hello"}}}}}}}}});
  REQUIRE(ok(started));
  const std::string chat_id = started["payload"]["chat_id"];
  const std::string thread_id = started["payload"]["thread_id"];
  CHECK(started["payload"]["event_ids"].size() == 1);
  auto incoming = c.push("incoming_chat");
  REQUIRE(incoming.is_object());
  CHECK(incoming["payload"]["chat"]["id"] == chat_id);
  CHECK(incoming["payload"]["chat"]["thread"]["events"][0]["text"] == "hello");
  CHECK(incoming["payload"]["chat"]["properties"]["ns"]["k"] == "v");

  // An agent joins and writes from the shell: the customer gets both as pushes.
  const auto id = *model::parse_rtm_chat_id(chat_id);
  auto engine = fx.chats();
  join_agent1(engine, id);
  auto added = c.push("user_added_to_chat");
  REQUIRE(added.is_object());
  CHECK(added["payload"]["user"]["id"] == "agent1");
  auto msg = agent1_says("How can I help?");
  engine.add_message(id, msg, false);
  auto ev = c.push("incoming_event");
  REQUIRE(ev.is_object());
  CHECK(ev["payload"]["event"]["text"] == "How can I help?");
  CHECK(ev["payload"]["event"]["author_id"] == "agent1");
  // Internal messages never reach customers.
  msg.text = "internal note";
  msg.audience = model::Audience::agents;
  engine.add_message(id, msg, false);
  engine.typing(id, "agent1", true);
  auto typing = c.push("incoming_typing_indicator");
  REQUIRE(typing.is_object());
  CHECK(typing["payload"]["typing_indicator"]["is_typing"] == true);

  auto sent = c.request("send_event", {{"chat_id", chat_id}, {"event", {{"type", "message"}, {"text", "thanks"}}}});
  REQUIRE(ok(sent));
  auto own = c.push("incoming_event");
  CHECK(own["payload"]["event"]["id"] == sent["payload"]["event_id"]);

  auto chat = c.request("get_chat", {{"chat_id", chat_id}});
  REQUIRE(ok(chat));
  const auto& events = chat["payload"]["thread"]["events"];
  REQUIRE(events.size() == 3);
  CHECK(events[1]["text"] == "How can I help?");
  for (const auto& e : events) CHECK(e.value("text", "") != "internal note");

  // Properties, seen marks.
  CHECK(ok(c.request("update_thread_properties", {{"chat_id", chat_id}, {"thread_id", thread_id},
                                                  {"properties", {{"ns", {{"t", 1}}}}}})));
  CHECK(c.push("thread_properties_updated")["payload"]["properties"]["ns"]["t"] == 1);
  CHECK(ok(c.request("delete_chat_properties", {{"chat_id", chat_id}, {"properties", {{"ns", {"k"}}}}})));
  CHECK(c.push("chat_properties_deleted").is_object());
  CHECK(ok(c.request("mark_events_as_seen", {{"chat_id", chat_id}, {"seen_up_to", "2030-01-01T00:00:00Z"}})) ==
        true);

  // Deactivate, then activate again: a new thread.
  CHECK(ok(c.request("deactivate_chat", {{"chat_id", chat_id}})));
  auto deactivated = c.push("chat_deactivated");
  REQUIRE(deactivated.is_object());
  CHECK(deactivated["payload"]["user_id"] == "cust-1");
  CHECK(error_type(c.request("send_event", {{"chat_id", chat_id}, {"event", {{"type", "message"}, {"text", "x"}}}})) ==
        "chat_inactive");
  CHECK(error_type(c.request("deactivate_chat", {{"chat_id", chat_id}})) == "chat_inactive");
  auto activated = c.request("activate_chat", {{"chat", {{"id", chat_id}}}});
  REQUIRE(ok(activated));
  CHECK(activated["payload"]["thread_id"] != thread_id);
  CHECK(c.push("incoming_chat").is_object());
  auto threads = c.request("list_threads", {{"chat_id", chat_id}});
  REQUIRE(ok(threads));
  CHECK(threads["payload"]["found_threads"] == 2);
  CHECK(threads["payload"]["threads"][0]["id"] == activated["payload"]["thread_id"]);
  auto chats = c.request("list_chats");
  REQUIRE(ok(chats));
  CHECK(chats["payload"]["total_chats"] == 1);
  CHECK(chats["payload"]["chats_summary"][0]["last_event_per_type"].contains("message"));
}

TEST_CASE("rtm: an event of the log the router cannot read is skipped; those after it are pushed", "[rtm]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  Fixture fx(backend);
  fx.agent_online();
  test::RtmConnection c(*fx.service);
  REQUIRE(ok(c.request("login", {{"token", "Bearer " + fx.token}})));
  auto started = c.request("start_chat");
  REQUIRE(ok(started));
  REQUIRE(c.push("incoming_chat").is_object());
  const auto id = *model::parse_rtm_chat_id(started["payload"]["chat_id"].get<std::string>());
  auto engine = fx.chats();
  join_agent1(engine, id);
  REQUIRE(c.push("user_added_to_chat").is_object());

  // Events another tool wrote, their fields of other types than chatctl writes: each would make
  // the router throw, and the log be read again and again from before it, pushing nothing more.
  {
    store::WriteTransaction tx(*fx.store);
    store::EventRecord e;
    e.time = fx.clock.now();
    e.actor = "a tool";
    e.chat_id = id;
    e.type = "ChatMessageAdd";
    e.payload = R"({"message_id":"one","thread_id":[]})";
    fx.store->append_event(e);
    e.type = "ChatParticipantAdd";
    e.payload = R"({"chatter_id":"cust-1","chatter_type":"Customer","chatter_active":"yes"})";
    fx.store->append_event(e);
    e.type = "ChatParticipantRemove";
    e.payload = R"({"chatter_id":"cust-1","chatter_type":"Customer","chatter_active_before":"yes"})";
    fx.store->append_event(e);
    tx.commit();
  }
  engine.add_message(id, agent1_says("after them"), false);
  auto ev = c.push("incoming_event");
  REQUIRE(ev.is_object());
  CHECK(ev["payload"]["event"]["text"] == "after them");
}

TEST_CASE("rtm: malformed requests get validation errors, and the session survives", "[rtm]") {
  Fixture fx("sqlite");
  test::RtmConnection c(*fx.service);
  for (const std::string bad : {"", "{", "[]", "42", R"({"action":7})", R"({"payload":{}})",
                                R"({"action":"ping","request_id":5})", R"({"action":"ping","payload":[]})"}) {
    INFO(bad);
    c.raw(bad);
    CHECK(error_type(c.any_response()) == "validation");
  }
  // A bad request_id still gets the action echoed, and a bad action the request_id.
  c.raw(R"({"action":"get_customer","request_id":5})");
  auto echoed = c.any_response();
  CHECK(echoed["action"] == "get_customer");
  CHECK(error_type(echoed) == "validation");
  c.raw(R"({"action":7,"request_id":"r7"})");
  CHECK(c.any_response()["request_id"] == "r7");
  CHECK(error_type(c.request("no_such_action")) == "validation");
  REQUIRE(ok(c.request("login", {{"token", fx.token}})));
  CHECK(error_type(c.request("send_event", {{"chat_id", "C000000001"}, {"event", {{"type", "message"}, {"text", "x"}}}})) ==
        "not_found");
  CHECK(error_type(c.request("list_chats", {{"limit", 26}})) == "validation");
  CHECK(error_type(c.request("list_chats", {{"page_id", "x"}, {"limit", 2}})) == "validation");
  CHECK(error_type(c.request("list_threads", {{"chat_id", "C000000001"}, {"limit", 2}, {"min_events_count", 3}})) ==
        "validation");
  CHECK(error_type(c.request("update_customer")) == "validation");
  CHECK(error_type(c.request("list_group_statuses")) == "validation");
  CHECK(error_type(c.request("get_predicted_agent")) == "group_offline");
  CHECK(error_type(c.request("accept_greeting", {{"greeting_id", 1}, {"unique_id", "nope"}})) == "greeting_not_found");
  CHECK(error_type(c.request("get_form", {{"group_id", 99}, {"type", "prechat"}})) == "group_not_found");
  auto started = c.request("start_chat", {{"continuous", true}});
  REQUIRE(ok(started));
  const std::string chat_id = started["payload"]["chat_id"];
  for (const json& ev : {json{{"type", "file"}}, json{{"type", "file"}, {"url", "ftp://x"}},
                         json{{"type", "rich_message"}, {"template_id", "nope"}}, json{{"type", "filled_form"}},
                         json{{"type", "message"}, {"text", std::string(16 * 1024 + 1, 'a')}},
                         json{{"type", "message"}, {"text", "x"}, {"recipients", "agents"}}, json{{"type", "bogus"}},
                         json{{"type", "message"}, {"text", "x"}, {"custom_id", std::string("a\0b", 3)}},
                         json{{"type", "rich_message"}, {"template_id", "cards"},
                              {"elements", {{{"buttons", {{{"text", "no postback id"}}}}}}}},
                         json{{"type", "rich_message"}, {"template_id", "cards"},
                              {"elements", {{{"buttons", {{{"text", "Go"}, {"type", "url"}, {"postback_id", "go"}}}}}}}}}) {
    INFO(ev.dump());
    CHECK(error_type(c.request("send_event", {{"chat_id", chat_id}, {"event", ev}})) == "validation");
  }
  // seen_up_to is a date-time, not a date.
  CHECK(error_type(c.request("mark_events_as_seen", {{"chat_id", chat_id}, {"seen_up_to", "2030-01-01"}})) ==
        "validation");
  CHECK(ok(c.request("ping")));
}

TEST_CASE("rtm: endpoint checks, pending limit, connection limit, bans and revoked tokens", "[rtm]") {
  Fixture fx("sqlite", {{"chatd_connections_per_customer", "1"}});
  CHECK(fx.service->check_endpoint("/v3.2/customer/rtm/ws?license_id=1").empty());
  CHECK(fx.service->check_endpoint("/v3.1/customer/rtm/ws?license_id=1") == "unsupported_version");
  CHECK(fx.service->check_endpoint("/v3.2/customer/rtm/ws?license_id=2") == "license_not_found");
  CHECK(fx.service->check_endpoint("/v3.2/customer/rtm/ws") == "license_not_found");

  test::RtmConnection a(*fx.service);
  REQUIRE(ok(a.request("login", {{"token", fx.token}})));
  test::RtmConnection b(*fx.service);
  b.raw(json{{"action", "login"}, {"payload", {{"token", fx.token}}}}.dump());
  auto refused = b.push("customer_disconnected");
  CHECK(refused["payload"]["reason"] == "too_many_connections");

  auto p = fx.people();
  engine::CustomerFields ban;
  ban.banned = true;
  p.update_customer("cust-1", ban, false);
  CHECK(a.push("customer_disconnected")["payload"]["reason"] == "customer_banned");
  CHECK(a.sink().closed());
  test::RtmConnection banned(*fx.service);
  CHECK(error_type(banned.request("login", {{"token", fx.token}})) == "customer_banned");
  CHECK(banned.push("customer_disconnected")["payload"]["reason"] == "customer_banned");
  CHECK(banned.sink().closed());
  ban.banned = false;
  p.update_customer("cust-1", ban, false);
  test::RtmConnection c(*fx.service);
  REQUIRE(ok(c.request("login", {{"token", fx.token}})));
  p.revoke_tokens(0, std::string("cust-1"), false);
  CHECK(c.push("customer_disconnected")["payload"]["reason"] == "access_token_expired");

  // An expired token: the login fails and the client is told to get a new one.
  const auto short_lived = p.issue_token("cust-1", 1, false).token;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  test::RtmConnection late(*fx.service);
  CHECK(error_type(late.request("login", {{"token", short_lived}})) == "authentication");
  CHECK(late.push("customer_disconnected")["payload"]["reason"] == "access_token_expired");
}

TEST_CASE("rtm: login sums up the customer's chats: unread events, threads, an active one", "[rtm]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  fx.agent_online();
  const auto login = [&] {
    test::RtmConnection c(*fx.service);
    auto r = c.request("login", {{"token", fx.token}});
    REQUIRE(ok(r));
    return r["payload"];
  };
  auto first = login();
  CHECK(first["chats"] == json::array());
  CHECK(first["customer"]["statistics"]["chats_count"] == 0);
  CHECK(first["has_active_thread"] == false);

  test::RtmConnection c(*fx.service);
  REQUIRE(ok(c.request("login", {{"token", fx.token}})));
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    const auto started = c.request("start_chat", {{"chat", {{"thread", {{"events", {{{"type", "message"}, {"text", "hi"}}}}}}}}});
    REQUIRE(ok(started));
    ids.push_back(started["payload"]["chat_id"]);
  }
  // The first chat: closed and reopened (two threads), then closed; the agent writes in it. The
  // second: only an internal note, which the customer never sees.
  REQUIRE(ok(c.request("deactivate_chat", {{"chat_id", ids[0]}})));
  REQUIRE(ok(c.request("activate_chat", {{"chat", {{"id", ids[0]}}}})));
  const auto first_id = *model::parse_rtm_chat_id(ids[0]);
  const auto second_id = *model::parse_rtm_chat_id(ids[1]);
  auto engine = fx.chats();
  join_agent1(engine, first_id);
  join_agent1(engine, second_id);
  auto msg = agent1_says("How can I help?");
  engine.add_message(first_id, msg, false);
  msg.text = "internal note";
  msg.audience = model::Audience::agents;
  engine.add_message(second_id, msg, false);
  REQUIRE(ok(c.request("deactivate_chat", {{"chat_id", ids[0]}})));

  auto again = login();
  CHECK(again["customer"]["statistics"]["chats_count"] == 2);
  CHECK(again["customer"]["statistics"]["threads_count"] == 3);
  CHECK(again["has_active_thread"] == true);
  CHECK(again["chats"] == json::array({{{"chat_id", ids[0]}, {"has_unread_events", true}},
                                       {{"chat_id", ids[1]}, {"has_unread_events", false}}}));
  REQUIRE(ok(c.request("mark_events_as_seen", {{"chat_id", ids[0]}, {"seen_up_to", "2099-01-01T00:00:00Z"}})));
  REQUIRE(ok(c.request("deactivate_chat", {{"chat_id", ids[1]}})));
  auto seen = login();
  CHECK(seen["chats"][0]["has_unread_events"] == false);
  CHECK(seen["has_active_thread"] == false);
}

TEST_CASE("rtm: limits on online customers and on a customer's active chats", "[rtm]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend, {{"chatd_online_customers", "1"}, {"chatd_active_chats_per_customer", "2"}});
  fx.agent_online();
  auto p = fx.people();
  engine::CustomerFields f;
  f.id = "cust-2";
  p.add_customer(f, false);
  const auto token2 = p.issue_token("cust-2", 3600, false).token;

  // One customer on-line at a time; its second connection is no new customer.
  auto a = std::make_unique<test::RtmConnection>(*fx.service);
  REQUIRE(ok(a->request("login", {{"token", fx.token}})));
  auto a2 = std::make_unique<test::RtmConnection>(*fx.service);
  REQUIRE(ok(a2->request("login", {{"token", fx.token}})));
  test::RtmConnection b(*fx.service);
  CHECK(error_type(b.request("login", {{"token", token2}})) == "users_limit_reached");
  CHECK(!b.sink().closed(std::chrono::milliseconds(0)));
  CHECK(p.customer("cust-2").availability != model::CustomerAvailability::online);
  CHECK(error_type(b.request("get_customer")) == "authentication");  // no session was left behind
  // Once cust-1's connections are gone, the place is free again.
  a.reset();
  a2.reset();
  bool admitted = false;
  for (int i = 0; i < 100 && !admitted; ++i) {
    admitted = ok(b.request("login", {{"token", token2}}));
    if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(admitted);

  // Two chats that are not closed at most: a third is refused until one is deactivated.
  std::vector<std::string> chats;
  for (int i = 0; i < 2; ++i) {
    const auto started = b.request("start_chat");
    REQUIRE(ok(started));
    chats.push_back(started["payload"]["chat_id"]);
  }
  const auto third = b.request("start_chat");
  CHECK(error_type(third) == "limit_reached");
  CHECK(fx.chats().chats(engine::ChatQuery{}).size() == 2);
  REQUIRE(ok(b.request("deactivate_chat", {{"chat_id", chats[0]}})));
  const auto started = b.request("start_chat");
  REQUIRE(ok(started));
  // Reactivating the first would make three.
  CHECK(error_type(b.request("activate_chat", {{"chat", {{"id", chats[0]}}}})) == "limit_reached");
  REQUIRE(ok(b.request("deactivate_chat", {{"chat_id", chats[1]}})));
  CHECK(ok(b.request("activate_chat", {{"chat", {{"id", chats[0]}}}})));
  // A bad group is told as such, not as the limit.
  CHECK(error_type(b.request("start_chat", {{"chat", {{"access", {{"group_ids", {99}}}}}}})) == "group_not_found");
  // A chat an agent removed the customer from does not count: the customer could not close it.
  fx.chats().remove_participant(*model::parse_rtm_chat_id(started["payload"]["chat_id"].get<std::string>()),
                                model::ChatterType::customer,
                                "cust-2", false);
  CHECK(ok(b.request("start_chat")));
}

TEST_CASE("rtm: pushes of who takes part, of pages and of initial properties; groups a customer may use", "[rtm]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  fx.agent_online();
  // A channel of agent1's group that customers may not use.
  engine::ChannelFields closed;
  closed.name = "Agents only";
  closed.group = "users";
  closed.customer_users = false;
  closed.public_users = false;
  const auto agents_only = engine::ChannelAdmin(*fx.store, fx.clock, "admin").add(closed, false);
  test::RtmConnection c(*fx.service);
  // A login that changes the customer and its page says both.
  const auto login = c.request("login", {{"token", fx.token},
                                         {"customer", {{"name", "Neo"}}},
                                         {"customer_page", {{"url", "https://example.com/a"}, {"title", "A"}}}});
  REQUIRE(ok(login));
  CHECK(c.push("customer_updated")["payload"]["customer"]["name"] == "Neo");
  CHECK(c.push("customer_page_updated")["payload"]["url"] == "https://example.com/a");
  // Only groups the customer could start a chat in are on-line for it.
  const auto online = login["payload"]["__priv_dynamic_config"]["online_groups_ids"];
  CHECK(online == json::array({0}));
  CHECK(error_type(c.request("start_chat", {{"chat", {{"access", {{"group_ids", {agents_only.id}}}}}}})) ==
        "group_not_found");
  // An empty list of groups asks for none.
  const auto none = c.request("list_group_statuses", {{"group_ids", json::array()}});
  REQUIRE(ok(none));
  CHECK(none["payload"]["groups_status"] == json::object());
  CHECK(c.request("list_group_statuses", {{"all", true}})["payload"]["groups_status"] == json{{"0", "online"}});

  // incoming_chat carries the initial properties: no property pushes of their own.
  const auto started = c.request("start_chat", {{"chat", {{"properties", {{"ns", {{"k", "v"}}}}},
                                                          {"thread", {{"properties", {{"ns", {{"t", 1}}}}}}}}}});
  REQUIRE(ok(started));
  const std::string chat_id = started["payload"]["chat_id"];
  const auto id = *model::parse_rtm_chat_id(chat_id);
  CHECK(c.push("incoming_chat")["payload"]["chat"]["properties"]["ns"]["k"] == "v");

  // Removed from the shell by someone who is not an agent: one push, and no requester_id.
  engine::ChatEngine shell(*fx.store, fx.settings, fx.clock, "root");
  shell.remove_participant(id, model::ChatterType::customer, "cust-1", false);
  const auto removed = c.push("user_removed_from_chat");
  REQUIRE(removed.is_object());
  CHECK(removed["payload"]["user_id"] == "cust-1");
  CHECK(!removed["payload"].contains("requester_id"));
  // Pushes come in order: once the next one is here, any earlier one is too.
  CHECK(c.push("chat_properties_updated", std::chrono::milliseconds(0)).is_null());
  CHECK(c.push("thread_properties_updated", std::chrono::milliseconds(0)).is_null());
  CHECK(c.push("user_removed_from_chat", std::chrono::milliseconds(0)).is_null());
  // A customer removed from the chat may read it, not change it.
  CHECK(ok(c.request("get_chat", {{"chat_id", chat_id}})));
  CHECK(error_type(c.request("update_chat_properties", {{"chat_id", chat_id}, {"properties", {{"ns", {{"k", "w"}}}}}})) ==
        "authorization");
  CHECK(error_type(c.request("send_sneak_peek", {{"chat_id", chat_id}, {"sneak_peek_text", "hi"}})) == "authorization");

  // Added back by an agent: the customer hears of it, with who did it.
  engine::ParticipantSpec back;
  back.chatter_id = "cust-1";
  back.chatter_name = "Neo";
  back.chatter_type = model::ChatterType::customer;
  fx.chats().add_participant(id, back, false);
  const auto added = c.push("user_added_to_chat");
  REQUIRE(added.is_object());
  CHECK(added["payload"]["user"]["id"] == "cust-1");
  CHECK(added["payload"]["requester_id"] == "agent1");
  CHECK(ok(c.request("update_chat_properties", {{"chat_id", chat_id}, {"properties", {{"ns", {{"k", "w"}}}}}})));
  CHECK(c.push("chat_properties_updated")["payload"]["properties"]["ns"]["k"] == "w");

  // A chat made from the shell for the customer: it hears of it once it takes part, and can use it.
  engine::NewChat made;
  made.requester_id = "cust-1";
  made.requester_name = "Neo";
  made.requester_type = model::ChatterType::customer;
  const auto shell_chat = shell.add_chat(made, false).id;
  join_agent1(shell, shell_chat);
  shell.add_participant(shell_chat, back, false);
  const auto told = c.push("incoming_chat");
  REQUIRE(told.is_object());
  CHECK(told["payload"]["chat"]["id"] == model::rtm_chat_id(shell_chat));
  CHECK(told["payload"]["chat"]["users"].size() == 2);
  CHECK(c.push("user_added_to_chat", std::chrono::milliseconds(0)).is_null());
  CHECK(ok(c.request("send_event", {{"chat_id", model::rtm_chat_id(shell_chat)},
                                    {"event", {{"type", "message"}, {"text", "hi"}}}})));
  CHECK(c.push("incoming_event")["payload"]["event"]["text"] == "hi");

  // Invited (added inactive): nothing of the chat until the customer is made active, and then
  // the whole chat.
  const auto invited_chat = shell.add_chat(made, false).id;
  join_agent1(shell, invited_chat);
  engine::ParticipantSpec invited = back;
  invited.active = model::ChatterActive::inactive;
  shell.add_participant(invited_chat, invited, false);
  engine::NewMessage early;
  early.chatter_id = "agent1";
  early.text = "before you joined";
  shell.add_message(invited_chat, early, false);
  engine::ParticipantChange accept;
  accept.active = model::ChatterActive::active;
  shell.update_participant(invited_chat, model::ChatterType::customer, "cust-1", accept, false);
  const auto joined = c.push("incoming_chat");
  REQUIRE(joined.is_object());
  CHECK(joined["payload"]["chat"]["id"] == model::rtm_chat_id(invited_chat));
  CHECK(c.push("incoming_event", std::chrono::milliseconds(0)).is_null());
  CHECK(c.push("user_added_to_chat", std::chrono::milliseconds(0)).is_null());

  // A login's page is checked as update_customer_page checks it.
  test::RtmConnection d(*fx.service);
  CHECK(error_type(d.request("login", {{"token", fx.token}, {"customer_page", {{"url", "javascript:alert(1)"}}}})) ==
        "validation");

  // No session fields set, none returned.
  REQUIRE(ok(c.request("set_customer_session_fields", {{"session_fields", json::array()}})));
  CHECK(!c.request("get_customer")["payload"].contains("session_fields"));
}

TEST_CASE("rtm: list_chats orders chats by their last thread, both ways, across pages", "[rtm]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  test::RtmConnection c(*fx.service);
  REQUIRE(ok(c.request("login", {{"token", fx.token}})));
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    const auto started = c.request("start_chat", {{"continuous", true}});
    REQUIRE(ok(started));
    ids.push_back(started["payload"]["chat_id"]);
    REQUIRE(ok(c.request("deactivate_chat", {{"chat_id", ids.back()}})));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // distinct thread times
  }
  // The oldest chat gets a new thread: it is now the most recent.
  REQUIRE(ok(c.request("activate_chat", {{"chat", {{"id", ids[0]}}}})));
  const auto listed = [&](const json& payload) {
    std::vector<std::string> got;
    for (const auto& s : payload["chats_summary"]) got.push_back(s["id"]);
    return got;
  };
  auto desc = c.request("list_chats", {{"limit", 2}});
  REQUIRE(ok(desc));
  CHECK(desc["payload"]["total_chats"] == 3);
  CHECK(listed(desc["payload"]) == std::vector<std::string>{ids[0], ids[2]});
  auto rest = c.request("list_chats", {{"page_id", desc["payload"]["next_page_id"]}});
  REQUIRE(ok(rest));
  CHECK(listed(rest["payload"]) == std::vector<std::string>{ids[1]});
  auto asc = c.request("list_chats", {{"limit", 3}, {"sort_order", "asc"}});
  REQUIRE(ok(asc));
  CHECK(listed(asc["payload"]) == std::vector<std::string>{ids[1], ids[2], ids[0]});
  CHECK(asc["payload"]["chats_summary"][2]["active"] == true);
}

TEST_CASE("rtm: deadlines close silent connections", "[rtm]") {
  Fixture fx("sqlite", {{"chatd_login_timeout_ms", "200"}, {"chatd_ping_timeout_ms", "300"}});
  test::RtmConnection idle(*fx.service);
  CHECK(idle.push("customer_disconnected", std::chrono::seconds(3))["payload"]["reason"] == "connection_timeout");
  test::RtmConnection quiet(*fx.service);
  REQUIRE(ok(quiet.request("login", {{"token", fx.token}})));
  CHECK(quiet.push("customer_disconnected", std::chrono::seconds(3))["payload"]["reason"] == "connection_timeout");
}

TEST_CASE("rtm: SQLite's WAL stays bounded under steady writes", "[rtm]") {
  // SQLite restarts its WAL only when the writer begins on a fully checkpointed log; checkpoints
  // from another connection alone (chatd's checkpointer) let it grow by every commit, without
  // bound: 153 MB here. Past chatd_wal_bytes the worker completes the checkpoint itself.
  Fixture fx("sqlite", {{"chatd_wal_bytes", "1048576"}});
  fx.agent_online();
  test::RtmConnection c(*fx.service);
  REQUIRE(ok(c.request("login", {{"token", fx.token}})));
  const auto started = c.request("start_chat", json::object());
  REQUIRE(ok(started));
  const std::string chat_id = started["payload"]["chat_id"];
  // Three connections, a thousand requests each: within each one's rate limit.
  test::RtmConnection d(*fx.service);
  test::RtmConnection e(*fx.service);
  REQUIRE(ok(d.request("login", {{"token", fx.token}})));
  REQUIRE(ok(e.request("login", {{"token", fx.token}})));
  test::RtmConnection* senders[] = {&c, &d, &e};
  for (int i = 0; i < 3000; ++i) {
    const auto r = senders[i % 3]->request("send_event",
                                           {{"chat_id", chat_id}, {"event", {{"type", "message"}, {"text", "hello"}}}});
    REQUIRE(ok(r));
  }
  std::error_code ec;
  const auto wal = std::filesystem::file_size(fx.db->address() + "-wal", ec);
  INFO("WAL " << wal << " bytes after 3,000 transactions");
  INFO(fx.service->metrics());
  CHECK(!ec);
  CHECK(wal < 16u * 1024 * 1024);
}

TEST_CASE("rtm: a service on one session in scratch mode pushes what write() commits, and restarts", "[rtm]") {
  test::TempDir dir;
  core::SystemClock clock;
  const auto settings = core::Settings::defaults({{"database", dir.path() + "/one.db"}});
  const std::string tmpl = dir.path() + "/template.db";
  std::int64_t template_seq = -1;
  {
    const auto template_settings = core::Settings::defaults({{"database", tmpl}});
    auto t = engine::open_database(template_settings, clock);
    template_seq = t->last_event_seq();
    t->checkpoint_wal();
  }
  std::filesystem::copy_file(tmpl, dir.path() + "/one.db");
  auto session = engine::open_database(settings, clock);
  session->scratch_mode();
  rtm::Service service(settings, clock, std::move(session));
  // It holds the file: nobody else can use it.
  CHECK_THROWS(engine::open_database(
      core::Settings::defaults({{"database", dir.path() + "/one.db"}, {"busy_timeout_ms", "10"}}), clock));

  for (int round = 0; round < 2; ++round) {
    INFO("round " << round);
    std::string token;
    service.write([&](store::Store& s) {
      engine::People people(s, settings, clock, "admin");
      engine::CustomerFields f;
      f.id = "cust-1";
      people.add_customer(f, false);
      token = people.issue_token("cust-1", 3600, false).token;
      test::add_online_agent(people);
    });
    auto c = std::make_unique<test::RtmConnection>(service);
    REQUIRE(ok(c->request("login", {{"token", token}})));
    const auto started = c->request("start_chat", json::object());
    REQUIRE(ok(started));
    const auto id = *model::parse_rtm_chat_id(started["payload"]["chat_id"].get<std::string>());
    // A failing action rolls back inside the batch; the session goes on.
    CHECK(error_type(c->request("send_event", {{"chat_id", "nope"}, {"event", {{"type", "message"}, {"text", "x"}}}})) ==
          "not_found");
    // An agent's message through write() is pushed before write() returns.
    service.write([&](store::Store& s) {
      engine::ChatEngine chats(s, settings, clock, "agent1");
      join_agent1(chats, id);
      chats.add_message(id, agent1_says("hi from the shell"), false);
    });
    const auto pushed = c->push("incoming_event", std::chrono::milliseconds(0));
    REQUIRE(pushed.is_object());
    CHECK(pushed["payload"]["event"]["text"] == "hi from the shell");
    // What write() throws comes back out; what it committed before is still pushed.
    CHECK_THROWS_AS(service.write([](store::Store&) { throw core::Error(core::ErrorKind::data, "boom"); }), core::Error);
    // Back to the template's rows: the same ids come again in the next round.
    c.reset();  // every connection closed before a restart
    service.restart([&](store::Store& s) { s.restore_rows(tmpl); });
    bool customer = true;
    std::int64_t seq = -1;
    service.write([&](store::Store& s) {
      customer = s.find_customer("cust-1").has_value();
      seq = s.last_event_seq();
    });
    CHECK_FALSE(customer);
    CHECK(seq == template_seq);
  }
}

TEST_CASE("rtm: write() is refused by a service with sessions of its own", "[rtm]") {
  Fixture fx("sqlite");
  CHECK_THROWS_AS(fx.service->write([](store::Store&) {}), core::Error);
}

TEST_CASE("rtm: every event is pushed once to each connection, whichever thread routes its batch", "[rtm]") {
  // Pipelined requests from six connections (48 a round, sent at once while the worker is busy
  // with the first) make batches of several sizes, which the worker routes itself (sixteen
  // requests or fewer) or leaves to the follower; each connection must see each message once
  // either way.
  const auto backend = GENERATE(from_range(test::test_backends()));
  // Frames go to the connections at the end of each batch, from the service's thread, or (as in
  // chatd) in one function per batch run by a courier on a thread of its own.
  const bool courier = GENERATE(false, true);
  INFO("backend " << backend << (courier ? ", with a courier" : ""));
  CourierThread io;  // outlives the service
  Fixture fx(backend);
  if (courier) fx.service->set_courier(io.courier());
  fx.agent_online();
  std::vector<std::unique_ptr<test::RtmConnection>> senders;
  for (int i = 0; i < 6; ++i) senders.push_back(std::make_unique<test::RtmConnection>(*fx.service));
  test::RtmConnection watcher(*fx.service);
  for (auto& conn : senders) REQUIRE(ok(conn->request("login", {{"token", fx.token}})));
  REQUIRE(ok(watcher.request("login", {{"token", fx.token}})));
  const auto started = senders.front()->request("start_chat", json::object());
  REQUIRE(ok(started));
  const std::string chat_id = started["payload"]["chat_id"];
  constexpr int kRounds = 5;
  constexpr int kPerRound = 8;  // within the 10 pending requests a connection may have
  int sent = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kPerRound; ++i) {
      for (auto& conn : senders) {
        conn->raw(json{{"request_id", "r" + std::to_string(sent)},
                       {"action", "send_event"},
                       {"payload", {{"chat_id", chat_id}, {"event", {{"type", "message"}, {"text", std::to_string(sent)}}}}}}
                      .dump());
        ++sent;
      }
    }
    for (int i = 0; i < kPerRound; ++i) {
      for (auto& conn : senders) REQUIRE(ok(conn->any_response()));
    }
  }
  INFO(fx.service->metrics());  // on a failure: transactions against requests, the batch sizes
  std::set<std::string> texts;
  std::vector<std::string> pushed;  // in the order the watcher got them
  for (int i = 0; i < sent; ++i) {
    const auto p = watcher.push("incoming_event");
    REQUIRE(p.is_object());
    pushed.push_back(p["payload"]["event"]["text"]);
    CHECK(texts.insert(pushed.back()).second);  // no message twice
  }
  CHECK(texts.size() == static_cast<std::size_t>(sent));
  // In the order of the event log.
  store::EventFilter f;
  f.type = "ChatMessageAdd";
  f.limit = 10'000;
  std::vector<std::string> logged;
  for (const auto& e : fx.store->list_events(f)) {
    const auto payload = json::parse(e.payload);
    if (!payload.value("initial", false)) logged.push_back(payload.value("text", ""));
  }
  CHECK(pushed == logged);
  CHECK(watcher.push("incoming_event", std::chrono::milliseconds(300)).is_null());  // and nothing more
}

TEST_CASE("rtm: a router keeps chats between batches only while it sees every event", "[rtm]") {
  // The worker's and the follower's routers each keep the chats they read; a chat read in an
  // earlier batch serves messages and other events that leave its customers as they were. A
  // change of those, routed by either router, must reach the next message's pushes.
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  fx.service.reset();  // the routers here are the test's own
  {
    auto people = fx.people();
    engine::CustomerFields f;
    f.id = "cust-2";
    f.name = "Trinity";
    people.add_customer(f, false);
  }
  auto chats = fx.chats();
  engine::NewChat n;
  n.requester_id = "cust-1";
  n.requester_name = "Thomas Anderson";
  const auto chat = chats.add_chat(n, false);
  engine::ParticipantSpec customer;
  customer.chatter_id = "cust-1";
  customer.chatter_name = "Thomas Anderson";
  customer.chatter_type = model::ChatterType::customer;
  chats.add_participant(chat.id, customer, false);

  rtm::PushRouter worker(*fx.store);
  rtm::PushRouter follower(*fx.store);
  std::int64_t cursor = fx.store->last_event_seq();
  // Routes what was logged since the last call, as the service does; the pushes' recipients.
  auto route = [&](rtm::PushRouter& router) {
    store::EventFilter f;
    f.after = cursor;
    const auto events = fx.store->list_events(f);
    router.new_batch(cursor, events);
    std::vector<std::pair<std::string, std::vector<std::string>>> out;  // (event type, customers)
    for (const auto& e : events) {
      for (auto& d : router.route(e)) out.emplace_back(e.type, std::move(d.customers));
      cursor = e.seq;
    }
    return out;
  };
  auto post = [&](const std::string& text) {
    engine::NewMessage m;
    m.chatter_id = "cust-1";
    m.chatter_type = model::ChatterType::customer;
    m.text = text;
    chats.add_message(chat.id, m, false);
  };
  auto add_trinity = [&] {
    engine::ParticipantSpec p = customer;
    p.chatter_id = "cust-2";
    p.chatter_name = "Trinity";
    chats.add_participant(chat.id, p, false);
  };
  // An active participant's row, written as it is, without an event (inside the caller's transaction).
  auto insert_row = [&](model::ChatId id, const std::string& who, model::ChatterType type, model::PermissionLevel level) {
    model::Participant p;
    p.chat_id = id;
    p.chatter_id = who;
    p.chatter_name = who;
    p.chatter_type = type;
    p.active = model::ChatterActive::active;
    p.permission = level;
    p.create_time = fx.clock.now();
    fx.store->insert_participant(p);
  };
  using Routed = std::vector<std::pair<std::string, std::vector<std::string>>>;
  const std::vector<std::string> one{"cust-1"};
  const std::vector<std::string> both{"cust-1", "cust-2"};
  // Trinity joining: she is told of the chat, cust-1 of her.
  const Routed trinity_joins{{"ChatParticipantAdd", {"cust-2"}}, {"ChatParticipantAdd", one}};

  post("first");
  CHECK(route(worker) == Routed{{"ChatMessageAdd", one}});  // the chat is read here, and kept

  SECTION("a change the same router routes is seen by its next batch") {
    add_trinity();
    CHECK(route(worker) == trinity_joins);
    post("second");
    CHECK(route(worker) == Routed{{"ChatMessageAdd", both}});
    chats.remove_participant(chat.id, model::ChatterType::customer, "cust-2", false);
    post("third");
    CHECK(route(worker) == Routed{{"ChatParticipantRemove", both}, {"ChatMessageAdd", one}});
  }
  SECTION("who joins or leaves within a batch is pushed the events of the time it took part") {
    add_trinity();
    CHECK(route(worker) == trinity_joins);
    // One batch: Trinity takes part in the second message, not the third, again in the fourth.
    post("second");
    chats.remove_participant(chat.id, model::ChatterType::customer, "cust-2", false);
    post("third");
    add_trinity();
    post("fourth");
    CHECK(route(worker) == Routed{{"ChatMessageAdd", both},
                                  {"ChatParticipantRemove", both},
                                  {"ChatMessageAdd", one},
                                  {"ChatParticipantAdd", both},
                                  {"ChatMessageAdd", both}});
    // Removed again, having left: no news, no turn.
    chats.remove_participant(chat.id, model::ChatterType::customer, "cust-2", false);
    chats.remove_participant(chat.id, model::ChatterType::customer, "cust-2", false);
    post("fifth");
    CHECK(route(worker) == Routed{{"ChatParticipantRemove", both}, {"ChatMessageAdd", one}});
    // Added again active, then again invited (inactive): that ends her taking part too.
    add_trinity();
    CHECK(route(worker) == Routed{{"ChatParticipantAdd", both}});
    post("sixth");
    engine::ParticipantSpec invited = customer;
    invited.chatter_id = "cust-2";
    invited.chatter_name = "Trinity";
    invited.active = model::ChatterActive::inactive;
    chats.add_participant(chat.id, invited, false);
    post("seventh");
    // The other router, which reads the chat afresh, as it is after the batch.
    CHECK(route(follower) == Routed{{"ChatMessageAdd", both}, {"ChatMessageAdd", one}});
  }
  SECTION("a public user who shares a customer's id comes and goes without touching the customer") {
    engine::ParticipantSpec visitor = customer;
    visitor.chatter_type = model::ChatterType::public_user;
    post("second");
    chats.add_participant(chat.id, visitor, false);
    post("third");
    chats.remove_participant(chat.id, model::ChatterType::public_user, "cust-1", false);
    post("fourth");
    CHECK(route(worker) == Routed{{"ChatMessageAdd", one},
                                  {"ChatParticipantAdd", one},
                                  {"ChatMessageAdd", one},
                                  {"ChatParticipantRemove", one},
                                  {"ChatMessageAdd", one}});
  }
  SECTION("a change the other router routes is seen too") {
    add_trinity();
    CHECK(route(follower) == trinity_joins);
    post("second");
    CHECK(route(worker) == Routed{{"ChatMessageAdd", both}});
  }
  SECTION("routers that share their memory keep chats across each other's batches") {
    auto memory = std::make_shared<rtm::PushRouter::Memory>();
    rtm::PushRouter a(*fx.store, memory);
    rtm::PushRouter b(*fx.store, memory);
    post("second");
    CHECK(route(a) == Routed{{"ChatMessageAdd", one}});
    add_trinity();
    post("third");
    Routed expected = trinity_joins;
    expected.emplace_back("ChatMessageAdd", both);
    CHECK(route(b) == expected);
    chats.remove_participant(chat.id, model::ChatterType::customer, "cust-2", false);
    CHECK(route(b) == Routed{{"ChatParticipantRemove", both}});  // the customer removed hears of it too
    post("fourth");
    CHECK(route(a) == Routed{{"ChatMessageAdd", one}});
  }
  SECTION("a message that opens a chat's first thread has the chat read again") {
    // A chat without threads (the engine gives every chat it makes one; older rows may lack it),
    // kept by the router through an event that leaves it as it was.
    model::ChatId bare = 0;
    {
      store::WriteTransaction tx(*fx.store);
      model::Chat c = chat;
      c.id = 0;
      c.status = model::ChatStatus::active;
      bare = fx.store->insert_chat(c);
      insert_row(bare, "cust-1", model::ChatterType::customer, model::PermissionLevel::none);
      insert_row(bare, "agent1", model::ChatterType::user, model::PermissionLevel::owner);
      tx.commit();
    }
    REQUIRE(fx.store->list_threads(bare).empty());
    chats.mark_seen(bare, model::ChatterType::customer, "cust-1", fx.clock.now());
    CHECK(route(worker) == Routed{{"ChatEventsSeen", one}});  // read without threads, and kept
    engine::NewMessage m;
    m.chatter_id = "cust-1";
    m.chatter_type = model::ChatterType::customer;
    m.text = "hello";
    const auto posted = chats.add_message(bare, m, false);  // opens the chat's first thread
    CHECK(route(worker) == Routed{{"ChatMessageAdd", one}});
    chats.typing(bare, "agent1", true);
    store::EventFilter f;
    f.after = cursor;
    worker.new_batch(cursor);
    const auto events = fx.store->list_events(f);
    REQUIRE(events.size() == 1);
    const auto pushes = worker.route(events.front());
    REQUIRE(pushes.size() == 1);
    // The typing indicator names the thread the message opened: the router read the chat again.
    CHECK(json::parse(pushes.front().frame)["payload"]["thread_id"] == model::rtm_thread_id(posted.thread_id));
  }
  SECTION("a chat is kept until an event changes it; a reset forgets it") {
    // A participant added without an event (only replay's reset changes rows so, and tells the
    // router): the kept chat does not show it, which shows it is kept; after rows_replaced it does.
    {
      store::WriteTransaction tx(*fx.store);
      insert_row(chat.id, "cust-2", model::ChatterType::customer, model::PermissionLevel::none);
      tx.commit();
    }
    post("second");
    CHECK(route(worker) == Routed{{"ChatMessageAdd", one}});
    worker.rows_replaced();
    post("third");
    CHECK(route(worker) == Routed{{"ChatMessageAdd", both}});
  }
}
