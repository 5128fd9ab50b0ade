// Benchmark: `chatctl chatd`, the Customer Chat RTM websocket server, under load, next to a minimal
// Boost.Beast websocket echo server that the same client measures in the same run.
//
//   bench_chatd [--chatctl PATH] [--pg URI] [--server-threads T] [--client-threads C]
//               [--warmup W] [--duration S] [--latency-duration L] [--rounds R]
//               [--ping-connections N] [--ping-window K] [--fanout-customers M] [--fanout-window K]
//               [--latency-connections N] [--latency-rate X] [--idle-connections N]
//               [--per-customer N] [--phases ping,send_event,latency,idle] [--latency-log FILE]
//               [--echo-only] [--keep]
//
// Both servers run as child processes with T I/O threads each (default 1, chatd's default); the
// client is this process, asynchronous on Boost.Beast with C io_context threads (default one per
// core). chatd runs on a fresh SQLite database in a temporary folder whose customers and tokens
// are made in one transaction through the engine library, started as
// `chatctl --db DB --set chatd_threads=T --set chatd_connections_per_customer=N chatd
// --listen 127.0.0.1:0 --port-file F`.
//
//   ping       N connections (default 200, logged in) each keep K (8) `ping` requests in flight:
//              round trips/s. Reference: the same frames echoed. Target: chatd/echo >= 0.60.
//   send_event M customers (64), each logged in on two connections; one starts a chat and keeps
//              K (4) send_event requests in flight, both receive each incoming_event push:
//              responses/s (target >= 15,000), pushes/s, pushes lost, send-to-push delay.
//              Reference: the same frames echoed on as many connections. With --pg (default
//              CHATCTL_TEST_PG, a server where we may CREATE DATABASE) also on a fresh PostgreSQL
//              database.
//   latency    1,000 connections (two per customer, one chat per customer), each sending
//              send_event at fixed intervals (open loop), in all at half the rate the send_event
//              phase reached (or --latency-rate): p50 and p99 from the time a request was due to
//              its response (target p99 < 2 ms). Reference: the same schedule on the echo server.
//              Also: the requests over 2 ms, grouped into bursts (how often, how long), and with
//              --latency-log FILE every request's due time and latency, for a closer look.
//   idle       fresh servers; 10,000 connections logged in (N = 16 per customer, chatd's
//              default limit), VmRSS before and after: KiB per connection (target <= 10).
//              RLIMIT_NOFILE is raised to its hard limit first; fewer connections when it is lower.
//
// A round warms up for W s (default 1), then measures for S s (default 2; latency L = 5 s). The
// machines are shared and noisy: ping and send_event run R rounds (default 3), alternating
// between the servers, and each server keeps its best. chatd's health is watched throughout: its
// exit status, error responses by type, connections it dropped, pushes that never came, its
// /metrics counters and VmRSS after each phase, all in the notes under the table. Beside each
// server thread's CPU the notes give how long it was runnable but waited for a core, and the same
// for the load generator's threads: how contended the two shared cores were. Timings are
// printed, never asserted: the exit status is 0 unless the benchmark itself could not run.
#include <libpq-fe.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "chatd/echo_server.hpp"
#include "chatd/load.hpp"
#include "chatd/process.hpp"
#include "common.hpp"
#include "core/clock.hpp"
#include "core/settings.hpp"
#include "engine/engine.hpp"
#include "engine/people.hpp"
#include "store/store.hpp"

#ifndef CHATCTL_BENCH_CHATCTL
#define CHATCTL_BENCH_CHATCTL ""
#endif

namespace fs = std::filesystem;
using namespace chatctl;
using namespace chatctl::bench;

namespace {

// Targets of the chatd issue.
constexpr double kPingRatio = 0.60;
constexpr double kSendEventsPerSecond = 15'000;
constexpr double kP99Ms = 2.0;
constexpr double kIdleKiB = 10.0;

// Connections in their opening (connect, upgrade, login) at once: well under the listen backlog.
constexpr std::size_t kOpenConcurrency = 128;
constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kDrainTimeout = std::chrono::seconds(10);
constexpr auto kCloseTimeout = std::chrono::seconds(15);

volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int sig) {
  g_signal = sig;
}

void check_interrupt() {
  if (g_signal != 0) throw std::runtime_error("interrupted");
}

void pause_for(std::chrono::milliseconds d) {
  const auto end = Clock::now() + d;
  while (Clock::now() < end) {
    check_interrupt();
    std::this_thread::sleep_for(std::min<Clock::duration>(end - Clock::now(), std::chrono::milliseconds(20)));
  }
}

std::chrono::milliseconds seconds(double s) {
  return std::chrono::milliseconds(static_cast<long long>(s * 1000));
}

struct Options {
  std::string chatctl = CHATCTL_BENCH_CHATCTL;
  std::string pg;
  int server_threads = 1;
  unsigned client_threads = std::max(1U, std::thread::hardware_concurrency());
  double warmup = 1;
  double duration = 2;
  double latency_duration = 5;
  int rounds = 3;
  std::size_t ping_connections = 200;
  int ping_window = 8;
  std::size_t fanout_customers = 64;
  int fanout_window = 4;
  std::size_t latency_connections = 1000;
  std::size_t idle_connections = 10'000;
  std::size_t per_customer = 16;
  double latency_rate = 0;  // send_event/s for the latency phase; 0: half what the send_event phase reached
  std::vector<std::string> phases{"ping", "send_event", "latency", "idle"};
  std::string latency_log;  // where to write the latency phase's every request (due time, latency)
  bool echo_only = false;
  bool keep = false;

  bool runs(std::string_view phase) const { return std::find(phases.begin(), phases.end(), phase) != phases.end(); }
};

// ---- formatting ----------------------------------------------------------------------------------

using bench::fmt;
using bench::fmt_int;

std::string fmt_ms(double us) {
  return fmt(us / 1000.0, us < 10'000 ? 3 : 1);
}

std::string fmt_counts(const std::map<std::string, std::uint64_t>& counts) {
  std::string out;
  for (const auto& [k, v] : counts) out += (out.empty() ? "" : ", ") + k + " x" + fmt_int(static_cast<double>(v));
  return out;
}

struct Row {
  std::string measure, chatd, reference, ratio, target;
};

void print_table(const std::vector<Row>& rows) {
  const std::vector<std::string> head = {"measure", "chatd", "reference", "ratio", "target"};
  const auto cells = [](const Row& r) {
    return std::vector<std::string>{r.measure, r.chatd, r.reference, r.ratio, r.target};
  };
  std::vector<std::size_t> w(head.size());
  for (std::size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
  for (const auto& r : rows) {
    const auto c = cells(r);
    for (std::size_t i = 0; i < c.size(); ++i) w[i] = std::max(w[i], c[i].size());
  }
  const auto line = [&](const std::vector<std::string>& c) {
    std::string s = "|";
    for (std::size_t i = 0; i < c.size(); ++i) s += " " + c[i] + std::string(w[i] - c[i].size(), ' ') + " |";
    std::printf("%s\n", s.c_str());
  };
  line(head);
  std::string sep = "|";
  for (const auto n : w) sep += std::string(n + 2, '-') + "|";
  std::printf("%s\n", sep.c_str());
  for (const auto& r : rows) line(cells(r));
}

// A target cell: what is asked, and whether this run met it.
std::string target_cell(const std::string& what, std::optional<bool> met) {
  if (!met) return what;
  return what + (*met ? " (met)" : " (NOT met)");
}

double percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

Totals operator-(const Totals& a, const Totals& b) {
  Totals d;
  d.sent = a.sent - b.sent;
  d.ok = a.ok - b.ok;
  d.failed = a.failed - b.failed;
  d.pushes = a.pushes - b.pushes;
  d.other_pushes = a.other_pushes - b.other_pushes;
  d.unmatched = a.unmatched - b.unmatched;
  d.malformed = a.malformed - b.malformed;
  d.dropped = a.dropped - b.dropped;
  d.outstanding = a.outstanding - b.outstanding;
  d.live = a.live - b.live;
  return d;
}

// ---- databases -----------------------------------------------------------------------------------

// Customers bench-0 ... bench-(count-1) with one token each, in one transaction through the
// engine (`chatctl customer add` and `token issue` per customer would take minutes). Opening the
// database migrates it and makes the default channel, as chatd's first start would.
std::vector<std::string> create_customers(const std::string& database, std::size_t count) {
  const auto settings = core::Settings::defaults({{std::string(core::keys::kDatabase), database}});
  core::SystemClock clock;
  auto store = engine::open_database(settings, clock);
  engine::People people(*store, settings, clock, "bench");
  std::vector<std::string> tokens;
  tokens.reserve(count);
  store::WriteTransaction tx(*store);
  for (std::size_t i = 0; i < count; ++i) {
    engine::CustomerFields f;
    f.id = "bench-" + std::to_string(i);
    f.name = "Bench customer " + std::to_string(i);
    people.add_customer(f, false);
    tokens.push_back(people.issue_token(*f.id, 86'400, false).token);
  }
  tx.commit();
  return tokens;
}

// postgresql://u@h/admin?x=y -> postgresql://u@h/<name>?x=y
std::string with_dbname(const std::string& uri, const std::string& name) {
  const auto scheme = uri.find("://");
  if (scheme == std::string::npos) throw std::runtime_error("the PostgreSQL address is not a postgresql:// URI");
  const auto slash = uri.find('/', scheme + 3);
  const auto query = uri.find('?', scheme + 3);
  const std::string head = uri.substr(0, slash == std::string::npos ? query : std::min(slash, query));
  const std::string tail = query == std::string::npos ? "" : uri.substr(query);
  return head + "/" + name + tail;
}

void pg_exec(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to PostgreSQL: " + msg);
  }
  PQclear(PQexec(conn, "SET client_min_messages = warning"));
  PGresult* res = PQexec(conn, sql.c_str());
  const auto st = PQresultStatus(res);
  const std::string msg = PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(conn);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) throw std::runtime_error("postgresql: " + msg + "  in: " + sql);
}

// A database of our own on the server, dropped by the destructor unless kept.
class PgDatabase {
 public:
  PgDatabase(std::string admin, bool keep)
      : admin_(std::move(admin)), keep_(keep), name_("chatctl_bench_chatd_" + std::to_string(getpid())) {
    pg_exec(admin_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    pg_exec(admin_, "CREATE DATABASE " + name_);
  }
  ~PgDatabase() {
    if (keep_) {
      std::cerr << "bench: kept the PostgreSQL database " << name_ << "\n";
      return;
    }
    try {
      pg_exec(admin_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
      std::cerr << "bench: could not drop " << name_ << ": " << e.what() << "\n";
    }
  }
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;
  std::string uri() const { return with_dbname(admin_, name_); }

 private:
  std::string admin_;
  bool keep_;
  std::string name_;
};

// ---- the phases ----------------------------------------------------------------------------------

// What one round of load measured against one server.
struct Load {
  std::string failure;  // why it did not run; empty when it did
  std::size_t connections{0};
  double seconds{0};    // the measurement window
  double rate{0};       // successful responses per second in the window
  double push_rate{0};  // incoming_event pushes per second in the window
  Totals window;        // counts in the window
  Totals phase;         // counts from the first request until drained
  std::uint64_t pushes_expected{0};
  std::uint64_t pushes_lost{0};
  bool drained{true};  // every request was answered after the load stopped
  std::vector<std::uint32_t> latencies_us;
  std::vector<std::int64_t> sent_ns;  // when each of latencies_us was due (steady clock)
  std::vector<std::uint32_t> push_delays_us;
  std::map<std::string, std::uint64_t> errors;
  std::map<std::string, std::uint64_t> drops;
  std::map<std::string, std::uint64_t> other_pushes;  // by action
  double server_cores{0};                             // CPU the server used in the window, in cores
  double client_cores{0};
  std::map<std::string, double> thread_cores;   // the server's, by thread name
  // Share of the window each of the server's threads (by name) and the client's (all together)
  // spent runnable but waiting for a CPU: how much the cores were contended, not how busy.
  std::map<std::string, double> thread_waits;
  double client_wait{0};
  std::map<std::string, double> metrics_delta;  // chatd's /metrics counters over the round
  std::vector<double> round_rates;              // when this is the best of several rounds: each one's rate
  std::string incident;                         // why later rounds did not run (the server died)

  bool ok() const { return failure.empty(); }
};

// One server's side of a load phase: its connections, how to start the load on them, and what
// each round measured. Connections refer to `server`, so a Side stays where it was made.
struct Side {
  Child* process{nullptr};
  Server server;
  Fleet::Opened opened;
  std::vector<std::shared_ptr<Connection>> senders;
  std::function<void(std::uint64_t round)> start;
  std::uint64_t pushes_per_response{0};
  std::string failure;
  std::vector<Load> rounds;

  Side(Child* p, bool rtm) : process(p) {
    if (p != nullptr) server = Server{p->name(), p->port(), rtm, rtm ? "/v3.2/customer/rtm/ws?license_id=1" : "/"};
  }
  Side(const Side&) = delete;
  Side& operator=(const Side&) = delete;

  // The best round, with the errors, drops and lost pushes of every round added up.
  Load best() const {
    Load out;
    const auto best =
        std::max_element(rounds.begin(), rounds.end(), [](const Load& a, const Load& b) { return a.rate < b.rate; });
    if (best == rounds.end()) {
      out.failure = failure.empty() ? "did not run" : failure;
      return out;
    }
    out = *best;
    out.errors.clear();
    out.drops.clear();
    out.other_pushes.clear();
    out.pushes_expected = out.pushes_lost = 0;
    for (const auto& r : rounds) {
      out.round_rates.push_back(r.rate);
      for (const auto& [k, v] : r.errors) out.errors[k] += v;
      for (const auto& [k, v] : r.drops) out.drops[k] += v;
      for (const auto& [k, v] : r.other_pushes) out.other_pushes[k] += v;
      out.pushes_expected += r.pushes_expected;
      out.pushes_lost += r.pushes_lost;
      out.drained = out.drained && r.drained;
    }
    out.incident = failure;
    return out;
  }
};

struct Idle {
  std::string failure;
  std::size_t asked{0};
  std::size_t opened{0};
  double open_seconds{0};
  long rss_before_kib{0};
  long rss_after_kib{0};
  long rss_closed_kib{0};
  std::string first_error;
  double kib_per_connection() const {
    return opened == 0 ? 0 : static_cast<double>(rss_after_kib - rss_before_kib) / static_cast<double>(opened);
  }
};

// Where the customers of each phase start: every phase has customers of its own, so that no
// phase's connections count against another's per-customer limit, and the idle phase's customers
// have no chats (a login reads every chat of the customer).
struct Layout {
  std::size_t ping{0}, fanout{0}, latency{0}, idle{0}, total{0};
};

class Bench {
 public:
  Bench(Options opt, fs::path dir) : opt_(std::move(opt)), dir_(std::move(dir)) {
    fs::create_directories(dir_ / "config");
    const auto ceil_div = [](std::size_t a, std::size_t b) { return (a + b - 1) / b; };
    layout_.ping = 0;
    layout_.fanout = layout_.ping + ceil_div(opt_.ping_connections, opt_.per_customer);
    layout_.latency = layout_.fanout + opt_.fanout_customers;
    layout_.idle = layout_.latency + ceil_div(opt_.latency_connections, 2);
    layout_.total = layout_.idle + 1 + ceil_div(opt_.idle_connections, opt_.per_customer);
  }

  std::vector<Row> rows;
  std::vector<std::string> notes;

  void run();

 private:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::unique_ptr<Child> start_echo(const std::string& label);
  std::unique_ptr<Child> start_chatd(const std::string& label, const std::string& database);

  Load measure(Fleet& fleet, Side& side, double duration);
  void run_rounds(Fleet& fleet, const std::vector<Side*>& sides, int rounds, double duration);
  void open_ping(Fleet& fleet, Side& side, const std::vector<std::string>& tokens);
  void open_fanout(Fleet& fleet, Side& side, const std::vector<std::string>& tokens);
  void open_latency(Fleet& fleet, Side& side, const std::vector<std::string>& tokens, double rate);
  Idle idle(Fleet& fleet, Child& process, bool rtm, const std::vector<std::string>& tokens);

  void note_load(const std::string& what, const Load& l);
  void note_slow(const Load& l);
  void note_health(Child& chatd, const std::string& after);
  void stop_chatd(Child& chatd);

  Options opt_;
  fs::path dir_;
  Layout layout_;
  std::uint64_t rounds_started_{0};
  std::set<std::string> dead_noted_;  // chatds whose death is in the notes already
};

std::unique_ptr<Child> Bench::start_echo(const std::string& label) {
  const std::string port_file = path(label + ".port");
  return Child::start(
      label,
      {fs::read_symlink("/proc/self/exe").string(), "--echo-server", port_file, std::to_string(opt_.server_threads)},
      path(label + ".log"), port_file, "", kStartTimeout);
}

std::unique_ptr<Child> Bench::start_chatd(const std::string& label, const std::string& database) {
  const std::string port_file = path(label + ".port");
  std::vector<std::string> argv = {opt_.chatctl,
                                   "--db",
                                   database,
                                   "--set",
                                   "chatd_threads=" + std::to_string(opt_.server_threads),
                                   "--set",
                                   "chatd_connections_per_customer=" + std::to_string(opt_.per_customer),
                                   "chatd",
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--port-file",
                                   port_file};
  auto child = Child::start(label, argv, path(label + ".log"), port_file, path("config"), kStartTimeout);
  std::cerr << "bench: " << label << " listening on port " << child->port() << " (pid " << child->pid() << ")\n";
  return child;
}

// One round of load on a side's senders: warm-up, the measurement window, then stop sending and
// wait until every request is answered and, with pushes_per_response, every push has arrived (or
// kDrainTimeout passes).
Load Bench::measure(Fleet& fleet, Side& side, double duration) {
  Load l;
  Child& process = *side.process;
  const Server& server = side.server;
  l.connections = side.senders.size();
  auto& control = fleet.control();
  std::vector<std::uint32_t> discard;
  fleet.take_samples(discard, discard);
  fleet.take_errors();
  fleet.take_drops();
  fleet.take_other_pushes();
  const auto metrics0 = server.rtm ? fetch_metrics(server.port) : std::map<std::string, double>{};
  control.measure_from = INT64_MAX;
  control.measure_until = INT64_MAX;
  const Totals base = fleet.totals();
  const std::uint64_t round = ++rounds_started_;
  control.round = round;
  side.start(round);
  pause_for(seconds(opt_.warmup));

  const auto t0 = Clock::now();
  const Totals s0 = fleet.totals();
  const double cpu0 = process.cpu_seconds();
  const auto threads0 = process.thread_cpu_seconds();
  const auto waits0 = thread_wait_seconds(process.pid());
  const auto own_waits0 = thread_wait_seconds(getpid());
  const double own0 = own_cpu_seconds();
  control.measure_from = t0.time_since_epoch().count();
  pause_for(seconds(duration));
  const auto t1 = Clock::now();
  control.measure_until = t1.time_since_epoch().count();
  const Totals s1 = fleet.totals();
  const double cpu1 = process.cpu_seconds();
  const auto threads1 = process.thread_cpu_seconds();
  const auto waits1 = thread_wait_seconds(process.pid());
  const auto own_waits1 = thread_wait_seconds(getpid());
  const double own1 = own_cpu_seconds();
  control.round = 0;

  l.seconds = std::chrono::duration<double>(t1 - t0).count();
  l.window = s1 - s0;
  l.rate = static_cast<double>(l.window.ok) / l.seconds;
  l.push_rate = static_cast<double>(l.window.pushes) / l.seconds;
  l.server_cores = (cpu1 - cpu0) / l.seconds;
  l.client_cores = (own1 - own0) / l.seconds;
  // Seconds per thread name, before and after: how much of the window each took.
  const auto per_second = [&](const std::map<std::string, double>& before, const std::map<std::string, double>& after) {
    std::map<std::string, double> out;
    for (const auto& [name, total] : after) {
      const auto was = before.find(name);
      out[name] = (total - (was == before.end() ? 0 : was->second)) / l.seconds;
    }
    return out;
  };
  l.thread_cores = per_second(threads0, threads1);
  l.thread_waits = per_second(waits0, waits1);
  for (const auto& [name, share] : per_second(own_waits0, own_waits1)) l.client_wait += share;

  const auto deadline = Clock::now() + kDrainTimeout;
  while (fleet.totals().outstanding > 0 && Clock::now() < deadline) pause_for(std::chrono::milliseconds(10));
  l.drained = fleet.totals().outstanding <= 0;
  if (side.pushes_per_response > 0) {
    const auto expected = [&] { return (fleet.totals() - base).ok * side.pushes_per_response; };
    while ((fleet.totals() - base).pushes < expected() && Clock::now() < deadline) {
      pause_for(std::chrono::milliseconds(10));
    }
    l.pushes_expected = expected();
    const auto got = (fleet.totals() - base).pushes;
    l.pushes_lost = got < l.pushes_expected ? l.pushes_expected - got : 0;
  }
  l.phase = fleet.totals() - base;
  fleet.take_samples(l.latencies_us, l.push_delays_us, &l.sent_ns);
  l.errors = fleet.take_errors();
  l.drops = fleet.take_drops();
  l.other_pushes = fleet.take_other_pushes();
  if (server.rtm) {
    const auto metrics1 = fetch_metrics(server.port);
    for (const auto& [k, v] : metrics1) {
      const auto before = metrics0.find(k);
      l.metrics_delta[k] = v - (before == metrics0.end() ? 0 : before->second);
    }
  }
  return l;
}

// Rounds alternate between the sides, so that a burst of other processes' work (the machine is
// shared) spoils one round of one server rather than every round of it; each side keeps its best.
void Bench::run_rounds(Fleet& fleet, const std::vector<Side*>& sides, int rounds, double duration) {
  for (int r = 0; r < rounds; ++r) {
    for (Side* side : sides) {
      if (side == nullptr || side->senders.empty() || !side->failure.empty()) continue;
      if (!side->process->running()) {
        side->failure = side->server.name + " " + side->process->status();
        continue;
      }
      side->rounds.push_back(measure(fleet, *side, duration));
    }
  }
}

void Bench::open_ping(Fleet& fleet, Side& side, const std::vector<std::string>& tokens) {
  const bool rtm = side.server.rtm;
  std::cerr << "bench: ping on " << side.server.name << ": " << opt_.ping_connections << " connections x "
            << opt_.ping_window << "\n";
  side.opened = fleet.open(
      side.server, opt_.ping_connections,
      [&](std::size_t i) { return rtm ? tokens.at(layout_.ping + i / opt_.per_customer) : ""; }, kOpenConcurrency);
  for (const auto& c : side.opened.connections) {
    if (c) side.senders.push_back(c);
  }
  if (side.senders.empty()) {
    side.failure = "no connection opened: " + side.opened.first_error;
  } else if (side.senders.size() < opt_.ping_connections) {
    notes.push_back("  ! ping on " + side.server.name + ": only " + std::to_string(side.senders.size()) + " of " +
                    std::to_string(opt_.ping_connections) + " connections opened: " + side.opened.first_error);
  }
  const int window = opt_.ping_window;
  side.start = [&side, window](std::uint64_t round) {
    for (const auto& c : side.senders) c->start_window(Kind::ping, window, round);
  };
}

void Bench::open_fanout(Fleet& fleet, Side& side, const std::vector<std::string>& tokens) {
  const bool rtm = side.server.rtm;
  const std::size_t count = opt_.fanout_customers * 2;
  std::cerr << "bench: send_event on " << side.server.name << ": " << opt_.fanout_customers
            << " customers x 2 connections, window " << opt_.fanout_window << "\n";
  // Connections 2i and 2i+1 are customer i's; 2i starts the chat and sends.
  side.opened = fleet.open(
      side.server, count, [&](std::size_t i) { return rtm ? tokens.at(layout_.fanout + i / 2) : ""; },
      kOpenConcurrency);
  for (std::size_t i = 0; i < count; i += 2) {
    // A customer whose second connection failed would receive one push per event, not two.
    if (side.opened.connections[i] && side.opened.connections[i + 1])
      side.senders.push_back(side.opened.connections[i]);
  }
  std::string error;
  const std::size_t chats = side.senders.empty() ? 0 : fleet.start_chats(side.senders, error);
  if (side.opened.ready < count) {
    notes.push_back("  ! send_event on " + side.server.name + ": only " + std::to_string(side.opened.ready) + " of " +
                    std::to_string(count) + " connections opened: " + side.opened.first_error);
  }
  if (chats < side.senders.size()) {
    notes.push_back("  ! send_event on " + side.server.name + ": start_chat failed " +
                    std::to_string(side.senders.size() - chats) + " times: " + error);
  }
  std::erase_if(side.senders, [](const auto& c) { return c->chat_id().empty(); });
  if (side.senders.empty()) {
    side.failure =
        side.opened.ready == 0 ? "no connection opened: " + side.opened.first_error : "no chat started: " + error;
  }
  pause_for(std::chrono::milliseconds(300));  // the start_chat pushes come and go before counting
  side.pushes_per_response = rtm ? 2 : 0;
  const int window = opt_.fanout_window;
  side.start = [&side, window](std::uint64_t round) {
    for (const auto& c : side.senders) c->start_window(Kind::send_event, window, round);
  };
}

void Bench::open_latency(Fleet& fleet, Side& side, const std::vector<std::string>& tokens, double rate) {
  const bool rtm = side.server.rtm;
  const std::size_t count = opt_.latency_connections;
  std::cerr << "bench: latency on " << side.server.name << ": " << count << " connections, " << fmt_int(rate)
            << " send_event/s\n";
  side.opened = fleet.open(
      side.server, count, [&](std::size_t i) { return rtm ? tokens.at(layout_.latency + i / 2) : ""; },
      kOpenConcurrency);
  std::vector<std::shared_ptr<Connection>> firsts;
  for (std::size_t i = 0; i < count; i += 2) {
    if (side.opened.connections[i]) firsts.push_back(side.opened.connections[i]);
  }
  std::string error;
  fleet.start_chats(firsts, error);
  for (std::size_t i = 0; i < count; i += 2) {
    const auto& a = side.opened.connections[i];
    if (!a || a->chat_id().empty()) continue;
    side.senders.push_back(a);
    if (i + 1 < count && side.opened.connections[i + 1]) {
      side.opened.connections[i + 1]->set_chat(a->chat_id());
      side.senders.push_back(side.opened.connections[i + 1]);
    }
  }
  if (side.senders.size() < count) {
    notes.push_back("  ! latency on " + side.server.name + ": " + std::to_string(side.senders.size()) + " of " +
                    std::to_string(count) + " connections could send: " + side.opened.first_error + " " + error);
  }
  if (side.senders.empty()) side.failure = "no connection could send: " + side.opened.first_error + " " + error;
  pause_for(std::chrono::milliseconds(300));
  side.pushes_per_response = rtm ? 2 : 0;
  // Each connection sends every n/rate seconds, the connections evenly staggered.
  const auto n = static_cast<double>(side.senders.size());
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(n / rate));
  side.start = [&side, interval](std::uint64_t round) {
    const auto first = Clock::now() + std::chrono::milliseconds(20);
    const auto n_senders = static_cast<long>(side.senders.size());
    for (long i = 0; i < n_senders; ++i) {
      side.senders[static_cast<std::size_t>(i)]->start_paced(Kind::send_event, first + interval * i / n_senders,
                                                             interval, round);
    }
  };
}

Idle Bench::idle(Fleet& fleet, Child& process, bool rtm, const std::vector<std::string>& tokens) {
  const Server server{process.name(), process.port(), rtm, rtm ? "/v3.2/customer/rtm/ws?license_id=1" : "/"};
  Idle r;
  r.asked = opt_.idle_connections;
  // Descriptors: ours must hold every connection (the servers inherited the same limit).
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  const std::size_t spare = 200;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < r.asked + spare) {
    r.asked = lim.rlim_cur > spare * 2 ? lim.rlim_cur - spare : 0;
  }
  std::cerr << "bench: idle on " << server.name << ": " << r.asked << " connections\n";
  // A few connections first, so that what happens once (the first login, thread pools, lazily
  // made tables) is not counted per connection.
  const std::size_t warm = std::min<std::size_t>(opt_.per_customer, 16);
  auto warm_conns = fleet.open(
      server, warm, [&](std::size_t) { return rtm ? tokens.at(layout_.idle) : ""; }, kOpenConcurrency);
  pause_for(std::chrono::milliseconds(1000));
  r.rss_before_kib = process.vm_rss_kib();
  auto opened = fleet.open(
      server, r.asked, [&](std::size_t i) { return rtm ? tokens.at(layout_.idle + 1 + i / opt_.per_customer) : ""; },
      kOpenConcurrency);
  r.opened = opened.ready;
  r.open_seconds = opened.seconds;
  r.first_error = opened.first_error;
  pause_for(std::chrono::milliseconds(2000));
  r.rss_after_kib = process.vm_rss_kib();
  if (opened.ready == 0) r.failure = "no connection opened: " + opened.first_error;
  const auto live = static_cast<std::size_t>(std::max<std::int64_t>(fleet.totals().live, 0));
  if (live < opened.ready + warm_conns.ready) {
    notes.push_back("  ! idle on " + server.name + ": " +
                    fmt_int(static_cast<double>(opened.ready + warm_conns.ready - live)) +
                    " connections ended while idle: " + fmt_counts(fleet.take_drops()));
  }
  fleet.close(opened.connections, kCloseTimeout);
  fleet.close(warm_conns.connections, kCloseTimeout);
  pause_for(std::chrono::milliseconds(1000));
  r.rss_closed_kib = process.vm_rss_kib();
  return r;
}

// A round's requests as (due, latency in us), in the order they were due; empty when the round
// kept no due times.
std::vector<std::pair<std::int64_t, std::uint32_t>> by_due(const Load& l) {
  std::vector<std::pair<std::int64_t, std::uint32_t>> rows;
  if (l.sent_ns.size() != l.latencies_us.size()) return rows;
  for (std::size_t i = 0; i < l.sent_ns.size(); ++i) rows.emplace_back(l.sent_ns[i], l.latencies_us[i]);
  std::sort(rows.begin(), rows.end());
  return rows;
}

// --latency-log: each request of the latency phase, by when it was due, as tab-separated
// `server  due_ms  latency_us` (due_ms from the first request of the window).
void write_latency_log(const std::string& path, const std::vector<std::pair<std::string, const Load*>>& sides) {
  std::ofstream out(path);
  out << "server\tdue_ms\tlatency_us\n";
  for (const auto& [name, l] : sides) {
    if (l == nullptr) continue;
    const auto rows = by_due(*l);
    if (rows.empty()) continue;
    const std::int64_t t0 = rows.front().first;
    for (const auto& [due, us] : rows) out << name << '\t' << fmt(static_cast<double>(due - t0) / 1e6, 3) << '\t' << us << '\n';
  }
  if (!out) std::cerr << "bench: could not write " << path << "\n";
}

// The open-loop latency phase's slow requests (over the p99 target), grouped into bursts: slow
// requests due within kBurstGap of each other. How many bursts, and how long they last, point at
// their cause (a periodic task, a few stalls, or a queue that never drains); --latency-log has
// their times.
void Bench::note_slow(const Load& l) {
  const auto all = by_due(l);
  if (all.empty()) return;
  constexpr std::int64_t kBurstGap = 5'000'000;  // ns
  const auto threshold_us = static_cast<std::uint32_t>(kP99Ms * 1000);
  std::vector<std::pair<std::int64_t, std::uint32_t>> slow;  // due, latency
  std::copy_if(all.begin(), all.end(), std::back_inserter(slow), [&](const auto& r) { return r.second > threshold_us; });
  const auto total = static_cast<double>(all.size());
  std::string s = "  over " + fmt(kP99Ms, 0) + " ms: " + fmt_int(static_cast<double>(slow.size())) + " of " +
                  fmt_int(total) + " requests (" + fmt(100.0 * static_cast<double>(slow.size()) / total, 2) + "%)";
  if (!slow.empty()) {
    std::vector<std::int64_t> starts;
    std::vector<double> lengths_ms;
    std::uint32_t worst = 0;
    std::int64_t last = 0;
    for (const auto& [due, us] : slow) {
      worst = std::max(worst, us);
      if (starts.empty() || due - last > kBurstGap) {
        starts.push_back(due);
        lengths_ms.push_back(0);
      }
      lengths_ms.back() = static_cast<double>(due - starts.back()) / 1e6;
      last = due;
    }
    const auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    s += ", in " + fmt_int(static_cast<double>(starts.size())) + " bursts (" +
         fmt(static_cast<double>(starts.size()) / l.seconds, 1) + " a second), " + fmt(median(lengths_ms), 1) +
         " ms long (median); the slowest " + fmt_ms(worst) + " ms";
  }
  notes.push_back(s);
}

void Bench::note_load(const std::string& what, const Load& l) {
  if (!l.ok()) {
    notes.push_back(what + ": did not run: " + l.failure);
    return;
  }
  std::string s = what + ": " + fmt_int(l.rate) + "/s";
  if (l.round_rates.size() > 1) {
    s += " (best of";
    for (std::size_t i = 0; i < l.round_rates.size(); ++i) s += (i == 0 ? " " : ", ") + fmt_int(l.round_rates[i]);
    s += ")";
  }
  s += ", " + fmt_int(static_cast<double>(l.window.ok)) + " responses in " + fmt(l.seconds, 2) + " s over " +
       fmt_int(static_cast<double>(l.connections)) + " connections";
  if (l.window.failed > 0) s += ", " + fmt_int(static_cast<double>(l.window.failed)) + " errors";
  s += "; server " + fmt(l.server_cores, 2) + " cores";
  if (l.rate > 0) s += " (" + fmt(l.server_cores * 1e6 / l.rate, 1) + " us CPU per response)";
  s += ", client " + fmt(l.client_cores, 2) + " cores";
  s += ": together " + fmt(l.server_cores + l.client_cores, 2) + " of " +
       std::to_string(std::thread::hardware_concurrency()) + " cores";
  notes.push_back(s);
  if (l.thread_cores.size() > 1 && l.rate > 0) {
    // Which thread is the bottleneck: the one near a whole core.
    std::string t = "  server threads:";
    for (const auto& [name, cores] : l.thread_cores) {
      if (cores >= 0.01) t += " " + name + " " + fmt(cores, 2) + " cores (" + fmt(cores * 1e6 / l.rate, 1) + " us),";
    }
    t.back() = ' ';
    notes.push_back(t + "per response");
  }
  if (!l.thread_waits.empty()) {
    std::string w = "  runnable but waiting for a CPU, share of the window:";
    for (const auto& [name, share] : l.thread_waits) {
      if (share >= 0.01) w += " " + name + " " + fmt(share * 100, 0) + "%,";
    }
    notes.push_back(w + " the client's threads together " + fmt(l.client_wait * 100, 0) + "%");
  }
  if (!l.incident.empty()) notes.push_back("  ! rounds stopped: " + l.incident);
  if (!l.errors.empty()) notes.push_back("  ! error responses: " + fmt_counts(l.errors));
  if (!l.drops.empty()) notes.push_back("  ! connections dropped: " + fmt_counts(l.drops));
  if (!l.drained) {
    notes.push_back("  ! requests still unanswered " + fmt(static_cast<double>(kDrainTimeout.count()), 0) +
                    " s after the load stopped");
  }
  if (l.phase.unmatched > 0 || l.phase.malformed > 0) {
    notes.push_back("  ! " + fmt_int(static_cast<double>(l.phase.unmatched)) + " responses to no request, " +
                    fmt_int(static_cast<double>(l.phase.malformed)) + " malformed frames");
  }
  if (l.pushes_expected > 0) {
    std::vector<std::uint32_t> d = l.push_delays_us;
    const double p50 = percentile(d, 0.50);
    const double p99 = percentile(d, 0.99);
    notes.push_back("  incoming_event pushes: " + fmt_int(static_cast<double>(l.pushes_expected - l.pushes_lost)) +
                    " of " + fmt_int(static_cast<double>(l.pushes_expected)) + " received (" +
                    fmt_int(static_cast<double>(l.pushes_lost)) + " lost); send-to-push delay p50 " + fmt_ms(p50) +
                    " ms, p99 " + fmt_ms(p99) + " ms");
  }
  if (!l.other_pushes.empty()) notes.push_back("  other pushes: " + fmt_counts(l.other_pushes));
  if (!l.metrics_delta.empty()) {
    const auto m = [&](const char* k) {
      const auto it = l.metrics_delta.find(k);
      return it == l.metrics_delta.end() ? 0.0 : it->second;
    };
    std::string s2 = "  chatd /metrics over the round: requests " + fmt_int(m("chatd_rtm_requests_total")) + " in " +
                     fmt_int(m("chatd_rtm_transactions_total")) + " transactions";
    if (m("chatd_rtm_transactions_total") > 0) {
      s2 += " (" + fmt(m("chatd_rtm_requests_total") / m("chatd_rtm_transactions_total"), 1) + " per transaction)";
    }
    s2 += ", pushes " + fmt_int(m("chatd_rtm_pushes_total"));
    if (m("chatd_rtm_commit_wait_seconds_total") > 0)
      s2 += ", commits waited " + fmt(m("chatd_rtm_commit_wait_seconds_total"), 2) + " s for the log to be read";
    for (const char* k :
         {"chatd_rtm_request_errors_total", "chatd_rtm_request_timeouts_total", "chatd_rtm_disconnects_total",
          "chatd_ws_slow_clients_dropped_total", "chatd_ws_oversized_messages_total", "chatd_sqlite_wal_holds_total"}) {
      if (m(k) != 0) s2 += ", " + std::string(k) + " " + fmt_int(m(k));
    }
    notes.push_back(s2);
    // chatd's own share of the latency: from receiving a request to queueing its answer, as its
    // histogram has it (each quantile as the bucket's upper bound that holds it).
    const std::string bucket = "chatd_rtm_request_duration_seconds_bucket{le=\"";
    std::vector<std::pair<double, double>> cumulative;  // upper bound (s), count
    for (const auto& [key, count] : l.metrics_delta) {
      if (key.starts_with(bucket) && key.ends_with("\"}")) {
        const std::string le = key.substr(bucket.size(), key.size() - bucket.size() - 2);
        cumulative.emplace_back(le == "+Inf" ? HUGE_VAL : std::atof(le.c_str()), count);
      }
    }
    std::sort(cumulative.begin(), cumulative.end());
    if (!cumulative.empty() && cumulative.back().second > 0) {
      auto quantile = [&](double q) {
        for (const auto& [le, count] : cumulative) {
          if (count >= q * cumulative.back().second) return std::isinf(le) ? std::string("beyond 30 s") : fmt(le * 1e3, 1) + " ms";
        }
        return std::string("?");
      };
      notes.push_back("  chatd's own time from request to answer (its histogram): p50 <= " + quantile(0.5) +
                      ", p99 <= " + quantile(0.99));
    }
  }
}

void Bench::note_health(Child& chatd, const std::string& after) {
  if (!chatd.running()) {
    if (dead_noted_.insert(chatd.name()).second) {
      const std::string tail = chatd.log_tail(10);
      notes.push_back("  ! " + chatd.name() + " " + chatd.status() + " (found after " + after + ")" +
                      (tail.empty() ? std::string(", nothing in its log") : "; its log ends:\n" + tail));
    }
    return;
  }
  notes.push_back("  " + chatd.name() + " after " + after + ": VmRSS " +
                  fmt(static_cast<double>(chatd.vm_rss_kib()) / 1024, 1) + " MiB, CPU " + fmt(chatd.cpu_seconds(), 1) +
                  " s so far");
}

// Stops chatd as an operator would (SIGTERM: a graceful shutdown) and notes how it ended and
// what it logged, which at the default log level is only warnings and errors.
void Bench::stop_chatd(Child& chatd) {
  if (!chatd.running()) note_health(chatd, "the last phase");  // noted once
  const std::string how = chatd.stop(std::chrono::seconds(15));
  if (how != "exit 0" && !dead_noted_.contains(chatd.name())) {
    notes.push_back("  ! " + chatd.name() + " stopped with " + how);
  }
  if (const std::size_t lines = chatd.log_lines(); lines > 0) {
    notes.push_back("  ! " + chatd.name() + " logged " + fmt_int(static_cast<double>(lines)) + " lines; the last:\n" +
                    chatd.log_tail(5));
  }
}

void Bench::run() {
  const bool with_chatd = !opt_.echo_only;
  const std::string db = path("chatd.db");
  std::vector<std::string> tokens;
  if (with_chatd) {
    const auto t0 = Clock::now();
    tokens = create_customers(db, layout_.total);
    std::cerr << "bench: " << tokens.size() << " customers and tokens in "
              << fmt(std::chrono::duration<double>(Clock::now() - t0).count(), 2) << " s\n";
  }
  Fleet fleet(opt_.client_threads);
  notes.push_back("client: " + std::to_string(fleet.threads()) +
                  " io_context threads; servers: " + std::to_string(opt_.server_threads) + " I/O threads each; " +
                  std::to_string(std::thread::hardware_concurrency()) + " cores; each round " + fmt(opt_.warmup, 1) +
                  " s warm-up, then " + fmt(opt_.duration, 1) + " s measured (latency: " +
                  fmt(opt_.latency_duration, 1) + " s), best of " + std::to_string(opt_.rounds) + " rounds");

  // ---- ping, send_event, latency: one echo server and one chatd (SQLite) ----
  Load echo_ping, chatd_ping, echo_fan, chatd_fan, echo_lat, chatd_lat;
  double latency_rate = opt_.latency_rate;
  if (opt_.runs("ping") || opt_.runs("send_event") || opt_.runs("latency")) {
    auto echo = start_echo("echo");
    std::unique_ptr<Child> chatd = with_chatd ? start_chatd("chatd-sqlite", db) : nullptr;
    if (chatd) note_health(*chatd, "start");
    // Opens both sides, runs the rounds, closes both.
    const auto phase = [&](const std::string& name, int rounds, double duration,
                           const std::function<void(Side&)>& open) -> std::pair<Load, Load> {
      Side e(echo.get(), false);
      Side c(chatd.get(), true);
      open(e);
      if (chatd && chatd->running()) {
        open(c);
      } else if (chatd) {
        c.failure = chatd->name() + " " + chatd->status();
      }
      run_rounds(fleet, {&e, chatd ? &c : nullptr}, rounds, duration);
      fleet.close(e.opened.connections, kCloseTimeout);
      fleet.close(c.opened.connections, kCloseTimeout);
      if (chatd) note_health(*chatd, name);
      return {e.best(), c.best()};
    };
    if (opt_.runs("ping")) {
      std::tie(echo_ping, chatd_ping) =
          phase("ping", opt_.rounds, opt_.duration, [&](Side& s) { open_ping(fleet, s, tokens); });
    }
    if (opt_.runs("send_event")) {
      std::tie(echo_fan, chatd_fan) =
          phase("send_event", opt_.rounds, opt_.duration, [&](Side& s) { open_fanout(fleet, s, tokens); });
    }
    if (opt_.runs("latency")) {
      // Half the send_event rate chatd reached (the echo server's when chatd is left out).
      if (latency_rate <= 0) latency_rate = (with_chatd ? chatd_fan.rate : echo_fan.rate) / 2;
      if (latency_rate > 0) {
        std::tie(echo_lat, chatd_lat) =
            phase("latency", 1, opt_.latency_duration, [&](Side& s) { open_latency(fleet, s, tokens, latency_rate); });
      } else {
        echo_lat.failure = chatd_lat.failure = "no rate to send at (run send_event too, or give --latency-rate)";
      }
    }
    if (chatd) stop_chatd(*chatd);
    echo->stop(std::chrono::seconds(5));
  }

  const auto rate_cell = [](const Load& l) { return l.ok() ? fmt_int(l.rate) : std::string("failed"); };
  const auto ratio_row = [&](const std::string& measure, const Load& c, const Load& e, const std::string& target,
                             std::optional<bool> met) {
    Row r{measure, with_chatd ? rate_cell(c) : "-", rate_cell(e), "", target_cell(target, met)};
    if (with_chatd && c.ok() && e.ok() && e.rate > 0) r.ratio = fmt(c.rate / e.rate, 2);
    return r;
  };
  // CPU time per response: unlike the rates, hardly moved by what else runs on the machine.
  const auto cpu_row = [&](const std::string& measure, const Load& c, const Load& e) {
    const auto per = [](const Load& l) { return l.server_cores * 1e6 / l.rate; };
    const bool have_c = with_chatd && c.ok() && c.rate > 0;
    const bool have_e = e.ok() && e.rate > 0;
    Row r{measure, have_c ? fmt(per(c), 1) : "-", have_e ? fmt(per(e), 1) : "-", "", ""};
    if (have_c && have_e && per(e) > 0) r.ratio = fmt(per(c) / per(e), 1);
    return r;
  };
  if (opt_.runs("ping")) {
    std::optional<bool> met;
    if (with_chatd && chatd_ping.ok() && echo_ping.ok() && echo_ping.rate > 0) {
      met = chatd_ping.rate / echo_ping.rate >= kPingRatio;
    }
    rows.push_back(ratio_row("ping round trips/s (" + std::to_string(opt_.ping_connections) + " conns x " +
                                 std::to_string(opt_.ping_window) + ")",
                             chatd_ping, echo_ping, "ratio >= " + fmt(kPingRatio, 2), met));
    rows.push_back(cpu_row("server CPU per ping, us", chatd_ping, echo_ping));
    note_load("ping, echo server", echo_ping);
    if (with_chatd) note_load("ping, chatd (sqlite)", chatd_ping);
  }
  if (opt_.runs("send_event")) {
    std::optional<bool> met;
    if (with_chatd && chatd_fan.ok()) met = chatd_fan.rate >= kSendEventsPerSecond;
    rows.push_back(ratio_row("send_event/s, fan-out to 2, sqlite (" + std::to_string(opt_.fanout_customers) +
                                 " senders x " + std::to_string(opt_.fanout_window) + ")",
                             chatd_fan, echo_fan, ">= " + fmt_int(kSendEventsPerSecond), met));
    rows.push_back(cpu_row("server CPU per send_event, us, sqlite", chatd_fan, echo_fan));
    if (with_chatd && chatd_fan.ok()) {
      rows.push_back({"incoming_event pushes/s, sqlite", fmt_int(chatd_fan.push_rate), "", "", "2 x send_event/s"});
      rows.push_back({"incoming_event pushes lost, sqlite", fmt_int(static_cast<double>(chatd_fan.pushes_lost)), "", "",
                      target_cell("0", chatd_fan.pushes_lost == 0)});
    }
    note_load("send_event, echo server (the same frames echoed)", echo_fan);
    if (with_chatd) note_load("send_event, chatd (sqlite)", chatd_fan);
  }
  if (opt_.runs("latency")) {
    const std::string label = "send_event latency at " + fmt_int(static_cast<double>(opt_.latency_connections)) +
                              " conns, " + fmt_int(latency_rate) + "/s, ms";
    std::vector<std::uint32_t> c = chatd_lat.latencies_us;
    std::vector<std::uint32_t> e = echo_lat.latencies_us;
    const bool have_c = with_chatd && chatd_lat.ok() && !c.empty();
    const bool have_e = echo_lat.ok() && !e.empty();
    const double c50 = percentile(c, 0.5);
    const double c99 = percentile(c, 0.99);
    const double e50 = percentile(e, 0.5);
    const double e99 = percentile(e, 0.99);
    rows.push_back({label + ": p50", have_c ? fmt_ms(c50) : "-", have_e ? fmt_ms(e50) : "-",
                    have_c && have_e && e50 > 0 ? fmt(c50 / e50, 1) : "", ""});
    rows.push_back(
        {label + ": p99", have_c ? fmt_ms(c99) : "-", have_e ? fmt_ms(e99) : "-",
         have_c && have_e && e99 > 0 ? fmt(c99 / e99, 1) : "",
         target_cell("< " + fmt(kP99Ms, 0) + " ms", have_c ? std::optional<bool>(c99 < kP99Ms * 1000) : std::nullopt)});
    note_load("latency, echo server", echo_lat);
    note_slow(echo_lat);
    if (with_chatd) {
      note_load("latency, chatd (sqlite)", chatd_lat);
      note_slow(chatd_lat);
    }
    if (!opt_.latency_log.empty()) {
      write_latency_log(opt_.latency_log, {{"echo", &echo_lat}, {"chatd", with_chatd ? &chatd_lat : nullptr}});
    }
  }

  // ---- idle connections: fresh servers, so that no earlier phase's freed memory is reused ----
  if (opt_.runs("idle")) {
    Idle echo_idle, chatd_idle;
    {
      auto echo = start_echo("echo-idle");
      echo_idle = idle(fleet, *echo, false, tokens);
      echo->stop(std::chrono::seconds(5));
    }
    if (with_chatd) {
      auto chatd = start_chatd("chatd-idle", db);
      chatd_idle = idle(fleet, *chatd, true, tokens);
      note_health(*chatd, "idle");
      stop_chatd(*chatd);
    }
    const auto cell = [](const Idle& i) {
      return i.opened == 0 ? std::string("failed") : fmt(i.kib_per_connection(), 2);
    };
    const std::size_t n = with_chatd ? chatd_idle.opened : echo_idle.opened;
    Row r{"idle memory KiB/connection (" + fmt_int(static_cast<double>(n)) + " logged in)",
          with_chatd ? cell(chatd_idle) : "-", cell(echo_idle), "",
          target_cell("<= " + fmt(kIdleKiB, 0) + " KiB",
                      with_chatd && chatd_idle.opened > 0
                          ? std::optional<bool>(chatd_idle.kib_per_connection() <= kIdleKiB)
                          : std::nullopt)};
    if (with_chatd && chatd_idle.opened > 0 && echo_idle.opened > 0 && echo_idle.kib_per_connection() > 0) {
      r.ratio = fmt(chatd_idle.kib_per_connection() / echo_idle.kib_per_connection(), 2);
    }
    rows.push_back(r);
    const auto note_idle = [&](const std::string& who, const Idle& i) {
      if (i.opened < opt_.idle_connections) {
        notes.push_back("  ! " + who + ": " + fmt_int(static_cast<double>(i.opened)) + " of " +
                        fmt_int(static_cast<double>(opt_.idle_connections)) + " connections opened" +
                        (i.first_error.empty() ? std::string(" (descriptor limit)") : ": " + i.first_error));
      }
      notes.push_back(who + ": " + fmt_int(static_cast<double>(i.opened)) + " connections opened in " +
                      fmt(i.open_seconds, 1) + " s; VmRSS " + fmt(static_cast<double>(i.rss_before_kib) / 1024, 1) +
                      " MiB before, " + fmt(static_cast<double>(i.rss_after_kib) / 1024, 1) + " MiB with them, " +
                      fmt(static_cast<double>(i.rss_closed_kib) / 1024, 1) + " MiB after closing them");
    };
    note_idle("idle, echo server", echo_idle);
    if (with_chatd) note_idle("idle, chatd (sqlite)", chatd_idle);
  }

  // ---- send_event on PostgreSQL ----
  if (with_chatd && opt_.runs("send_event") && !opt_.pg.empty()) {
    Load pg_fan;
    try {
      PgDatabase pg(opt_.pg, opt_.keep);
      const auto pg_tokens = create_customers(pg.uri(), layout_.latency);
      auto chatd = start_chatd("chatd-postgresql", pg.uri());
      {
        Side c(chatd.get(), true);
        open_fanout(fleet, c, pg_tokens);
        run_rounds(fleet, {&c}, opt_.rounds, opt_.duration);
        fleet.close(c.opened.connections, kCloseTimeout);
        pg_fan = c.best();
      }
      note_health(*chatd, "send_event");
      stop_chatd(*chatd);
    } catch (const std::exception& e) {
      pg_fan.failure = e.what();
    }
    std::optional<bool> met;
    if (pg_fan.ok()) met = pg_fan.rate >= kSendEventsPerSecond;
    rows.push_back(ratio_row("send_event/s, fan-out to 2, postgresql", pg_fan, echo_fan,
                             ">= " + fmt_int(kSendEventsPerSecond), met));
    rows.push_back(cpu_row("server CPU per send_event, us, postgresql (chatd's only)", pg_fan, echo_fan));
    if (pg_fan.ok()) {
      rows.push_back({"incoming_event pushes lost, postgresql", fmt_int(static_cast<double>(pg_fan.pushes_lost)), "",
                      "", target_cell("0", pg_fan.pushes_lost == 0)});
    }
    note_load("send_event, chatd (postgresql)", pg_fan);
  } else if (with_chatd && opt_.runs("send_event")) {
    notes.push_back("postgresql: skipped (no --pg and CHATCTL_TEST_PG is not set)");
  }
}

void usage(std::ostream& out) {
  out << "usage: bench_chatd [--chatctl PATH] [--pg URI] [--server-threads T] [--client-threads C]\n"
         "                   [--warmup S] [--duration S] [--latency-duration S] [--rounds R]\n"
         "                   [--ping-connections N] [--ping-window K]\n"
         "                   [--fanout-customers M] [--fanout-window K] [--latency-connections N]\n"
         "                   [--idle-connections N] [--per-customer N] [--latency-rate R]\n"
         "                   [--phases ping,send_event,latency,idle] [--latency-log FILE]\n"
         "                   [--echo-only] [--keep]\n"
         "  Measures chatd (ping round trips, send_event with fan-out, latency under open-loop load,\n"
         "  memory per idle connection) next to a minimal Boost.Beast echo server. --pg (default:\n"
         "  CHATCTL_TEST_PG) names a PostgreSQL server where we may CREATE DATABASE.\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--echo-server") {
    if (argc != 4) return 64;
    try {
      return run_echo_server(argv[2], std::atoi(argv[3]));
    } catch (const std::exception& e) {
      std::cerr << "echo server: " << e.what() << "\n";
      return 1;
    }
  }

  Options opt;
  if (const char* pg = std::getenv("CHATCTL_TEST_PG"); pg != nullptr) opt.pg = pg;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "bench: " << a << " needs a value\n";
        std::exit(64);
      }
      return argv[++i];
    };
    const auto count = [&]() -> std::size_t {
      const long long v = std::atoll(value().c_str());
      if (v < 1) {
        std::cerr << "bench: " << a << " must be at least 1\n";
        std::exit(64);
      }
      return static_cast<std::size_t>(v);
    };
    if (a == "--chatctl") {
      opt.chatctl = value();
    } else if (a == "--pg") {
      opt.pg = value();
    } else if (a == "--server-threads") {
      opt.server_threads = static_cast<int>(count());
    } else if (a == "--client-threads") {
      opt.client_threads = static_cast<unsigned>(count());
    } else if (a == "--warmup") {
      opt.warmup = std::atof(value().c_str());
    } else if (a == "--duration") {
      opt.duration = std::atof(value().c_str());
    } else if (a == "--latency-duration") {
      opt.latency_duration = std::atof(value().c_str());
    } else if (a == "--rounds") {
      opt.rounds = static_cast<int>(count());
    } else if (a == "--ping-connections") {
      opt.ping_connections = count();
    } else if (a == "--ping-window") {
      opt.ping_window = static_cast<int>(count());
    } else if (a == "--fanout-customers") {
      opt.fanout_customers = count();
    } else if (a == "--fanout-window") {
      opt.fanout_window = static_cast<int>(count());
    } else if (a == "--latency-connections") {
      opt.latency_connections = count();
    } else if (a == "--idle-connections") {
      opt.idle_connections = count();
    } else if (a == "--per-customer") {
      opt.per_customer = count();
    } else if (a == "--latency-rate") {
      opt.latency_rate = std::atof(value().c_str());
    } else if (a == "--phases") {
      opt.phases.clear();
      std::string list = value();
      for (std::size_t at = 0; at <= list.size();) {
        const auto comma = std::min(list.find(',', at), list.size());
        const std::string phase = list.substr(at, comma - at);
        if (phase != "ping" && phase != "send_event" && phase != "latency" && phase != "idle") {
          std::cerr << "bench: --phases: unknown phase '" << phase << "'\n";
          return 64;
        }
        opt.phases.push_back(phase);
        at = comma + 1;
      }
    } else if (a == "--latency-log") {
      opt.latency_log = value();
    } else if (a == "--echo-only") {
      opt.echo_only = true;
    } else if (a == "--keep") {
      opt.keep = true;
    } else if (a == "-h" || a == "--help") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "bench: unknown argument " << a << "\n";
      usage(std::cerr);
      return 64;
    }
  }
  if (opt.warmup < 0 || opt.duration <= 0 || opt.latency_duration <= 0) {
    std::cerr << "bench: --warmup must be >= 0, --duration and --latency-duration > 0\n";
    return 64;
  }
  if (!opt.echo_only) {
    if (opt.chatctl.empty() || access(opt.chatctl.c_str(), X_OK) != 0) {
      std::cerr << "bench: no chatctl binary at '" << opt.chatctl
                << "': build the chatctl target or give --chatctl PATH (or --echo-only)\n";
      return 69;
    }
    opt.chatctl = fs::absolute(opt.chatctl).string();
  }

  // Every connection is a descriptor on both ends; the servers inherit the raised limit.
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(spdlog::level::warn);  // the library's migration messages are not the bench's

  std::string dir = (fs::temp_directory_path() / "chatctl-bench-chatd-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) {
    std::cerr << "bench: mkdtemp: " << std::strerror(errno) << "\n";
    return 1;
  }
  int status = 0;
  Bench bench(opt, dir);
  try {
    bench.run();
  } catch (const std::exception& e) {
    std::cerr << "bench: " << e.what() << "\n";
    status = g_signal != 0 ? 128 + g_signal : 1;
  }
  if (!bench.rows.empty()) {
    print_table(bench.rows);
    for (const auto& n : bench.notes) std::printf("%s\n", n.c_str());
  }
  if (opt.keep) {
    std::cerr << "bench: kept " << dir << "\n";
  } else {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return status;
}
