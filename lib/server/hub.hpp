#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "rtm/service.hpp"

namespace chatctl::server {

// The two kinds of connection the listener makes; sessions are templates over them.
using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// The HTTP requests /metrics counts, by what they asked for.
enum class HttpRoute { livez, readyz, metrics, websocket, other };
inline constexpr std::size_t kHttpRoutes = 5;

// The server's own counters, exported beside the service's in /metrics. Each is updated and
// read on its own (relaxed atomics): the exposition is not a consistent snapshot.
struct Counters {
  std::atomic<std::uint64_t> connections_open{0};  // TCP connections, HTTP or websocket
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> ws_open{0};  // websocket connections past the upgrade
  std::atomic<std::uint64_t> ws_total{0};
  std::atomic<std::uint64_t> ws_refused{0};  // upgrades answered with customer_disconnected
  std::atomic<std::uint64_t> frames_in{0};   // websocket messages read (text and binary)
  std::atomic<std::uint64_t> frames_out{0};  // websocket messages written
  std::atomic<std::uint64_t> bytes_in{0};    // their payload bytes
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> slow_clients_dropped{0};  // queue over Limits::max_queued_bytes
  std::atomic<std::uint64_t> oversized_messages{0};    // over Limits::max_frame_bytes (closed with 1009)
  std::array<std::atomic<std::uint64_t>, kHttpRoutes> http_requests{};

  void count(HttpRoute route) { http_requests.at(static_cast<std::size_t>(route)).fetch_add(1, kRelaxed); }
  static constexpr std::memory_order kRelaxed = std::memory_order_relaxed;
};

// Counts one TCP connection open for as long as it lives; moved from the HTTP session to the
// websocket session on upgrade.
class ConnectionToken {
 public:
  explicit ConnectionToken(Counters& counters) : counters_(&counters) {
    counters.connections_open.fetch_add(1, Counters::kRelaxed);
    counters.connections_total.fetch_add(1, Counters::kRelaxed);
  }
  ConnectionToken(ConnectionToken&& other) noexcept : counters_(std::exchange(other.counters_, nullptr)) {}
  ConnectionToken& operator=(ConnectionToken&&) = delete;
  ConnectionToken(const ConnectionToken&) = delete;
  ConnectionToken& operator=(const ConnectionToken&) = delete;
  ~ConnectionToken() {
    if (counters_ != nullptr) counters_->connections_open.fetch_sub(1, Counters::kRelaxed);
  }

 private:
  Counters* counters_;
};

// Lets threads that are not the server's (the service's) reach sessions only while the
// io_context is alive. Thread-safe. Shared by every Sink the service holds, so it outlives the
// server.
class Gate {
 public:
  // Runs `f` and returns true while open; once closed, returns false without running it. `f` must
  // not block: close() waits for every `f` under way.
  template <class F>
  bool pass(F&& f) const {
    std::shared_lock lock(mutex_);
    if (!open_) return false;
    f();
    return true;
  }
  void close() {
    std::unique_lock lock(mutex_);
    open_ = false;
  }

 private:
  mutable std::shared_mutex mutex_;
  bool open_{true};  // guarded by mutex_
};

// A live connection the hub can ask to stop at shutdown.
class Stoppable {
 public:
  virtual ~Stoppable() = default;
  // Thread-safe, non-blocking: posts onto the connection's strand.
  virtual void stop() = 0;
};

// What every connection of one server shares: the service, its limits, the TLS context, the
// counters, and the registry of live connections that graceful shutdown waits for. Sessions hold
// it by shared_ptr, so it lives as long as the last of them. Thread-safe.
class Hub {
 public:
  // `tls` is null for plain ws:// and http://. `blocking` runs service calls that may wait on the
  // database (ready, metrics) off the I/O threads.
  Hub(rtm::Service& service, std::unique_ptr<boost::asio::ssl::context> tls, boost::asio::any_io_executor blocking);
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  rtm::Service& service() const { return service_; }
  const rtm::Limits& limits() const { return limits_; }
  boost::asio::ssl::context* tls() const { return tls_.get(); }
  const boost::asio::any_io_executor& blocking() const { return blocking_; }
  Counters& counters() { return counters_; }
  const std::shared_ptr<Gate>& gate() const { return gate_; }

  // Registers a live connection under `key` (its address). Returns false, registering nothing,
  // once shutdown has begun: the caller then closes at once.
  bool add(const Stoppable* key, std::weak_ptr<Stoppable> session);
  // Unregisters `key` (no-op when absent); from the session's destructor.
  void remove(const Stoppable* key);
  std::size_t live() const;

  // True once begin_shutdown() was called.
  bool stopping() const { return stopping_.load(); }
  // Refuses new registrations and calls stop() on every registered connection.
  void begin_shutdown();
  // Blocks until no connection is registered or `deadline` passes; true when none is left.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);

  // The server's counters in Prometheus text exposition format (0.0.4).
  std::string metrics_text() const;

 private:
  rtm::Service& service_;
  const rtm::Limits limits_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  boost::asio::any_io_executor blocking_;
  Counters counters_;
  std::shared_ptr<Gate> gate_{std::make_shared<Gate>()};
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_;
  std::condition_variable idle_;  // notified when sessions_ becomes empty
  std::unordered_map<const Stoppable*, std::weak_ptr<Stoppable>> sessions_;  // guarded by mutex_
};

}  // namespace chatctl::server
