#include "transcript/record.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "core/error.hpp"

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

}  // namespace chatctl::transcript
