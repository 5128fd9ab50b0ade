#include "transcript/replay.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.hpp"
#include "core/text.hpp"
#include "engine/channels.hpp"
#include "engine/chats.hpp"
#include "engine/engine.hpp"
#include "engine/people.hpp"
#include "rtm/render.hpp"
#include "rtm/service.hpp"
#include "server/ws_client.hpp"
#include "transcript/match.hpp"

namespace chatctl::transcript {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// In process: what the service sends lands in a queue the runner reads.
class QueueConnection final : public rtm::Sink {
 public:
  explicit QueueConnection(rtm::Service& service) : service_(service) {}
  void start(const std::shared_ptr<QueueConnection>& self) { client_ = service_.connect(self, "replay"); }

  // rtm::Sink
  void send(std::string text) override {
    {
      std::lock_guard lock(mu_);
      frames_.push_back(std::move(text));
    }
    cv_.notify_all();
  }
  void close(bool) override {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

  // What the client sends and receives.
  void submit(const std::string& frame) {
    if (!closed()) service_.receive(client_, frame);
  }
  std::optional<std::string> next(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !frames_.empty() || closed_; });
    if (frames_.empty()) return std::nullopt;
    std::string f = std::move(frames_.front());
    frames_.pop_front();
    return f;
  }
  bool closed() {
    std::lock_guard lock(mu_);
    return closed_ && frames_.empty();
  }
  void hang_up() {
    if (client_) service_.disconnected(client_);
    client_.reset();
    std::lock_guard lock(mu_);
    closed_ = true;
  }

 private:
  rtm::Service& service_;
  std::shared_ptr<rtm::Client> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> frames_;
  bool closed_{false};
};

// Holds the shared_ptr the service needs for its sink, and closes on destruction.
class QueueHandle final : public ReplayConnection {
 public:
  explicit QueueHandle(std::shared_ptr<QueueConnection> c) : c_(std::move(c)) {}
  ~QueueHandle() override { c_->hang_up(); }
  void send(const std::string& frame) override { c_->submit(frame); }
  std::optional<std::string> receive(std::chrono::milliseconds timeout) override { return c_->next(timeout); }
  bool closed() override { return c_->closed(); }
  void close() override { c_->hang_up(); }

 private:
  std::shared_ptr<QueueConnection> c_;
};

class InProcessTarget final : public ReplayTarget {
 public:
  InProcessTarget(fs::path dir, fs::path template_db, const core::Clock& clock)
      : dir_(std::move(dir)), template_db_(std::move(template_db)) {
    settings_ = core::Settings::defaults({{"database", (dir_ / "chat.db").string()}, {"actor", "replay"}});
    auto store = engine::open_database(settings_, clock);
    store->scratch_mode();  // the service's one session is the only one, and the file is thrown away
    service_ = std::make_unique<rtm::Service>(settings_, clock, std::move(store));
  }
  ~InProcessTarget() override {
    service_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const core::Settings& settings() override { return settings_; }
  std::unique_ptr<ReplayConnection> connect() override {
    auto c = std::make_shared<QueueConnection>(*service_);
    c->start(c);
    return std::make_unique<QueueHandle>(c);
  }
  void write(const std::function<void(store::Store&)>& fn) override { service_->write(fn); }
  bool reset() override {
    service_->restart([&](store::Store& store) { store.restore_rows(template_db_.string()); });
    return true;
  }

 private:
  fs::path dir_;
  fs::path template_db_;
  core::Settings settings_ = core::Settings::defaults();
  std::unique_ptr<rtm::Service> service_;
};

class WsConnection final : public ReplayConnection {
 public:
  explicit WsConnection(const std::string& url) : client_(url, std::chrono::seconds(5)) {}
  void send(const std::string& frame) override { client_.send(frame); }
  std::optional<std::string> receive(std::chrono::milliseconds timeout) override { return client_.receive(timeout); }
  bool closed() override { return client_.closed(); }
  void close() override { client_.close(); }

 private:
  server::WsClient client_;
};

class UrlTarget final : public ReplayTarget {
 public:
  UrlTarget(std::string url, const core::Settings& settings, const core::Clock& clock)
      : url_(std::move(url)), settings_(settings), store_(engine::open_database(settings, clock)) {
    // chatd's own checkpointer keeps the WAL short; left to SQLite, each set-up's commit would
    // checkpoint the whole log (and sync) itself once it is past 1,000 pages, which it mostly is.
    store_->bulk_mode(true);
    // A bare ws://host:port means the RTM endpoint.
    const auto scheme = url_.find("://");
    if (scheme != std::string::npos && url_.find('/', scheme + 3) == std::string::npos) {
      url_ += "/v3.2/customer/rtm/ws?license_id=" + std::to_string(settings_.get_int(core::keys::kChatdLicenseId));
    }
  }
  const core::Settings& settings() override { return settings_; }
  std::unique_ptr<ReplayConnection> connect() override { return std::make_unique<WsConnection>(url_); }
  // chatd reads the log within its poll interval; the fixture's next expectation waits for that.
  void write(const std::function<void(store::Store&)>& fn) override { fn(*store_); }

 private:
  std::string url_;
  const core::Settings& settings_;
  std::unique_ptr<store::Store> store_;
};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A failure of the step being run.
struct StepError {
  std::string message;
  std::string diff;
};

model::ChatId chat_of(const json& a) {
  const json& c = a.contains("chat") ? a["chat"] : json();
  if (c.is_number_integer()) return c.get<model::ChatId>();
  if (c.is_string()) {
    if (auto id = model::parse_rtm_chat_id(c.get<std::string>())) return *id;
    if (auto n = core::parse_int(c.get<std::string>())) return *n;
  }
  throw StepError{"agent action: `chat` must be a chat id (\"C...\" or a number)", ""};
}

std::string str(const json& a, const char* key, bool required = true) {
  auto it = a.find(key);
  if (it == a.end() || it->is_null()) {
    if (required) throw StepError{std::string("agent action: `") + key + "` is required", ""};
    return {};
  }
  if (!it->is_string()) throw StepError{std::string("agent action: `") + key + "` must be a string", ""};
  return it->get<std::string>();
}

// An agent's side of the conversation, through the engine as chatctl's shell commands do it.
void agent_action(const json& a, store::Store& store, const core::Settings& settings, const core::Clock& clock) {
  const std::string what = a.value("do", "");
  const std::string agent = a.contains("agent") && a["agent"].is_string() ? a["agent"].get<std::string>() : "replay";
  engine::ChatEngine chats(store, settings, clock, agent);
  engine::People people(store, settings, clock, agent);
  if (what == "join") {
    const auto ag = people.agent(str(a, "agent"));
    engine::ParticipantSpec spec;
    spec.chatter_id = ag.login;
    spec.chatter_name = ag.name;
    spec.permission = model::parse_permission_level(a.value("permission", "Owner")).value_or(model::PermissionLevel::owner);
    chats.add_participant(chat_of(a), spec, false);
  } else if (what == "message") {
    engine::NewMessage m;
    m.chatter_id = str(a, "agent");
    m.text = str(a, "text");
    if (a.value("internal", false)) m.audience = model::Audience::agents;
    chats.add_message(chat_of(a), m, false);
  } else if (what == "typing") {
    chats.typing(chat_of(a), str(a, "agent"), !a.value("stop", false));
  } else if (what == "close") {
    chats.set_status(chat_of(a), model::ChatStatus::closed, false);
  } else if (what == "transfer") {
    // To a channel by name, or to an RTM group (0: the default channel).
    std::string channel = str(a, "channel", false);
    if (channel.empty()) {
      const json g = a.value("group", json());
      if (!g.is_number_integer()) throw StepError{"agent action: transfer needs `channel` (a name) or `group` (a number)", ""};
      const auto id = g.get<std::int64_t>() == 0 ? engine::default_channel_id(store)
                                                 : std::optional<model::ChannelId>(g.get<std::int64_t>());
      if (!id) throw StepError{"agent action: no such group", ""};
      channel = std::to_string(*id);
    }
    chats.move_chat(chat_of(a), channel, false);
  } else if (what == "remove") {
    if (a.contains("customer")) {
      const auto c = people.customer(str(a, "customer"));
      chats.remove_participant(chat_of(a), rtm::chatter_type_of(c), c.id, false);
    } else {
      chats.remove_participant(chat_of(a), model::ChatterType::user, str(a, "agent"), false);
    }
  } else if (what == "greet") {
    people.send_greeting(str(a, "customer"), str(a, "agent"), str(a, "text"), a.value("greeting_id", 1), "", false);
  } else if (what == "availability") {
    const auto av = model::parse_agent_availability(str(a, "availability"));
    if (!av) throw StepError{"agent action: unknown availability", ""};
    people.set_agent_availability(str(a, "agent"), *av, false);
  } else if (what == "ban") {
    engine::CustomerFields f;
    f.banned = a.value("banned", true);
    people.update_customer(str(a, "customer"), f, false);
  } else if (what == "revoke") {
    people.revoke_tokens(0, str(a, "customer"), false);
  }
}

void setup(const Fixture& f, store::Store& store, const core::Settings& settings, const core::Clock& clock,
           Captures& captures) {
  store::WriteTransaction tx(store);  // all or nothing, and one commit
  engine::ChannelAdmin channels(store, clock, "replay");
  for (const auto& c : f.channels) {
    if (store.find_channel_by_name(c.name)) continue;
    engine::ChannelFields fields;
    fields.name = c.name;
    fields.group = c.group;
    fields.customer_users = c.customer_users;
    fields.public_users = c.public_users;
    channels.add(fields, false);
  }
  engine::People people(store, settings, clock, "replay");
  for (const auto& a : f.agents) {
    engine::AgentFields fields;
    fields.name = a.name;
    fields.add_groups = a.groups;
    if (store.find_agent(a.login)) {
      people.update_agent(a.login, fields, false);
    } else {
      fields.login = a.login;
      people.add_agent(fields, false);
    }
    const auto av = model::parse_agent_availability(a.availability);
    if (!av) throw StepError{"set-up: agent " + a.login + ": unknown availability " + core::quoted(a.availability), ""};
    people.set_agent_availability(a.login, *av, false);
  }
  for (const auto& c : f.customers) {
    if (!store.find_customer(c.id)) {
      engine::CustomerFields fields;
      fields.id = c.id;
      if (!c.name.empty()) fields.name = c.name;
      if (!c.email.empty()) fields.email = c.email;
      fields.kind = model::parse_customer_kind(c.kind);
      people.add_customer(fields, false);
    }
    captures["token." + c.id] = people.issue_token(c.id, 3600, false).token;
  }
  tx.commit();
}

void agent_action(const json& a, ReplayTarget& t, const core::Clock& clock) {
  t.write([&](store::Store& store) { agent_action(a, store, t.settings(), clock); });
}

void setup(const Fixture& f, ReplayTarget& t, const core::Clock& clock, Captures& captures) {
  t.write([&](store::Store& store) { setup(f, store, t.settings(), clock, captures); });
}

// The frames received on one connection and not yet matched or passed over.
struct Conn {
  std::unique_ptr<ReplayConnection> c;
  std::deque<json> pending;
  std::vector<json> seen;  // what this step received, for the diff
};

std::string describe(const std::vector<Mismatch>& ms) {
  std::string out;
  for (const auto& m : ms) {
    out += "      " + (m.path.empty() ? std::string("(message)") : m.path) + ": expected " + m.expected + ", got " +
           m.actual + "\n";
  }
  return out;
}

}  // namespace

struct InProcess::State {
  explicit State(const core::Clock& c) : clock(c) {}
  const core::Clock& clock;
  fs::path root;
  fs::path template_db;
  std::atomic<std::size_t> next{0};
};

namespace {

// Where the throwaway databases go: the temporary folder the environment names (TMPDIR, TMP,
// TEMP, TEMPDIR), else /dev/shm where it is a writable folder with room to spare (memory: no disk
// writes, journal or writeback for data deleted at the end; containers often get a small one),
// else /tmp.
fs::path scratch_folder() {
  for (const char* name : {"TMPDIR", "TMP", "TEMP", "TEMPDIR"}) {
    if (const char* t = std::getenv(name); t != nullptr && *t != '\0') return fs::temp_directory_path();
  }
  constexpr unsigned long long kRoom = 512ULL * 1024 * 1024;
  struct statvfs st {};
  if (access("/dev/shm", W_OK | X_OK) == 0 && statvfs("/dev/shm", &st) == 0 &&
      static_cast<unsigned long long>(st.f_bavail) * st.f_frsize >= kRoom) {
    return "/dev/shm";
  }
  return fs::temp_directory_path();
}

}  // namespace

InProcess::InProcess(const core::Clock& clock) : state_(std::make_unique<State>(clock)) {
  std::string tmpl = (scratch_folder() / "chatctl-replay-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw core::Error(core::ErrorKind::cant_create, "cannot make a temporary folder");
  state_->root = tmpl;
  state_->template_db = state_->root / "template.db";
  // Migrate once; each fixture gets a copy.
  const auto settings = core::Settings::defaults({{"database", state_->template_db.string()}});
  auto store = engine::open_database(settings, clock);
  store->checkpoint();
}

InProcess::~InProcess() {
  std::error_code ec;
  fs::remove_all(state_->root, ec);
}

std::unique_ptr<ReplayTarget> InProcess::make() {
  const fs::path dir = state_->root / std::to_string(state_->next++);
  fs::create_directory(dir);
  fs::copy_file(state_->template_db, dir / "chat.db");
  for (const char* suffix : {"-wal", "-shm"}) {
    const fs::path side = state_->template_db.string() + suffix;
    std::error_code ec;
    if (fs::exists(side, ec)) fs::copy_file(side, dir / (std::string("chat.db") + suffix), ec);
  }
  return std::make_unique<InProcessTarget>(dir, state_->template_db, state_->clock);
}

std::unique_ptr<ReplayTarget> url_target(const std::string& url, const core::Settings& settings,
                                         const core::Clock& clock) {
  return std::make_unique<UrlTarget>(url, settings, clock);
}

ReplayResult run_fixture(const Fixture& f, ReplayTarget& t, const core::Clock& clock,
                         std::optional<std::chrono::milliseconds> timeout) {
  ReplayResult result;
  result.file = f.file;
  result.name = f.name;
  const auto started = Clock::now();
  Captures captures;
  std::map<std::string, Conn> conns;
  auto conn = [&](const std::string& name) -> Conn& {
    auto it = conns.find(name);
    if (it == conns.end() || !it->second.c) {
      conns[name].c = t.connect();
      return conns[name];
    }
    return it->second;
  };
  std::size_t step_no = 0;
  try {
    try {
      setup(f, t, clock, captures);
    } catch (const core::Error& e) {
      throw StepError{std::string("set-up: ") + e.what(), ""};
    }
    for (const auto& step : f.steps) {
      step_no = step.number;
      const auto limit = timeout.value_or(step.timeout.value_or(f.timeout));
      if (step.send) {
        json request = substitute(*step.send, captures);
        if (!request.contains("request_id")) request["request_id"] = "s" + std::to_string(step.number);
        conn(step.connection).c->send(dump(request));
        ++result.exchanges;
      } else if (step.send_raw) {
        conn(step.connection).c->send(substitute(json(*step.send_raw), captures).get<std::string>());
        ++result.exchanges;
      } else if (step.agent) {
        try {
          agent_action(substitute(*step.agent, captures), t, clock);
        } catch (const core::Error& e) {
          throw StepError{std::string("agent action failed: ") + e.what(), ""};
        }
      } else if (step.close) {
        auto& c = conn(step.connection);
        c.c->close();
        c.c.reset();
        c.pending.clear();
      }
      const auto deadline = Clock::now() + limit;
      for (auto& [name, c] : conns) c.seen.clear();
      for (const auto& x : step.expect) {
        const json pattern = substitute(x.pattern, captures);
        auto& c = conn(x.connection);
        bool matched = false;
        while (!matched) {
          while (!c.pending.empty() && !matched) {
            json frame = std::move(c.pending.front());
            c.pending.pop_front();
            Captures got;
            if (match(pattern, frame, got).empty()) {
              for (auto& [k, v] : got) captures[k] = std::move(v);
              matched = true;
            }
          }
          if (matched) break;
          const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
          if (left.count() <= 0 || c.c->closed()) break;
          auto frame = c.c->receive(left);
          if (!frame) continue;
          json parsed = json::parse(*frame, nullptr, false);
          if (parsed.is_discarded()) parsed = *frame;  // not JSON: kept as a string so the diff shows it
          c.seen.push_back(parsed);
          c.pending.push_back(std::move(parsed));
        }
        if (!matched) {
          std::string diff = "    expected on " + x.connection + ":\n      " + dump(pattern) + "\n";
          if (c.seen.empty()) {
            diff += "    received nothing in " + std::to_string(limit.count()) + " ms" +
                    (c.c->closed() ? " (the connection was closed)" : "") + "\n";
          } else {
            diff += "    received:\n";
            const json* closest = nullptr;
            std::vector<Mismatch> best;
            for (const auto& s : c.seen) {
              diff += "      " + dump(s) + "\n";
              Captures scratch;
              auto ms = match(pattern, s, scratch);
              if (!closest || ms.size() < best.size()) {
                closest = &s;
                best = std::move(ms);
              }
            }
            diff += "    closest differs at:\n" + describe(best);
          }
          std::string what = pattern.contains("type") && pattern["type"].is_string() ? pattern["type"].get<std::string>()
                                                                                       : std::string("message");
          if (pattern.contains("action") && pattern["action"].is_string()) what += " " + pattern["action"].get<std::string>();
          throw StepError{"expected " + what + " on " + x.connection + " not received", diff};
        }
        ++result.exchanges;
      }
    }
    result.passed = true;
  } catch (const StepError& e) {
    result.failed_step = step_no;
    result.failure = (step_no ? "step " + std::to_string(step_no) + ": " : std::string()) + e.message;
    result.diff = e.diff;
  } catch (const core::Error& e) {
    result.failed_step = step_no;
    result.failure = (step_no ? "step " + std::to_string(step_no) + ": " : std::string()) + e.what();
  } catch (const std::exception& e) {
    result.failed_step = step_no;
    result.failure = std::string("internal error: ") + e.what();
  }
  conns.clear();
  result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

namespace {

std::string xml(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

std::vector<ReplayResult> run_fixtures(const std::vector<Fixture>& fixtures, const RunOptions& o,
                                       const core::Settings& settings, const core::Clock& clock) {
  std::unique_ptr<InProcess> local;
  if (!o.url) local = std::make_unique<InProcess>(clock);
  const unsigned jobs = std::max(1U, o.jobs);
  std::vector<std::optional<ReplayResult>> done(fixtures.size());
  std::mutex mu;  // guards done
  std::condition_variable cv;
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    std::unique_ptr<ReplayTarget> target;  // one per thread: a target's store is not shared
    for (std::size_t i = next++; i < fixtures.size(); i = next++) {
      ReplayResult r;
      try {
        if (target && local) {
          try {
            if (!target->reset()) target.reset();
          } catch (const std::exception& e) {
            spdlog::debug("replay: resetting a target: {}; starting a fresh one", e.what());
            target.reset();
          }
        }
        if (!target) target = local ? local->make() : url_target(*o.url, settings, clock);
        r = run_fixture(fixtures[i], *target, clock, o.timeout);
      } catch (const std::exception& e) {
        r.file = fixtures[i].file;
        r.name = fixtures[i].name;
        r.failure = std::string("cannot start: ") + e.what();
      }
      {
        std::lock_guard lock(mu);
        done[i] = std::move(r);
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < std::min<std::size_t>(jobs, fixtures.size()); ++t) threads.emplace_back(work);
  std::thread own(work);
  std::vector<ReplayResult> results;
  for (std::size_t i = 0; i < fixtures.size(); ++i) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done[i].has_value(); });
    results.push_back(std::move(*done[i]));
    lock.unlock();
    if (o.on_result) o.on_result(results.back());
  }
  own.join();
  for (auto& t : threads) t.join();
  return results;
}

void write_tap(std::ostream& out, const std::vector<ReplayResult>& results) {
  out << "TAP version 13\n1.." << results.size() << '\n';
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    out << (r.passed ? "ok " : "not ok ") << i + 1 << " - " << r.name << " (" << r.file << ")\n";
    if (!r.passed) {
      out << "  ---\n  message: " << json(r.failure).dump() << "\n";
      if (!r.diff.empty()) {
        out << "  diff: |\n";
        std::size_t start = 0;
        while (start < r.diff.size()) {
          const auto nl = r.diff.find('\n', start);
          out << "  " << r.diff.substr(start, nl - start) << '\n';
          if (nl == std::string::npos) break;
          start = nl + 1;
        }
      }
      out << "  ...\n";
    }
  }
}

void write_junit(std::ostream& out, const std::vector<ReplayResult>& results) {
  std::size_t failures = 0;
  double total = 0;
  for (const auto& r : results) {
    failures += r.passed ? 0 : 1;
    total += r.seconds;
  }
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"chatctl replay\" tests=\""
      << results.size() << "\" failures=\"" << failures << "\" errors=\"0\" time=\"" << total << "\">\n";
  for (const auto& r : results) {
    out << "  <testcase classname=\"" << xml(r.file) << "\" name=\"" << xml(r.name) << "\" time=\"" << r.seconds << "\"";
    if (r.passed) {
      out << "/>\n";
    } else {
      out << ">\n    <failure message=\"" << xml(r.failure) << "\">" << xml(r.diff) << "</failure>\n  </testcase>\n";
    }
  }
  out << "</testsuite>\n</testsuites>\n";
}

}  // namespace chatctl::transcript
