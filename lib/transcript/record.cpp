#include "transcript/record.hpp"

#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "rtm/actions.hpp"

namespace chatctl::transcript {
namespace {

using json = nlohmann::json;
using core::Error;
using core::ErrorKind;

// The chats of an export: one JSON array (a chat per line) or JSON lines.
std::vector<std::pair<std::size_t, json>> read_export(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::no_input, "cannot read " + path + ": " + std::strerror(errno));
  std::vector<std::pair<std::size_t, json>> chats;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    while (!line.empty() && (line.back() == '\r' || line.back() == ',' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line == "[" || line == "]" || line == "[]") continue;
    if (line.front() == '[') line.erase(0, 1);
    if (!line.empty() && line.back() == ']' && line.find("\"threads\"") != std::string::npos &&
        !json::accept(line)) {
      line.pop_back();
    }
    auto j = json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("threads") || !j["threads"].is_array()) {
      throw Error(ErrorKind::data, path + ":" + std::to_string(n) + ": not a chat of a chatctl export");
    }
    chats.emplace_back(n, std::move(j));
  }
  if (chats.empty()) throw Error(ErrorKind::data, path + ": no chats in this export");
  return chats;
}

// The event a customer would send for an exported one: its type's fields, without what the
// server generates.
json customer_event(const json& e) {
  json out = json::object();
  for (const auto& [k, v] : e.items()) {
    if (k == "id" || k == "created_at" || k == "author_id" || k == "chatctl" || k == "recipients") continue;
    if (e.value("type", "") == "file" && (k == "name" || k == "content_type" || k == "size" || k == "width" ||
                                           k == "height" || k == "thumbnail_url" || k == "thumbnail2x_url")) {
      continue;
    }
    out[k] = v;
  }
  // Stored forms may lack what a client must send: each field needs an id.
  if (out.value("type", "") == "filled_form" && out.contains("fields") && out["fields"].is_array()) {
    for (std::size_t i = 0; i < out["fields"].size(); ++i) {
      auto& field = out["fields"][i];
      if (field.is_object() && !field.contains("id")) field["id"] = std::to_string(i + 1);
    }
  }
  return out;
}

}  // namespace

Fixture fixture_from_export(const std::string& path) {
  Fixture f;
  f.file = path;
  f.name = "re-enacted from " + path;
  std::set<std::string> customers;
  std::set<std::string> agents;
  std::size_t chat_no = 0;
  auto step = [&](Step s) {
    s.number = f.steps.size() + 1;
    f.steps.push_back(std::move(s));
  };
  for (const auto& [line, chat] : read_export(path)) {
    const std::string where = path + ":" + std::to_string(line);
    std::string customer;
    std::map<std::string, std::string> agent_names;
    for (const auto& u : chat.value("users", json::array())) {
      if (!u.is_object()) continue;
      if (u.value("type", "") == "customer" && customer.empty()) customer = u.value("id", "");
      if (u.value("type", "") == "agent") agent_names[u.value("id", "")] = u.value("name", u.value("id", ""));
    }
    if (customer.empty()) throw Error(ErrorKind::data, where + ": the chat has no customer to re-enact");
    const std::string conn = "c" + std::to_string(customers.size() + (customers.count(customer) ? 0 : 1));
    const std::string connection = customers.count(customer) ? "c" + std::to_string(std::distance(customers.begin(), customers.find(customer)) + 1) : conn;
    if (!customers.count(customer)) {
      customers.insert(customer);
      f.customers.push_back({customer, "", "", "customer"});
      Step login;
      login.connection = connection;
      login.send = json{{"action", "login"}, {"payload", {{"token", "${token." + customer + "}"}}}};
      login.expect.push_back({connection, {{"type", "response"}, {"action", "login"}, {"success", true}}});
      step(login);
    }
    for (const auto& [id, name] : agent_names) {
      if (agents.insert(id).second) f.agents.push_back({id, name, {"users"}, "online"});
    }
    const std::string chat_var = "chat" + std::to_string(++chat_no);
    const auto& threads = chat["threads"];
    std::set<std::string> joined;
    for (std::size_t t = 0; t < threads.size(); ++t) {
      Step open;
      open.connection = connection;
      if (t == 0) {
        open.send = json{{"action", "start_chat"}, {"payload", {{"continuous", true}}}};
        open.expect.push_back({connection,
                               {{"type", "response"}, {"action", "start_chat"}, {"success", true},
                                {"payload", {{"chat_id", "$capture:" + chat_var}}}}});
      } else {
        open.send = json{{"action", "activate_chat"}, {"payload", {{"chat", {{"id", "${" + chat_var + "}"}}}, {"continuous", true}}}};
        open.expect.push_back({connection, {{"type", "response"}, {"action", "activate_chat"}, {"success", true}}});
      }
      step(open);
      for (const auto& e : threads[t].value("events", json::array())) {
        if (!e.is_object()) continue;
        const std::string type = e.value("type", "");
        const std::string author = e.value("author_id", "");
        const bool internal = e.contains("chatctl") && e["chatctl"].value("audience", "") == "agents";
        if (type == "system_message" || internal) continue;
        if (author == customer) {
          Step send;
          send.connection = connection;
          send.send = json{{"action", "send_event"}, {"payload", {{"chat_id", "${" + chat_var + "}"}, {"event", customer_event(e)}}}};
          send.expect.push_back({connection, {{"type", "response"}, {"action", "send_event"}, {"success", true}}});
          step(send);
        } else if (agent_names.count(author) && type == "message") {
          if (joined.insert(author).second) {
            Step join;
            join.connection = connection;
            join.agent = json{{"do", "join"}, {"chat", "${" + chat_var + "}"}, {"agent", author}};
            join.expect.push_back({connection, {{"type", "push"}, {"action", "user_added_to_chat"},
                                                {"payload", {{"user", {{"id", author}}}}}}});
            step(join);
          }
          Step say;
          say.connection = connection;
          say.agent = json{{"do", "message"}, {"chat", "${" + chat_var + "}"}, {"agent", author}, {"text", e.value("text", "")}};
          say.expect.push_back({connection, {{"type", "push"}, {"action", "incoming_event"},
                                             {"payload", {{"event", {{"author_id", author}, {"text", e.value("text", "")}}}}}}});
          step(say);
        }
      }
      Step close;
      close.connection = connection;
      close.send = json{{"action", "deactivate_chat"}, {"payload", {{"chat_id", "${" + chat_var + "}"}}}};
      close.expect.push_back({connection, {{"type", "response"}, {"action", "deactivate_chat"}, {"success", true}}});
      step(close);
      joined.clear();  // a new thread: agents join again
    }
  }
  return f;
}

void write_fixture_from_export(const std::string& path, std::ostream& out) {
  out << fixture_json(fixture_from_export(path)).dump(2) << '\n';
}

namespace {

const std::set<std::string> kIdKeys = {"chat_id", "thread_id", "event_id", "last_thread_id", "previous_thread_id",
                                       "next_thread_id", "unique_id", "next_page_id", "previous_page_id"};
const std::set<std::string> kTimeKeys = {"created_at", "last_thread_created_at", "thread_created_at",
                                         "events_seen_up_to", "seen_up_to", "queued_at"};

bool rtm_id(const std::string& s) {
  static const std::regex kId("[CT][0-9A-Z]{9}(_[0-9]+)?");
  return std::regex_match(s, kId);
}

// Turns recorded values into patterns and references.
class Generalizer {
 public:
  // A frame the server sent: ids captured at first sight, referred to after; times by type.
  json expected(const json& j) {
    std::set<std::string> here;
    return walk_expected(j, "", here);
  }
  // A frame the client sent: values captured before become references.
  json sent(const json& j) {
    if (j.is_string()) {
      auto it = names_.find(j.get<std::string>());
      return it == names_.end() ? j : json("${" + it->second + "}");
    }
    if (j.is_object()) {
      json o = json::object();
      for (const auto& [k, v] : j.items()) o[k] = sent(v);
      return o;
    }
    if (j.is_array()) {
      json a = json::array();
      for (const auto& v : j) a.push_back(sent(v));
      return a;
    }
    return j;
  }
  json ref(const std::string& literal) {
    auto it = names_.find(literal);
    return it == names_.end() ? json(literal) : json("${" + it->second + "}");
  }

 private:
  json walk_expected(const json& j, const std::string& key, std::set<std::string>& here) {
    if (j.is_string()) {
      const auto& s = j.get_ref<const std::string&>();
      if (kTimeKeys.count(key)) return "$string";
      if (kIdKeys.count(key) || ((key == "id" || key == "event_ids") && rtm_id(s))) {
        if (auto it = names_.find(s); it != names_.end()) {
          return here.count(s) ? json("$string") : json("${" + it->second + "}");
        }
        const std::string name = "v" + std::to_string(names_.size() + 1);
        names_[s] = name;
        here.insert(s);
        return "$capture:" + name;
      }
      if (!s.empty() && s[0] == '$') return "$" + s;  // a literal dollar: "$$..." matches "$..."
      return j;
    }
    if (j.is_number() && key == "timestamp") return "$number";
    if (key == "online_groups_ids") return "$array";  // who is on-line differs from run to run
    // What a login says of the customer's past: a fresh server has none of it.
    if (key == "statistics") return "$object";
    if (key == "chats" && j.is_array()) return "$array";
    if (key == "has_active_thread") return "$boolean";
    if (j.is_object()) {
      json o = json::object();
      for (const auto& [k, v] : j.items()) {
        if (k == "requester_id") continue;  // who acted depends on how the replay acts
        o[k] = walk_expected(v, k, here);
      }
      return o;
    }
    if (j.is_array()) {
      json a = json::array();
      for (const auto& v : j) a.push_back(walk_expected(v, key, here));
      return a;
    }
    return j;
  }

  std::map<std::string, std::string> names_;  // literal value -> capture name
};

}  // namespace

Fixture fixture_from_conversation(const std::vector<RecordedFrame>& frames, const std::string& name) {
  Fixture f;
  f.name = name;
  Generalizer g;
  std::string customer;
  std::string token_literal;
  std::set<std::string> agents;
  std::map<std::string, std::size_t> by_request;  // request_id -> index of its step
  std::optional<std::size_t> unanswered;          // a send without request_id awaiting its response
  auto add = [&](Step s) {
    s.number = f.steps.size() + 1;
    s.connection = "c1";
    f.steps.push_back(std::move(s));
    return f.steps.size() - 1;
  };
  auto expect = [&](std::size_t step, const json& frame) { f.steps[step].expect.push_back({"c1", g.expected(frame)}); };
  auto agent = [&](const std::string& id, const std::string& agent_name) {
    if (!id.empty() && id != customer && agents.insert(id).second) f.agents.push_back({id, agent_name.empty() ? id : agent_name, {"users"}, "online"});
  };
  auto agent_step = [&](json action, const json& frame) {
    Step s;
    s.agent = std::move(action);
    const auto i = add(std::move(s));
    expect(i, frame);
  };

  for (std::size_t k = 0; k < frames.size(); ++k) {
    const auto& fr = frames[k];
    if (fr.from_client) {
      const json j = json::parse(fr.text, nullptr, false);
      Step s;
      if (j.is_object() && j.contains("action") && j["action"].is_string() && rtm::Actions::known(j["action"].get<std::string>()) &&
          (!j.contains("payload") || j["payload"].is_object())) {
        json req = g.sent(j);
        if (j["action"] == "login" && j.contains("payload") && j["payload"].contains("token") && j["payload"]["token"].is_string()) {
          token_literal = j["payload"]["token"].get<std::string>();
          req["payload"]["token"] = "${token.CUSTOMER}";
        }
        s.send = req;
      } else {
        s.send_raw = fr.text;
      }
      const auto i = add(std::move(s));
      if (j.is_object() && j.contains("request_id") && j["request_id"].is_string()) {
        by_request[j["request_id"].get<std::string>()] = i;
      } else {
        unanswered = i;
      }
      continue;
    }
    const json j = json::parse(fr.text, nullptr, false);
    if (!j.is_object() || f.steps.empty()) continue;
    const std::string type = j.value("type", "");
    const std::string action = j.value("action", "");
    const json payload = j.value("payload", json::object());
    if (type == "response") {
      std::optional<std::size_t> step;
      if (j.contains("request_id") && j["request_id"].is_string()) {
        if (auto it = by_request.find(j["request_id"].get<std::string>()); it != by_request.end()) step = it->second;
      } else if (unanswered) {
        step = std::exchange(unanswered, std::nullopt);
      }
      if (!step) continue;
      if (action == "login" && j.value("success", false) && payload.contains("customer")) {
        customer = payload["customer"].value("id", "");
        f.customers.push_back({customer, payload["customer"].value("name", ""), payload["customer"].value("email", ""), "customer"});
      }
      expect(*step, j);
      continue;
    }
    if (type != "push") continue;
    const json chat = payload.contains("chat_id") ? g.ref(payload.value("chat_id", "")) : json();
    if (action == "incoming_event" && payload.contains("event")) {
      const auto& ev = payload["event"];
      const std::string author = ev.value("author_id", "");
      if (ev.value("type", "") == "message" && !author.empty() && author != customer) {
        agent(author, "");
        agent_step({{"do", "message"}, {"chat", chat}, {"agent", author}, {"text", ev.value("text", "")}}, j);
        continue;
      }
      if (!author.empty() && author != customer) continue;  // an agent's event the shell cannot send
    } else if (action == "user_added_to_chat" && payload.contains("user") && payload["user"].value("type", "") == "agent") {
      const auto& u = payload["user"];
      agent(u.value("id", ""), u.value("name", ""));
      agent_step({{"do", "join"}, {"chat", chat}, {"agent", u.value("id", "")}}, j);
      continue;
    } else if (action == "user_removed_from_chat") {
      const std::string who = payload.value("user_id", "");
      if (who == customer) {
        agent_step({{"do", "remove"}, {"chat", chat}, {"customer", who}}, j);
      } else {
        agent_step({{"do", "remove"}, {"chat", chat}, {"agent", who}}, j);
      }
      continue;
    } else if (action == "chat_deactivated" && payload.value("user_id", "") != customer) {
      json a{{"do", "close"}, {"chat", chat}};
      if (payload.contains("user_id")) a["agent"] = payload["user_id"];
      agent_step(a, j);
      continue;
    } else if (action == "chat_transferred") {
      const auto groups = payload.contains("transferred_to") ? payload["transferred_to"].value("group_ids", json::array()) : json::array();
      agent_step({{"do", "transfer"}, {"chat", chat}, {"group", groups.empty() ? json(0) : groups[0]}}, j);
      continue;
    } else if (action == "incoming_typing_indicator" && payload.contains("typing_indicator")) {
      const auto& t = payload["typing_indicator"];
      agent(t.value("author_id", ""), "");
      agent_step({{"do", "typing"}, {"chat", chat}, {"agent", t.value("author_id", "")}, {"stop", !t.value("is_typing", true)}}, j);
      continue;
    } else if (action == "incoming_greeting" || (action == "greeting_canceled" && k + 1 < frames.size() &&
                                                 frames[k + 1].text.find("\"incoming_greeting\"") != std::string::npos)) {
      // A new greeting cancels the one shown: both pushes belong to the greeting's step.
      const json greeting = action == "incoming_greeting" ? payload : json::parse(frames[k + 1].text, nullptr, false).value("payload", json::object());
      const auto& a = greeting.value("agent", json::object());
      agent(a.value("id", ""), a.value("name", ""));
      const std::string text = greeting.value("event", json::object()).value("text", "");
      agent_step({{"do", "greet"}, {"customer", customer}, {"agent", a.value("id", "")}, {"text", text},
                  {"greeting_id", greeting.value("id", 1)}}, j);
      if (action == "greeting_canceled") {
        expect(f.steps.size() - 1, json::parse(frames[k + 1].text, nullptr, false));
        ++k;
      }
      continue;
    } else if (action == "customer_disconnected") {
      const std::string reason = payload.value("reason", "");
      const bool after_login_error = !f.steps.back().expect.empty() && f.steps.back().send &&
                                     f.steps.back().send->value("action", "") == "login";
      if (!after_login_error && reason == "customer_banned") {
        agent_step({{"do", "ban"}, {"customer", customer}}, j);
        continue;
      }
      if (!after_login_error && reason == "access_token_expired") {
        agent_step({{"do", "revoke"}, {"customer", customer}}, j);
        continue;
      }
      if (reason == "connection_timeout" || reason == "service_temporarily_unavailable") continue;  // not re-enacted
    } else if (action == "incoming_chat" && payload.value("requester_id", customer) != customer) {
      continue;  // started by someone else: nothing to re-enact
    } else if (action == "events_marked_as_seen" && payload.value("user_id", customer) != customer) {
      continue;
    }
    expect(f.steps.size() - 1, j);
  }
  // The token placeholder names the customer now known.
  for (auto& s : f.steps) {
    if (s.send && s.send->value("action", "") == "login" && s.send->contains("payload") && (*s.send)["payload"].contains("token")) {
      (*s.send)["payload"]["token"] = customer.empty() ? json(token_literal) : json("${token." + customer + "}");
    }
  }
  // Steps that expected nothing and did nothing (an agent event the shell cannot re-enact) go.
  for (std::size_t i = 0; i < f.steps.size(); ++i) f.steps[i].number = i + 1;
  return f;
}

ConversationRecorder::ConversationRecorder(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (!std::filesystem::is_directory(dir_, ec)) throw Error(ErrorKind::cant_create, "cannot create " + dir_);
}

void ConversationRecorder::opened(std::uint64_t connection) {
  std::lock_guard lock(mu_);
  conversations_[connection];
}

void ConversationRecorder::received(std::uint64_t connection, const std::string& frame) {
  std::lock_guard lock(mu_);
  conversations_[connection].push_back({true, frame});
}

void ConversationRecorder::sent(std::uint64_t connection, const std::string& frame) {
  std::lock_guard lock(mu_);
  conversations_[connection].push_back({false, frame});
}

void ConversationRecorder::closed(std::uint64_t connection) {
  std::vector<RecordedFrame> frames;
  {
    std::lock_guard lock(mu_);
    auto it = conversations_.find(connection);
    if (it == conversations_.end()) return;
    frames = std::move(it->second);
    conversations_.erase(it);
  }
  try {
    std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", std::gmtime(&now));
    const std::string base = std::string(stamp) + "-" + std::to_string(connection);
    Fixture f = fixture_from_conversation(frames, "recorded conversation " + base);
    if (f.customers.empty() || f.steps.empty()) return;  // never logged in: nothing to replay
    const auto path = std::filesystem::path(dir_) / ("conversation-" + base + ".json");
    const auto tmp = path.string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << fixture_json(f).dump(2) << '\n';
      if (!out.flush()) throw Error(ErrorKind::io, "cannot write " + tmp);
    }
    std::filesystem::rename(tmp, path);
  } catch (const std::exception& e) {
    spdlog::error("chatd: recording connection {}: {}", connection, e.what());
  }
}

}  // namespace chatctl::transcript
