#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/settings.hpp"
#include "store/store.hpp"
#include "transcript/fixture.hpp"

namespace chatctl::transcript {

// One client connection a fixture speaks through.
class ReplayConnection {
 public:
  virtual ~ReplayConnection() = default;
  virtual void send(const std::string& frame) = 0;
  // The next frame, or nullopt when none came within `timeout` or the connection is closed.
  virtual std::optional<std::string> receive(std::chrono::milliseconds timeout) = 0;
  virtual bool closed() = 0;
  virtual void close() = 0;
};

// Where a fixture runs: the database its set-up and agent actions write to, and connections to
// the chatd serving that database.
class ReplayTarget {
 public:
  virtual ~ReplayTarget() = default;
  virtual const core::Settings& settings() = 0;
  virtual std::unique_ptr<ReplayConnection> connect() = 0;
  // Runs `fn` (set-up, an agent action) on the database; in process, the pushes of what it
  // committed are queued on the connections before this returns.
  virtual void write(const std::function<void(store::Store&)>& fn) = 0;
  // Puts the target back as it was before its first fixture, so the next fixture can run on it;
  // false when it cannot (a server over the network is never reset). Every connection is closed.
  virtual bool reset() { return false; }
};

// Makes in-process targets: a database (a copy of one migrated once) with the real rtm::Service
// on one connection to it, and no sockets. A target is reset between fixtures (its rows are those
// of the migrated copy again), so a thread makes one and runs many fixtures on it.
class InProcess {
 public:
  explicit InProcess(const core::Clock& clock);
  ~InProcess();
  // Thread-safe: fixtures may run side by side, each on its own target.
  std::unique_ptr<ReplayTarget> make();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A target over the network: the chatd at `url` (ws://host:port), whose database is the one
// `settings` names (set-up and agent actions go there; names that exist are reused).
std::unique_ptr<ReplayTarget> url_target(const std::string& url, const core::Settings& settings,
                                         const core::Clock& clock);

struct ReplayResult {
  std::string file;
  std::string name;
  bool passed{false};
  std::size_t failed_step{0};  // 0: none, or the fixture could not start
  std::string failure;         // one line
  std::string diff;            // expected against received, several lines
  std::size_t exchanges{0};    // frames sent and messages matched
  double seconds{0};
};

// Runs one fixture on `target`. Never throws for what a fixture or a server does: a failure is
// in the result. `timeout` overrides the fixture's per-step timeouts when set.
ReplayResult run_fixture(const Fixture& fixture, ReplayTarget& target, const core::Clock& clock,
                         std::optional<std::chrono::milliseconds> timeout);

struct RunOptions {
  std::optional<std::string> url{};  // against this chatd (and the database `settings` names); else in process
  unsigned jobs{1};                  // fixtures side by side (with url: each thread its own connection)
  std::optional<std::chrono::milliseconds> timeout{};
  // Called with each result in fixture order, as soon as it and those before it are done.
  std::function<void(const ReplayResult&)> on_result{};
};

// Runs `fixtures`, each on a fresh in-process target or all against `options.url`; results in
// fixture order. A fixture whose target cannot start fails with that reason.
std::vector<ReplayResult> run_fixtures(const std::vector<Fixture>& fixtures, const RunOptions& options,
                                       const core::Settings& settings, const core::Clock& clock);

// Reports: TAP version 13, and JUnit XML (one testsuite, a testcase per fixture).
void write_tap(std::ostream& out, const std::vector<ReplayResult>& results);
void write_junit(std::ostream& out, const std::vector<ReplayResult>& results);

}  // namespace chatctl::transcript
