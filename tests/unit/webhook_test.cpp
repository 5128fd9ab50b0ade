// Webhooks (lib/webhook/): URLs, signatures, which events go out, payload shape, and the
// administration rules, on every available backend.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/chats.hpp"
#include "engine/engine.hpp"
#include "engine/people.hpp"
#include "support/databases.hpp"
#include "support/error_kind.hpp"
#include "webhook/http.hpp"
#include "webhook/payload.hpp"
#include "webhook/webhooks.hpp"

using namespace chatctl;
using core::ErrorKind;
using test::kind_of;

namespace {

// A fresh database of `backend` with chatctl's schema, at a fixed time.
struct Db {
  explicit Db(const std::string& backend)
      : db(test::make_test_database(backend)),
        settings(core::Settings::defaults({{"database", db->address()}})),
        store(engine::open_database(settings, clock)) {}
  std::unique_ptr<test::TestDatabase> db;
  core::Settings settings;
  core::ManualClock clock{1'700'000'000'000'000};
  std::unique_ptr<store::Store> store;
};

}  // namespace

TEST_CASE("webhook URLs are http or https with a host", "[webhook][url]") {
  auto u = webhook::parse_url("https://crm.example.com/hooks/chat?x=1");
  CHECK(u.tls);
  CHECK(u.host == "crm.example.com");
  CHECK(u.port == "443");
  CHECK(u.target == "/hooks/chat?x=1");
  u = webhook::parse_url("http://127.0.0.1:8080");
  CHECK_FALSE(u.tls);
  CHECK(u.port == "8080");
  CHECK(u.target == "/");
  u = webhook::parse_url("http://[::1]:9000/h");
  CHECK(u.host == "::1");
  CHECK(u.port == "9000");
  CHECK(webhook::parse_url("http://h?q").target == "/?q");
  for (const char* bad : {"ftp://h/", "http://", "http://:80/", "http://h:0/", "http://h:65536/", "http://h:x/",
                          "http://h /", "http://u:p@h/", "http://h/#frag", "http://[::1/", "h.example.com"}) {
    INFO(bad);
    CHECK(kind_of([&] { webhook::parse_url(bad); }) == ErrorKind::data);
  }
}

TEST_CASE("signatures are Base64 HMAC-SHA256 of the body", "[webhook]") {
  // RFC 4231, test case 2.
  CHECK(webhook::signature("Jefe", "what do ya want for nothing?") == "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
  CHECK(webhook::signature("k", "") != webhook::signature("k", " "));
}

TEST_CASE("chat events map onto chatsession events", "[webhook]") {
  CHECK(webhook::webhook_event_for("ChatAdd") == model::kChatSessionCreated);
  CHECK(webhook::webhook_event_for("ChatMessageAdd") == model::kChatSessionMessage);
  for (const char* t : {"ChatUpdate", "ChatChannelUpdate", "ChatParticipantAdd", "ChatParticipantUpdate",
                        "ChatParticipantRemove"}) {
    CHECK(webhook::webhook_event_for(t) == model::kChatSessionChanged);
  }
  for (const char* t : {"ChannelAdd", "ChatFlagSet", "ChatDelete", "ChatImport", "AgentAdd"}) {
    CHECK_FALSE(webhook::webhook_event_for(t));
  }
}

TEST_CASE("payloads carry the envelope and FieldValues, from the chat or its event", "[webhook]") {
  Db fx(GENERATE(from_range(test::test_backends())));
  engine::AgentFields alice_fields;
  alice_fields.login = "alice";
  alice_fields.name = "Alice";
  engine::People(*fx.store, fx.settings, fx.clock, "admin").add_agent(alice_fields, false);
  engine::ChatEngine chats(*fx.store, fx.settings, fx.clock, "alice");
  engine::NewChat n;
  n.requester_id = "cust-9";
  n.requester_name = "Nine";
  n.ticket_id = 77;
  const auto chat = chats.add_chat(n, false);
  engine::ParticipantSpec owner{"alice", "Alice", model::ChatterType::user, model::ChatterActive::active,
                                model::PermissionLevel::owner};
  chats.add_participant(chat.id, owner, false);
  chats.set_status(chat.id, model::ChatStatus::active, false);
  // Alice writes, someone else runs the command: she caused the event.
  engine::NewMessage hello;
  hello.chatter_id = "alice";
  hello.text = "hello";
  engine::ChatEngine(*fx.store, fx.settings, fx.clock, "root").add_message(chat.id, hello, false);
  store::EventFilter m;
  m.type = "ChatMessageAdd";
  const auto message = fx.store->list_events(m).at(0);
  const auto message_body = nlohmann::json::parse(
      webhook::delivery_body(*fx.store, message, model::kChatSessionMessage, "m", "crm"));
  CHECK(message_body["ChangedByAssociateId"] == fx.store->find_agent("alice")->id);

  store::EventFilter f;
  f.type = "ChatUpdate";
  const auto event = fx.store->list_events(f).at(0);
  const auto body = nlohmann::ordered_json::parse(
      webhook::delivery_body(*fx.store, event, model::kChatSessionChanged, "the-id", "crm"));
  std::vector<std::string> keys;
  for (const auto& [k, v] : body.items()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"EventId", "Timestamp", "Changes", "Event", "PrimaryKey", "Entity",
                                         "ContextIdentifier", "ChangedByAssociateId", "WebhookName", "FieldValues"});
  CHECK(body["EventId"] == "the-id");
  CHECK(body["Timestamp"] == "2023-11-14T22:13:20.000000Z");
  CHECK(body["Changes"] == nlohmann::json::array({"chatSession.status"}));
  CHECK(body["PrimaryKey"] == chat.id);
  const auto alice = fx.store->find_agent("alice")->id;
  CHECK(body["ChangedByAssociateId"] == alice);
  const auto& fv = body["FieldValues"];
  CHECK(fv["CustomerId"] == "cust-9");
  CHECK(fv["Status"] == 2);
  CHECK(fv["TicketId"] == 77);
  CHECK(fv["TopicId"] == chat.channel_id);
  CHECK(fv["UserId"] == alice);

  // Once the chat is gone, what the event recorded.
  chats.delete_chat(chat.id, false);
  const auto later =
      nlohmann::json::parse(webhook::delivery_body(*fx.store, event, model::kChatSessionChanged, "x", "crm"));
  CHECK(later["FieldValues"]["CustomerId"] == "cust-9");
  CHECK(later["FieldValues"]["Status"] == 2);
  CHECK(later["FieldValues"]["UserId"] == 0);
  // An event that does not carry the chat: as the log last had it before that event.
  const auto gone =
      nlohmann::json::parse(webhook::delivery_body(*fx.store, message, model::kChatSessionMessage, "y", "crm"));
  CHECK(gone["FieldValues"]["CustomerId"] == "cust-9");
  CHECK(gone["FieldValues"]["Status"] == 2);
  CHECK(gone["FieldValues"]["TicketId"] == 77);
  // Remembered per chat across calls, with the same answer.
  webhook::GoneChats memo;
  for (int i = 0; i < 2; ++i) {
    const auto again =
        nlohmann::json::parse(
            webhook::delivery_body(*fx.store, message, model::kChatSessionMessage, "y", "crm", &memo));
    CHECK(again["FieldValues"] == gone["FieldValues"]);
  }
  CHECK(memo.size() == 1);
}

TEST_CASE("a payload another tool wrote, its members of other types, still makes a body", "[webhook]") {
  Db fx(GENERATE(from_range(test::test_backends())));
  store::EventRecord e;
  e.seq = 1;
  e.time = fx.clock.now();
  e.actor = "a tool";
  e.chat_id = 4242;  // no such chat: FieldValues come from the payload
  e.type = "ChatUpdate";
  e.payload = R"({"status":3,"requester_type":["User"],"requester_id":7,"ticket_id":"77"})";
  const auto changed =
      nlohmann::json::parse(webhook::delivery_body(*fx.store, e, model::kChatSessionChanged, "a", "crm"));
  CHECK(changed["FieldValues"]["Status"] == 0);
  CHECK(changed["FieldValues"]["CustomerId"] == "");
  CHECK(changed["FieldValues"]["TicketId"] == 0);
  e.type = "ChatMessageAdd";
  e.payload = R"({"chatter_type":"User","chatter_id":12})";
  const auto message =
      nlohmann::json::parse(webhook::delivery_body(*fx.store, e, model::kChatSessionMessage, "b", "crm"));
  CHECK(message["ChangedByAssociateId"] == 0);  // "a tool" is no agent
}

TEST_CASE("webhook administration checks names, URLs and events and starts at the present", "[webhook]") {
  Db fx(GENERATE(from_range(test::test_backends())));
  webhook::WebhookAdmin admin(*fx.store, fx.clock);
  const auto seq = fx.store->last_event_seq();
  const auto w = admin.add({"crm", "https://crm.example.com/h", {}, "secret", false}, false);
  CHECK(w.events.size() == 3);
  CHECK(w.cursor == seq);
  CHECK(w.state == model::WebhookState::active);
  CHECK(kind_of([&] { admin.add({"crm", "https://x.example/", {}, "", false}, false); }) == ErrorKind::data);
  CHECK(kind_of([&] { admin.add({"", "https://x.example/", {}, "", false}, false); }) == ErrorKind::data);
  CHECK(kind_of([&] { admin.add({"b", "mailto:x@example.com", {}, "", false}, false); }) == ErrorKind::data);
  CHECK(kind_of([&] { admin.add({"b", "https://x.example/", {"chatsession.gone"}, "", false}, false); }) ==
        ErrorKind::data);
  CHECK(kind_of([&] { admin.get("nobody"); }) == ErrorKind::not_found);

  webhook::WebhookChange c;
  c.events = std::vector<std::string>{"chatsession.message", "chatsession.message"};
  c.secret = std::string();
  auto u = admin.update("crm", c, false);
  CHECK(u.events == std::vector<std::string>{"chatsession.message"});
  CHECK(u.secret.empty());
  c = {};
  c.state = model::WebhookState::too_many_errors;
  CHECK(kind_of([&] { admin.update("crm", c, false); }) == ErrorKind::data);

  // reset: Active again, failures forgotten, waiting deliveries due at once.
  u.state = model::WebhookState::too_many_errors;
  u.failures = 9;
  {
    store::WriteTransaction tx(*fx.store);
    fx.store->update_webhook(u);
    fx.store->enqueue_deliveries({{u.id, 5, "e", "chatsession.message", 1, "{}", 3, fx.clock.now() + 1'000'000}});
    tx.commit();
  }
  // What may go next: each chat's oldest, however many of another chat wait before them.
  {
    store::WriteTransaction tx(*fx.store);
    std::vector<model::WebhookDelivery> queued;
    for (std::int64_t s = 6; s < 1100; ++s) queued.push_back({u.id, s, "e", "chatsession.message", 1, "{}", 0, 0});
    queued.push_back({u.id, 1100, "e", "chatsession.message", 2, "{}", 0, 0});
    fx.store->enqueue_deliveries(queued);
    tx.commit();
  }
  std::vector<std::pair<std::int64_t, std::int64_t>> heads;  // (seq, chat)
  for (const auto& d : fx.store->list_deliveries(u.id, 1000, true)) heads.emplace_back(d.seq, d.chat_id);
  CHECK(heads == std::vector<std::pair<std::int64_t, std::int64_t>>{{5, 1}, {1100, 2}});
  CHECK(fx.store->list_deliveries(u.id, 1000).size() == 1000);
  {
    store::WriteTransaction tx(*fx.store);
    for (std::int64_t s = 6; s <= 1100; ++s) fx.store->delete_delivery(u.id, s);
    tx.commit();
  }
  const auto r = admin.reset("crm", false);
  CHECK(r.state == model::WebhookState::active);
  CHECK(r.failures == 0);
  const auto q = admin.queue("crm", 10);
  REQUIRE(q.size() == 1);
  CHECK(q[0].attempts == 3);
  CHECK(q[0].next_attempt_time == 0);
  admin.remove("crm", false);
  CHECK(admin.list().empty());
}
