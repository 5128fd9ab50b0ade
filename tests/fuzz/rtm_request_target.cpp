#include "fuzz/rtm_request_target.hpp"

#include <nlohmann/json.hpp>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "core/clock.hpp"
#include "core/settings.hpp"
#include "engine/chats.hpp"
#include "engine/engine.hpp"
#include "engine/people.hpp"
#include "model/chat.hpp"
#include "rtm/actions.hpp"
#include "store/store.hpp"
#include "support/agents.hpp"

namespace chatctl::fuzz {
namespace {

using json = nlohmann::json;

// SHA-256 of kToken (lower-case hex), as People::check_token looks tokens up. The fixture checks
// that the token logs in, so a change of hashing fails at start-up instead of fuzzing logged out.
constexpr std::string_view kTokenHash = "fba970872e38db44d27b585c525137bd964232e41ecd6b088dc16caad0ed1256";

std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "chatctl-fuzz-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create a temporary folder");
  return pattern;
}

class Fixture {
 public:
  Fixture()
      : dir_(make_temp_dir()),
        settings_(core::Settings::defaults({{"database", dir_ + "/fuzz.db"},
                                            // The agent stays on-line however long the fuzzer runs.
                                            {"ChatEngine::AgentOnlineThreshold", "1440"}})),
        store_(engine::open_database(settings_, clock_)),
        actions_(*store_, settings_, clock_) {
    engine::People people(*store_, settings_, clock_, "admin");
    engine::CustomerFields customer;
    customer.id = "cust-1";
    customer.name = "Thomas Anderson";
    people.add_customer(customer, false);
    test::add_online_agent(people);
    {
      store::WriteTransaction tx(*store_);
      model::CustomerToken token;
      token.token_hash = std::string(kTokenHash);
      token.customer_id = "cust-1";
      token.create_time = clock_.now();
      token.expire_time = token.create_time + 10LL * 365 * 86'400'000'000;
      store_->insert_token(token);
      model::Greeting greeting;
      greeting.unique_id = std::string(kGreetingUniqueId);
      greeting.greeting_id = kGreetingId;
      greeting.customer_id = "cust-1";
      greeting.agent_login = "agent1";
      greeting.event = json{{"id", std::string(kGreetingUniqueId) + "_1"}, {"type", "message"},
                            {"text", "Can I help?"}, {"author_id", "agent1"}}
                           .dump();
      greeting.create_time = greeting.change_time = clock_.now();
      store_->insert_greeting(greeting);
      tx.commit();
    }

    run_setup("login", {{"token", std::string(kToken)}});
    const json buttons = json::array({{{"text", "Yes"}, {"type", "message"}, {"postback_id", "yes"}, {"value", "yes"}}});
    const json cards = {{"type", "rich_message"},
                        {"template_id", "cards"},
                        {"elements", json::array({{{"title", "Pick one"}, {"buttons", buttons}}})}};
    const json first = run_setup(
        "start_chat", {{"chat", {{"properties", {{"ns", {{"k", "v"}}}}},
                                 {"thread", {{"properties", {{"ns", {{"k", "v"}}}}},
                                             {"events", json::array({{{"type", "message"}, {"text", "hello"}}, cards})}}}}}});
    const json second = run_setup("start_chat", {{"continuous", true}});
    run_setup("deactivate_chat", {{"chat_id", second.value("chat_id", "")}});
    if (first.value("chat_id", "") != "C000000001" || first.value("thread_id", "") != "T000000001" ||
        first.value("event_ids", json()) != json::array({"T000000001_1", "T000000001_2"}) ||
        second.value("chat_id", "") != "C000000002") {
      throw std::logic_error("the fuzz fixture's chats are not the ones rtm_request_target.hpp names");
    }
    // The agent joins the active chat and answers.
    engine::ChatEngine chats(*store_, settings_, clock_, "agent1");
    engine::ParticipantSpec spec;
    spec.chatter_id = "agent1";
    spec.chatter_name = "Agent Smith";
    spec.permission = model::PermissionLevel::owner;
    chats.add_participant(1, spec, false);
    engine::NewMessage answer;
    answer.chatter_id = "agent1";
    answer.text = "How can I help?";
    chats.add_message(1, answer, false);
  }

  ~Fixture() {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  RtmRequestResult run(std::string_view input) {
    RtmRequestResult result;
    json request_id;
    std::string action;
    try {
      const rtm::Request request = rtm::parse_request(input, request_id, action);
      result.parsed = true;
      const bool fresh = !input.empty() && std::string_view(" \t\r\n").find(input.front()) != std::string_view::npos;
      rtm::Session session = fresh ? rtm::Session{} : logged_in_;
      store::WriteTransaction tx(*store_);  // never committed: Actions' own commit releases a savepoint
      const rtm::Outcome outcome = actions_.run(session, request);
      rtm::response_frame(request.request_id, request.action, outcome.payload);  // as chatd answers
    } catch (const rtm::RtmError& e) {
      if (e.type() == rtm::ErrorType::internal) {
        throw std::logic_error("`" + action + "` answered internal error: " + e.what());
      }
      result.error = e.type();
      result.message = e.what();
      rtm::error_frame(request_id, action, e.type(), e.what());
    }
    return result;
  }

 private:
  // Runs one set-up action and commits it; the first one (login) makes the logged-in session.
  json run_setup(const std::string& action, json payload) {
    rtm::Request request;
    request.action = action;
    request.payload = std::move(payload);
    return actions_.run(logged_in_, request).payload;
  }

  std::string dir_;
  core::SystemClock clock_;
  core::Settings settings_;
  std::unique_ptr<store::Store> store_;
  rtm::Actions actions_;
  rtm::Session logged_in_;
};

}  // namespace

RtmRequestResult run_rtm_request(std::string_view input) {
  static Fixture fixture;
  return fixture.run(input);
}

}  // namespace chatctl::fuzz
