#include "transcript/fixture.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>

#include "core/error.hpp"
#include "core/text.hpp"
#include "rtm/actions.hpp"

namespace chatctl::transcript {
namespace {

using core::Error;
using core::ErrorKind;
using json = nlohmann::json;

const std::set<std::string> kAgentActions = {"join",  "message", "typing",       "close", "transfer",
                                             "remove", "greet",  "availability", "ban",   "revoke"};

json yaml_to_json(const YAML::Node& n, const std::string& file) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& item : n) a.push_back(yaml_to_json(item, file));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) {
        const auto key = kv.first.as<std::string>();
        if (o.contains(key)) {
          throw Error(ErrorKind::data, file + ":" + std::to_string(kv.first.Mark().line + 1) + ": duplicate key " +
                                           core::quoted(key));
        }
        o[key] = yaml_to_json(kv.second, file);
      }
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted: a string whatever it looks like
      if (s == "true" || s == "True") return true;
      if (s == "false" || s == "False") return false;
      if (s == "null" || s == "~") return nullptr;
      if (const auto i = core::parse_int(s)) return *i;
      return s;
    }
  }
  return nullptr;
}

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& msg) const {
    throw Error(ErrorKind::data, file_ + ": " + (where.empty() ? "" : where + ": ") + msg);
  }

  void only(const json& obj, const std::string& where, std::initializer_list<const char*> keys) const {
    if (!obj.is_object()) fail(where, "must be an object");
    for (const auto& [k, v] : obj.items()) {
      // Clang 14 cannot capture a structured binding; the init-capture names it.
      if (std::none_of(keys.begin(), keys.end(), [&key = k](const char* allowed) { return key == allowed; })) {
        fail(where, "unknown member " + core::quoted(k));
      }
    }
  }

  std::string string(const json& obj, const char* key, const std::string& where, bool required,
                     std::string fallback = {}) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      if (required) fail(where, std::string("`") + key + "` is required");
      return fallback;
    }
    if (!it->is_string()) fail(where, std::string("`") + key + "` must be a string");
    return it->get<std::string>();
  }

  bool boolean(const json& obj, const char* key, const std::string& where, bool fallback) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) fail(where, std::string("`") + key + "` must be true or false");
    return it->get<bool>();
  }

  std::optional<std::chrono::milliseconds> millis(const json& obj, const char* key, const std::string& where) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > 600000) {
      fail(where, std::string("`") + key + "` must be 1..600000 milliseconds");
    }
    return std::chrono::milliseconds(it->get<std::int64_t>());
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

// Every ${name} in `j`'s strings, and every $capture:name.
void references(const json& j, std::vector<std::string>& used, std::vector<std::string>& captured) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s.rfind("$capture:", 0) == 0) captured.push_back(s.substr(9));
    for (std::size_t p = s.find("${"); p != std::string::npos; p = s.find("${", p + 2)) {
      const auto end = s.find('}', p);
      if (end != std::string::npos) used.push_back(s.substr(p + 2, end - p - 2));
    }
  } else if (j.is_structured()) {
    for (const auto& v : j) references(v, used, captured);
  }
}

void check_patterns(const json& j, const Reader& r, const std::string& where) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s.rfind("$regex:", 0) == 0) {
      try {
        std::regex re(s.substr(7), std::regex::ECMAScript);
      } catch (const std::regex_error&) {
        r.fail(where, "invalid regular expression " + core::quoted(s.substr(7)));
      }
    } else if (s.rfind("$capture:", 0) == 0 && s.size() == 9) {
      r.fail(where, "a capture needs a name: $capture:<name>");
    } else if (!s.empty() && s[0] == '$' && s.rfind("${", 0) != 0 && s.rfind("$$", 0) != 0) {
      static const std::set<std::string> kRules = {"$any", "$string", "$number", "$boolean", "$object", "$array"};
      if (!kRules.count(s) && s.rfind("$regex:", 0) != 0 && s.rfind("$capture:", 0) != 0) {
        r.fail(where, "unknown match rule " + core::quoted(s));
      }
    }
  } else if (j.is_structured()) {
    for (const auto& v : j) check_patterns(v, r, where);
  }
}

}  // namespace

Fixture parse_fixture(const std::string& text, const std::string& file) {
  Reader r(file);
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && (text[first] == '{' || text[first] == '[')) {
      try {
        const auto strict = json::parse(text);
        (void)strict;
      } catch (const json::parse_error& e) {
        r.fail("", std::string("not valid JSON: ") + e.what());
      }
    }
    try {
      doc = yaml_to_json(YAML::Load(text), file);
    } catch (const YAML::Exception& e) {
      r.fail("", "line " + std::to_string(e.mark.line + 1) + ": not valid JSON or YAML: " + e.msg);
    }
  }
  r.only(doc, "", {"name", "description", "timeout_ms", "setup", "steps"});
  Fixture f;
  f.file = file;
  f.name = r.string(doc, "name", "", false, std::filesystem::path(file).stem().string());
  if (auto t = r.millis(doc, "timeout_ms", "")) f.timeout = *t;

  std::vector<std::string> known = {};
  if (auto it = doc.find("setup"); it != doc.end() && !it->is_null()) {
    const json& setup = *it;
    r.only(setup, "setup", {"channels", "agents", "customers"});
    auto list = [&](const char* key) {
      auto l = setup.find(key);
      if (l == setup.end() || l->is_null()) return json::array();
      if (!l->is_array()) r.fail(std::string("setup.") + key, "must be a list");
      return *l;
    };
    for (const auto& c : list("channels")) {
      r.only(c, "setup.channels", {"name", "group", "customer_users", "public_users"});
      f.channels.push_back({r.string(c, "name", "setup.channels", true), r.string(c, "group", "setup.channels", false, "users"),
                            r.boolean(c, "customer_users", "setup.channels", true),
                            r.boolean(c, "public_users", "setup.channels", false)});
    }
    for (const auto& a : list("agents")) {
      r.only(a, "setup.agents", {"login", "name", "groups", "availability"});
      FixtureAgent agent;
      agent.login = r.string(a, "login", "setup.agents", true);
      agent.name = r.string(a, "name", "setup.agents", false, agent.login);
      if (auto g = a.find("groups"); g != a.end() && !g->is_null()) {
        if (!g->is_array()) r.fail("setup.agents", "`groups` must be a list");
        agent.groups.clear();
        for (const auto& x : *g) {
          if (!x.is_string()) r.fail("setup.agents", "`groups` holds names");
          agent.groups.push_back(x.get<std::string>());
        }
      }
      agent.availability = r.string(a, "availability", "setup.agents", false, "online");
      f.agents.push_back(agent);
    }
    for (const auto& c : list("customers")) {
      r.only(c, "setup.customers", {"id", "name", "email", "kind"});
      FixtureCustomer customer{r.string(c, "id", "setup.customers", true), r.string(c, "name", "setup.customers", false),
                               r.string(c, "email", "setup.customers", false),
                               r.string(c, "kind", "setup.customers", false, "customer")};
      if (customer.kind != "customer" && customer.kind != "public") r.fail("setup.customers", "`kind` is customer or public");
      known.push_back("token." + customer.id);
      f.customers.push_back(customer);
    }
  }

  auto steps = doc.find("steps");
  if (steps == doc.end() || !steps->is_array() || steps->empty()) r.fail("", "`steps` must be a non-empty list");
  for (std::size_t i = 0; i < steps->size(); ++i) {
    const json& s = (*steps)[i];
    const std::string where = "step " + std::to_string(i + 1);
    r.only(s, where, {"connection", "send", "send_raw", "agent", "close", "expect", "timeout_ms", "comment"});
    Step step;
    step.number = i + 1;
    step.connection = r.string(s, "connection", where, false, "c1");
    if (step.connection.empty()) r.fail(where, "`connection` must not be empty");
    int actions = 0;
    if (auto it = s.find("send"); it != s.end() && !it->is_null()) {
      ++actions;
      if (!it->is_object()) r.fail(where, "`send` must be a request object");
      const std::string action = r.string(*it, "action", where + ": send", true);
      if (!rtm::Actions::known(action)) {
        r.fail(where, "unknown action " + core::quoted(action) + " (send it with send_raw to test the error)");
      }
      step.send = *it;
    }
    if (auto it = s.find("send_raw"); it != s.end() && !it->is_null()) {
      ++actions;
      if (!it->is_string()) r.fail(where, "`send_raw` must be a string");
      step.send_raw = it->get<std::string>();
    }
    if (auto it = s.find("agent"); it != s.end() && !it->is_null()) {
      ++actions;
      if (!it->is_object()) r.fail(where, "`agent` must be an object");
      const std::string what = r.string(*it, "do", where + ": agent", true);
      if (!kAgentActions.count(what)) r.fail(where, "unknown agent action " + core::quoted(what));
      step.agent = *it;
    }
    step.close = r.boolean(s, "close", where, false);
    if (step.close) ++actions;
    if (actions > 1) r.fail(where, "a step does one thing: send, send_raw, agent or close");
    step.timeout = r.millis(s, "timeout_ms", where);
    if (auto it = s.find("expect"); it != s.end() && !it->is_null()) {
      if (!it->is_array()) r.fail(where, "`expect` must be a list of messages");
      for (const auto& e : *it) {
        if (!e.is_object()) r.fail(where, "expected messages are objects");
        Expectation x;
        x.connection = r.string(e, "connection", where, false, step.connection);
        x.pattern = e;
        x.pattern.erase("connection");
        check_patterns(x.pattern, r, where);
        step.expect.push_back(std::move(x));
      }
    }
    if (actions == 0 && step.expect.empty()) r.fail(where, "does nothing: give send, send_raw, agent, close or expect");
    // A capture is usable by the expectations after it and by later steps; a reference must
    // follow its capture.
    auto check_known = [&](const std::vector<std::string>& used) {
      for (const auto& name : used) {
        if (std::find(known.begin(), known.end(), name) == known.end()) {
          r.fail(where, "${" + name + "} is used before any step captures it");
        }
      }
    };
    std::vector<std::string> used;
    std::vector<std::string> captured;
    if (step.send) references(*step.send, used, captured);
    if (step.agent) references(*step.agent, used, captured);
    check_known(used);
    for (const auto& x : step.expect) {
      used.clear();
      captured.clear();
      references(x.pattern, used, captured);
      check_known(used);
      known.insert(known.end(), captured.begin(), captured.end());
    }
    f.steps.push_back(std::move(step));
  }
  return f;
}

Fixture load_fixture(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::no_input, "cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_fixture(text.str(), path);
}

std::vector<LoadedFixture> load_fixtures(const std::vector<std::string>& files, unsigned jobs) {
  std::vector<LoadedFixture> out(files.size());
  std::vector<std::exception_ptr> failed(files.size());
  std::atomic<std::size_t> next{0};
  const auto work = [&]() noexcept {
    for (std::size_t i = next++; i < files.size(); i = next++) {
      try {
        out[i].fixture = load_fixture(files[i]);
      } catch (...) {
        failed[i] = std::current_exception();  // sorted out below, on the calling thread
      }
    }
  };
  std::vector<std::thread> threads;
  const std::size_t helpers = std::min<std::size_t>(std::max(1U, jobs), files.size() / 16 + 1) - 1;
  for (std::size_t t = 0; t < helpers; ++t) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // fewer threads: the calling one loads what they would have
    }
  }
  work();
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (!failed[i]) continue;
    try {
      std::rethrow_exception(failed[i]);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::data) throw;
      out[i].problem = e.what();
    }
  }
  return out;
}

std::vector<std::string> fixture_files(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(p, ec)) {
        const auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".json" || ext == ".yaml" || ext == ".yml")) found.push_back(e.path().string());
      }
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      out.push_back(p);
    } else {
      throw Error(ErrorKind::no_input, "no such fixture file or folder: " + p);
    }
  }
  return out;
}

json fixture_json(const Fixture& f) {
  json doc{{"name", f.name}};
  if (f.timeout != std::chrono::milliseconds(5000)) doc["timeout_ms"] = f.timeout.count();
  json setup = json::object();
  for (const auto& c : f.channels) {
    setup["channels"].push_back(
        {{"name", c.name}, {"group", c.group}, {"customer_users", c.customer_users}, {"public_users", c.public_users}});
  }
  for (const auto& a : f.agents) {
    setup["agents"].push_back({{"login", a.login}, {"name", a.name}, {"groups", a.groups}, {"availability", a.availability}});
  }
  for (const auto& c : f.customers) {
    json j{{"id", c.id}};
    if (!c.name.empty()) j["name"] = c.name;
    if (!c.email.empty()) j["email"] = c.email;
    if (c.kind != "customer") j["kind"] = c.kind;
    setup["customers"].push_back(j);
  }
  if (!setup.empty()) doc["setup"] = setup;
  json steps = json::array();
  for (const auto& s : f.steps) {
    json j = json::object();
    if (s.connection != "c1") j["connection"] = s.connection;
    if (s.send) j["send"] = *s.send;
    if (s.send_raw) j["send_raw"] = *s.send_raw;
    if (s.agent) j["agent"] = *s.agent;
    if (s.close) j["close"] = true;
    if (s.timeout) j["timeout_ms"] = s.timeout->count();
    if (!s.expect.empty()) {
      json e = json::array();
      for (const auto& x : s.expect) {
        json p = x.pattern;
        if (x.connection != s.connection) p["connection"] = x.connection;
        e.push_back(p);
      }
      j["expect"] = e;
    }
    steps.push_back(j);
  }
  doc["steps"] = steps;
  return doc;
}

}  // namespace chatctl::transcript
