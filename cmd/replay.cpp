// chatctl replay: run protocol fixtures against chatd, in process or over a URL.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "transcript/fixture.hpp"
#include "transcript/record.hpp"
#include "transcript/replay.hpp"

namespace chatctl::cmd {
namespace {

// "500ms", or a duration chatctl reads elsewhere ("5s", "2m"), in milliseconds.
std::optional<std::int64_t> parse_millis(const std::string& s) {
  if (s.size() > 2 && s.compare(s.size() - 2, 2, "ms") == 0) {
    const auto digits = s.substr(0, s.size() - 2);
    if (digits.front() < '0' || digits.front() > '9') return std::nullopt;
    return core::parse_int(digits);
  }
  const auto us = core::parse_duration(s);
  if (!us) return std::nullopt;
  return *us / 1000;
}

void print_result(std::ostream& out, const transcript::ReplayResult& r, bool color) {
  const char* mark = r.passed ? (color ? "\033[32mok\033[0m  " : "ok  ") : (color ? "\033[31mFAIL\033[0m" : "FAIL");
  out << mark << ' ' << r.name << " (" << r.file << ") " << static_cast<int>(r.seconds * 1000) << " ms\n";
  if (!r.passed) {
    out << "    " << r.failure << '\n' << r.diff;
  }
}

}  // namespace

void register_replay(CLI::App& app, Context& ctx) {
  struct Options {
    std::vector<std::string> paths;
    std::optional<std::string> url{};
    std::optional<std::string> junit{};
    std::optional<std::string> from_export{};
    std::optional<std::string> timeout{};
    bool tap{false};
    bool check{false};
    unsigned jobs{0};
  };
  auto o = std::make_shared<Options>();
  app.add_option("fixtures", o->paths, "Fixture files, or folders of *.json, *.yaml, *.yml fixtures");
  app.add_option("--url", o->url, "Replay against a running chatd (ws://host:port) and its database (--db)")
      ->type_name("URL");
  app.add_option("--junit", o->junit, "Also write a JUnit XML report to FILE")->type_name("FILE");
  app.add_flag("--tap", o->tap, "Print TAP (version 13) instead of a line per fixture");
  app.add_option("--timeout", o->timeout, "Time each step may wait for its messages (overrides the fixtures'): 500ms, 5s")
      ->type_name("DURATION");
  app.add_flag("--check", o->check, "Only read and check the fixtures; run nothing");
  app.add_option("--jobs,-j", o->jobs, "Fixtures run side by side (default: two per CPU in process; 1 with --url, whose fixtures share a server)")
      ->check(CLI::Range(1, 64));
  app.add_option("--from-export", o->from_export,
                 "Print a fixture re-enacting the customer side of the chats in an export file (chatctl export)")
      ->type_name("FILE");
  app.callback([&ctx, o] {
    if (o->from_export) {
      if (!o->paths.empty() || o->url) throw core::Error(core::ErrorKind::usage, "--from-export takes no fixtures or --url");
      transcript::write_fixture_from_export(*o->from_export, ctx.out());
      return;
    }
    if (o->paths.empty()) throw core::Error(core::ErrorKind::usage, "give fixture files or folders");
    ctx.settings();  // the configured log level, also for the in-process server
    std::optional<std::chrono::milliseconds> timeout;
    if (o->timeout) {
      const auto ms = parse_millis(*o->timeout);
      if (!ms || *ms <= 0 || *ms > 600000) throw core::Error(core::ErrorKind::usage, "--timeout: give a duration such as 500ms or 5s");
      timeout = std::chrono::milliseconds(*ms);
    }
    // Every fixture is read and checked before any runs: a malformed one is exit 65, with all
    // the problems listed.
    const unsigned cpus = std::max(1U, std::thread::hardware_concurrency());
    std::vector<transcript::Fixture> fixtures;
    std::string problems;
    for (auto& loaded : transcript::load_fixtures(transcript::fixture_files(o->paths), cpus)) {
      if (loaded.fixture) {
        fixtures.push_back(std::move(*loaded.fixture));
      } else {
        problems += "chatctl: error: " + loaded.problem + "\n";
      }
    }
    if (!problems.empty()) {
      std::cerr << problems;
      ctx.exit_code = 65;
      return;
    }
    if (o->check) {
      ctx.out() << fixtures.size() << (fixtures.size() == 1 ? " fixture" : " fixtures") << " checked\n";
      return;
    }
    const bool color = !o->tap && isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
    transcript::RunOptions run;
    run.timeout = timeout;
    if (o->url) run.url = *o->url;
    // In process a fixture runs its requests on its own thread but still waits now and then (a
    // closed connection, the reset between fixtures): two per CPU keep every CPU busy.
    run.jobs = o->jobs ? o->jobs : o->url ? 1U : std::min(64U, 2 * cpus);
    if (!o->tap) run.on_result = [&](const transcript::ReplayResult& r) { print_result(ctx.out(), r, color); };
    const auto results = transcript::run_fixtures(fixtures, run, ctx.settings(), ctx.clock());
    if (o->tap) transcript::write_tap(ctx.out(), results);
    std::size_t failed = 0;
    for (const auto& r : results) failed += r.passed ? 0 : 1;
    if (!o->tap) {
      ctx.out() << results.size() - failed << " passed, " << failed << " failed\n";
    }
    if (o->junit) {
      std::ofstream junit(*o->junit, std::ios::binary | std::ios::trunc);
      if (!junit) throw core::Error(core::ErrorKind::cant_create, "cannot write " + *o->junit);
      transcript::write_junit(junit, results);
      if (!junit.flush()) throw core::Error(core::ErrorKind::io, "cannot write " + *o->junit);
    }
    ctx.exit_code = failed ? 1 : 0;
  });
}

}  // namespace chatctl::cmd
