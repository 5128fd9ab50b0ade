// The chat engine (lib/engine/chats.hpp) on every available backend: chats, participants,
// messages and flags, and the events each mutation logs (and a failed one does not).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/channels.hpp"
#include "engine/chats.hpp"
#include "engine/engine.hpp"
#include "engine/people.hpp"
#include "support/databases.hpp"
#include "support/error_kind.hpp"

using namespace chatctl;
using core::ErrorKind;
using model::ChatterActive;
using model::ChatterType;
using model::PermissionLevel;
using test::kind_of;

namespace {

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
  std::vector<std::string> event_types() {
    std::vector<std::string> out;
    for (const auto& e : store->list_events({})) out.push_back(e.type);
    return out;
  }
  std::size_t events() { return store->list_events({}).size(); }
};

engine::NewChat customer_request(const std::string& who = "cust-1") {
  engine::NewChat n;
  n.requester_id = who;
  n.requester_name = "Customer " + who;
  n.requester_type = ChatterType::customer;
  return n;
}

engine::ParticipantSpec agent(const std::string& login, PermissionLevel level,
                              ChatterActive active = ChatterActive::active) {
  engine::ParticipantSpec s;
  s.chatter_id = login;
  s.chatter_name = "Agent " + login;
  s.permission = level;
  s.active = active;
  return s;
}

engine::ParticipantSpec customer(const std::string& id) {
  engine::ParticipantSpec s;
  s.chatter_id = id;
  s.chatter_name = "Customer " + id;
  s.chatter_type = ChatterType::customer;
  return s;
}

engine::NewMessage say(const std::string& who, const std::string& text, ChatterType type = ChatterType::user) {
  engine::NewMessage m;
  m.chatter_id = who;
  m.chatter_type = type;
  m.text = text;
  return m;
}

}  // namespace

TEST_CASE("chats are added in usable channels and change status with events", "[engine][chats]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  auto e = fx.engine();
  const auto before = fx.events();

  const auto chat = e.add_chat(customer_request(), false);
  CHECK(chat.id > 0);
  CHECK(chat.status == model::ChatStatus::request);
  CHECK(chat.channel_name == "Chat Channel");
  CHECK(fx.event_types().back() == "ChatAdd");

  fx.clock.advance(1'000'000);
  const auto active = e.set_status(chat.id, model::ChatStatus::active, false);
  CHECK(active.change_time == chat.change_time + 1'000'000);
  auto types = fx.event_types();
  CHECK(types[types.size() - 2] == "ChatUpdate");
  CHECK(types.back() == "ChatRequestUpdate");  // the previous state was request
  e.set_status(chat.id, model::ChatStatus::closed, false);
  CHECK(fx.event_types().back() == "ChatUpdate");
  CHECK(fx.events() == before + 4);

  // A public requester cannot use a channel closed to public users; an invalid channel is closed
  // to everyone; an unknown channel is not found. Nothing is written or logged.
  engine::ChannelFields f;
  f.name = "Customers only";
  f.group = "users";
  f.customer_users = true;
  f.public_users = false;
  engine::ChannelAdmin(*fx.store, fx.clock, "t").add(f, false);
  const auto logged = fx.events();
  auto pub = customer_request("anon");
  pub.requester_type = ChatterType::public_user;
  pub.channel = "Customers only";
  CHECK(kind_of([&] { e.add_chat(pub, false); }) == ErrorKind::data);
  pub.channel = "No such channel";
  CHECK(kind_of([&] { e.add_chat(pub, false); }) == ErrorKind::not_found);
  auto closed = customer_request();
  closed.status = model::ChatStatus::closed;
  CHECK(kind_of([&] { e.add_chat(closed, false); }) == ErrorKind::data);
  CHECK(kind_of([&] { e.set_status(9999, model::ChatStatus::active, false); }) == ErrorKind::not_found);
  CHECK(fx.events() == logged);
  CHECK(e.chats({}).size() == 1);
}

TEST_CASE("chat lists filter by every criterion", "[engine][chats]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend, {{"ChatEngine::ChatDecayTime", "2"}});
  auto e = fx.engine();
  engine::ChannelFields f;
  f.name = "Sales";
  f.group = "sales";
  const auto sales = engine::ChannelAdmin(*fx.store, fx.clock, "t").add(f, false);

  const auto c1 = e.add_chat(customer_request("c1"), false);
  auto n2 = customer_request("c2");
  n2.channel = "Sales";
  n2.status = model::ChatStatus::active;
  const auto c2 = e.add_chat(n2, false);
  engine::NewChat a2a;
  a2a.requester_id = "jdoe";
  a2a.requester_name = "Agent jdoe";  // as the participant below is named
  a2a.requester_type = ChatterType::user;
  a2a.target_type = ChatterType::user;
  const auto c3 = e.add_chat(a2a, false);
  e.add_participant(c3.id, agent("jdoe", PermissionLevel::owner), false);
  auto invited = agent("ann", PermissionLevel::participant, ChatterActive::inactive);
  invited.invitation = true;
  e.add_participant(c3.id, invited, false);

  const auto ids = [&](engine::ChatQuery q) {
    std::vector<model::ChatId> out;
    for (const auto& c : e.chats(q)) out.push_back(c.id);
    return out;
  };
  using V = std::vector<model::ChatId>;
  engine::ChatQuery q;
  CHECK(ids(q) == V{c1.id, c2.id, c3.id});
  q.filter.status = model::ChatStatus::request;
  CHECK(ids(q) == V{c1.id, c3.id});
  q = {};
  q.filter.requester_types = {ChatterType::customer, ChatterType::public_user};
  CHECK(ids(q) == V{c1.id, c2.id});
  q = {};
  q.filter.target_type = ChatterType::user;
  q.filter.channel_ids = {sales.id};
  CHECK(ids(q) == V{c2.id});
  q = {};
  q.filter.chatter_id = "ann";
  q.filter.chatter_type = ChatterType::user;
  CHECK(ids(q) == V{c3.id});
  q.filter.chatter_active = ChatterActive::active;
  CHECK(ids(q).empty());
  q.filter.chatter_active.reset();
  q.filter.invitation_pending = true;
  CHECK(ids(q) == V{c3.id});
  q = {};
  q.filter.chatter_id = "ann";  // without a type
  CHECK(kind_of([&] { e.chats(q); }) == ErrorKind::usage);

  // Outdated: unchanged for more than ChatDecayTime (2) days.
  fx.clock.advance(3LL * 86'400'000'000);
  e.set_status(c2.id, model::ChatStatus::closed, false);
  q = {};
  q.outdated = true;
  CHECK(ids(q) == V{c1.id, c3.id});

  // Agent names masked as DefaultAgentName with a number.
  q = {};
  q.mask_agent_name = true;
  q.filter.requester_types = {ChatterType::user};
  REQUIRE(e.chats(q).size() == 1);
  CHECK(e.chats(q)[0].requester_name == "Support Agent 1");
  CHECK(e.agent_to_agent(c3.id));
  CHECK_FALSE(e.agent_to_agent(c1.id));
}

TEST_CASE("participants: add or update, permissions, presence, removal", "[engine][chats]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  auto e = fx.engine();
  const auto chat = e.add_chat(customer_request("c1"), false).id;

  CHECK(kind_of([&] { e.add_participant(chat, agent("x", PermissionLevel::none), false); }) == ErrorKind::data);
  e.add_participant(chat, customer("c1"), false);
  e.add_participant(chat, agent("owner", PermissionLevel::owner), false);
  e.add_participant(chat, agent("obs", PermissionLevel::observer), false);
  const auto before = fx.events();
  e.add_participant(chat, agent("new", PermissionLevel::participant, ChatterActive::inactive), false);
  auto types = fx.event_types();
  CHECK(types[types.size() - 2] == "ChatParticipantAdd");
  CHECK(types.back() == "ChatRequestUser");
  CHECK(fx.events() == before + 2);

  CHECK(e.participants(chat).size() == 4);
  CHECK(e.contributors(chat) == 1);  // owner; the observer does not count, "new" is not active
  CHECK(e.customer_present(chat, true));
  CHECK(e.permission_level(chat, "owner") == PermissionLevel::owner);
  CHECK(e.permission_level(chat, "new") == PermissionLevel::none);  // not active yet
  CHECK(e.participant_number(chat, "Agent obs") == 2);
  CHECK(e.customer_id(chat) == "c1");
  CHECK_FALSE(e.check_participant(chat, ChatterType::user, "new", false));
  CHECK(e.check_participant(chat, ChatterType::user, "new", true));

  // Observer -> Participant by the Owner; never by an Observer; never to Owner.
  CHECK(kind_of([&] { e.set_agent_permission(chat, "obs", PermissionLevel::participant, "obs", false); }) ==
        ErrorKind::permission);
  CHECK(kind_of([&] { e.set_agent_permission(chat, "obs", PermissionLevel::owner, "owner", false); }) ==
        ErrorKind::data);
  CHECK(e.set_agent_permission(chat, "obs", PermissionLevel::participant, "owner", false).permission ==
        PermissionLevel::participant);
  CHECK(e.contributors(chat) == 2);

  // Removing one is a soft delete; adding it again revives the same row.
  const auto removed = e.remove_participant(chat, ChatterType::user, "obs", false);
  CHECK(removed.active == ChatterActive::left);
  CHECK(e.participants(chat).size() == 4);
  const auto back = e.add_participant(chat, agent("obs", PermissionLevel::observer), false);
  CHECK(back.id == removed.id);
  CHECK(back.active == ChatterActive::active);

  CHECK(e.remove_all_participants(chat, false) == 4);
  CHECK(e.participants(chat).empty());
  CHECK_FALSE(e.customer_present(chat, false));
  CHECK(kind_of([&] { e.remove_participant(chat, ChatterType::user, "obs", false); }) == ErrorKind::not_found);
}

TEST_CASE("messages: limits, senders, audiences, paging and monitoring flags", "[engine][chats]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  auto e = fx.engine();
  const auto chat = e.add_chat(customer_request("c1"), false).id;
  e.add_participant(chat, customer("c1"), false);
  e.add_participant(chat, agent("owner", PermissionLevel::owner), false);
  auto all = agent("watch-all", PermissionLevel::participant);
  all.monitoring = model::Monitoring::all;
  e.add_participant(chat, all, false);
  auto cust = agent("watch-cust", PermissionLevel::participant);
  cust.monitoring = model::Monitoring::customer;
  e.add_participant(chat, cust, false);
  auto obs = agent("watch-obs", PermissionLevel::observer);
  obs.monitoring = model::Monitoring::all;
  e.add_participant(chat, obs, false);

  const auto events = fx.events();
  std::string longest;
  for (int i = 0; i < 3800; ++i) longest += "é";  // 3800 characters, 7600 bytes
  CHECK(kind_of([&] { e.add_message(chat, say("owner", longest + "é"), false); }) == ErrorKind::data);
  CHECK(kind_of([&] { e.add_message(chat, say("owner", ""), false); }) == ErrorKind::data);
  CHECK(kind_of([&] { e.add_message(chat, say("stranger", "hi"), false); }) == ErrorKind::permission);
  CHECK(kind_of([&] { e.add_message(9999, say("owner", "hi"), false); }) == ErrorKind::not_found);
  CHECK(fx.events() == events);

  const auto m1 = e.add_message(chat, say("c1", "Hello", ChatterType::customer), false);
  CHECK(fx.event_types().back() == "ChatMessageAdd");
  // A customer message wakes both monitoring agents, not the observer.
  store::FlagFilter unseen;
  unseen.key = "NotificationChatUpdateSeen";
  unseen.value = "0";
  auto flags = e.flags(unseen);
  REQUIRE(flags.size() == 2);
  CHECK(flags[0].user == "watch-all");
  CHECK(flags[1].user == "watch-cust");

  e.set_flag(chat, "NotificationChatUpdateSeen", "1", "watch-all", false);
  e.set_flag(chat, "NotificationChatUpdateSeen", "1", "watch-cust", false);
  engine::NewMessage note = say("owner", longest);
  note.audience = model::Audience::agents;
  const auto m2 = e.add_message(chat, note, false);
  flags = e.flags(unseen);
  REQUIRE(flags.size() == 1);  // an agent message wakes only "monitor all"
  CHECK(flags[0].user == "watch-all");
  engine::NewMessage sys = say("owner", "owner joined");
  sys.system_generated = true;
  sys.audience = model::Audience::customer;
  const auto m3 = e.add_message(chat, sys, false);

  const auto ids = [&](engine::MessageQuery q) {
    std::vector<model::MessageId> out;
    for (const auto& m : e.messages(chat, q)) out.push_back(m.id);
    return out;
  };
  using V = std::vector<model::MessageId>;
  engine::MessageQuery q;
  CHECK(ids(q) == V{m1.id, m2.id, m3.id});
  q.filter.exclude_internal = true;
  CHECK(ids(q) == V{m1.id, m3.id});
  q = {};
  q.filter.exclude_customer = true;
  CHECK(ids(q) == V{m1.id, m2.id});
  q = {};
  q.filter.after = m1.id;
  CHECK(ids(q) == V{m2.id, m3.id});
  q = {};
  q.filter.first = true;
  CHECK(ids(q) == V{m1.id});
  q = {};
  q.filter.last = true;
  CHECK(ids(q) == V{m2.id});  // the last text message: m3 is system-generated
  q = {};
  q.mask_agent_name = true;
  CHECK(e.messages(chat, q)[1].chatter_name == "Support Agent 1");
  CHECK(e.message(m2.id).text == longest);
  CHECK(kind_of([&] { e.message(987654); }) == ErrorKind::not_found);

  // Someone who left cannot post any more.
  e.remove_participant(chat, ChatterType::user, "watch-cust", false);
  CHECK(kind_of([&] { e.add_message(chat, say("watch-cust", "still here?"), false); }) == ErrorKind::permission);
}

TEST_CASE("flags: set replaces, get needs a filter and filters correctly, delete for one or all", "[engine][chats]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  auto e = fx.engine();
  const auto a = e.add_chat(customer_request("c1"), false).id;
  const auto b = e.add_chat(customer_request("c2"), false).id;
  e.set_flag(a, "NotificationNewChatSeen", "0", "u1", false);
  e.set_flag(a, "NotificationNewChatSeen", "1", "u1", false);  // replaces
  e.set_flag(a, "NotificationNewChatSeen", "0", "u2", false);
  e.set_flag(a, "NotificationChatUpdateSeen", "0", "u1", false);
  e.set_flag(b, "NotificationChatUpdateSeen", "0", "u1", false);

  CHECK(kind_of([&] { e.flags({}); }) == ErrorKind::usage);
  store::FlagFilter f;
  f.chat_id = a;
  CHECK(e.flags(f).size() == 3);
  f.user = "u1";
  CHECK(e.flags(f).size() == 2);
  f = {};
  f.chat_id = a;
  f.value = "1";
  f.key = "NotificationNewChatSeen";
  REQUIRE(e.flags(f).size() == 1);  // the original's Value filter bug returned nothing here
  CHECK(e.flags(f)[0].user == "u1");
  f = {};
  f.user = "u1";
  f.key = "NotificationChatUpdateSeen";
  f.value_not = "1";
  CHECK(e.flags(f).size() == 2);  // one agent's unseen updates across all chats
  f = {};
  f.chat_id = a;
  f.key_not = "NotificationNewChatSeen";
  CHECK(e.flags(f).size() == 1);
  f = {};
  f.key = "NotificationNewChatSeen";
  f.limit = 1;
  CHECK(e.flags(f).size() == 1);
  f.offset = 1;
  CHECK(e.flags(f).size() == 1);
  f.offset = 2;
  CHECK(e.flags(f).empty());

  CHECK(e.delete_flag(a, "NotificationNewChatSeen", std::string("u2"), false) == 1);
  CHECK(e.delete_flag(a, "NotificationChatUpdateSeen", std::nullopt, false) == 1);
  f = {};
  f.chat_id = a;
  CHECK(e.flags(f).size() == 1);

  // Deleting a chat takes its flags, participants and messages with it.
  e.add_participant(b, customer("c2"), false);
  e.add_message(b, say("c2", "bye", ChatterType::customer), false);
  e.delete_chat(b, false);
  CHECK(fx.event_types().back() == "ChatDelete");
  f = {};
  f.chat_id = b;
  CHECK(e.flags(f).empty());
  CHECK(kind_of([&] { e.chat(b); }) == ErrorKind::not_found);
  CHECK(fx.store->list_messages({.chat_id = b}).empty());
}

TEST_CASE("invites: invite, check, decline while pending, remove", "[engine][chats][invites]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  Fixture fx(backend);
  auto e = fx.engine();
  engine::People people(*fx.store, *fx.settings, fx.clock, "tester");
  engine::AgentFields ann;
  ann.login = "ann";
  ann.name = "Ann Agent";
  people.add_agent(ann, false);

  engine::NewChat a2a;
  a2a.requester_id = "boss";
  a2a.requester_name = "Boss";
  a2a.requester_type = ChatterType::user;
  a2a.target_type = ChatterType::user;
  const auto chat = e.add_chat(a2a, false).id;
  const auto via = e.add_chat(a2a, false).id;
  e.add_participant(chat, agent("boss", PermissionLevel::owner), false);

  const auto before = fx.events();
  CHECK(kind_of([&] { e.invite(chat, "nobody", "boss", 0, false); }) == ErrorKind::not_found);
  CHECK(kind_of([&] { e.invite(chat, "ann", "stranger", 0, false); }) == ErrorKind::permission);
  CHECK(kind_of([&] { e.invite(chat, "boss", "boss", 0, false); }) == ErrorKind::data);
  CHECK(fx.events() == before);

  const auto inv = e.invite(chat, "ann", "boss", via, false);
  CHECK(inv.chat_id == chat);
  CHECK(inv.invitation_chat_id == via);
  auto types = fx.event_types();
  CHECK(types[types.size() - 2] == "ChatInvite");
  CHECK(types.back() == "ChatRequestUser");
  const auto p = e.check_participant(chat, ChatterType::user, "ann", true);
  REQUIRE(p);
  CHECK(p->invitation);
  CHECK(p->active == ChatterActive::inactive);
  CHECK(e.invites("ann", chat, std::nullopt).size() == 1);
  CHECK(e.invites("ann", std::nullopt, via).size() == 1);
  CHECK(e.invites("ann", std::nullopt, chat).empty());
  store::ChatFilter pending;
  pending.chatter_id = "ann";
  pending.chatter_type = ChatterType::user;
  pending.invitation_pending = true;
  CHECK(e.chats({pending}).size() == 1);

  e.decline(chat, "ann", "Ann has declined the chat request.", false);
  CHECK(fx.event_types().back() == "ChatDecline");
  CHECK(e.invites("ann", chat, std::nullopt).empty());
  CHECK(e.check_participant(chat, ChatterType::user, "ann", true) == std::nullopt);
  const auto notes = e.messages(chat, {});
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].system_generated);
  CHECK(notes[0].audience == model::Audience::agents);
  CHECK(kind_of([&] { e.decline(chat, "ann", "again", false); }) == ErrorKind::data);  // no longer pending

  e.invite(chat, "ann", "boss", 0, false);
  CHECK(kind_of([&] { e.remove_invite("ann", std::nullopt, std::nullopt, false); }) == ErrorKind::usage);
  CHECK(e.remove_invite("ann", chat, std::nullopt, true) == 1);
  CHECK(e.remove_invite("ann", chat, std::nullopt, false) == 1);
  CHECK(e.invites("ann", chat, std::nullopt).empty());
  CHECK(fx.event_types().back() == "ChatInviteRemove");
}
