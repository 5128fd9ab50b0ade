#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/settings.hpp"

namespace chatctl::store {
class Store;
}

namespace chatctl::rtm {

// Where a connection's outgoing frames go: implemented by the server's websocket session.
// Thread-safe: the service calls it from its own threads.
class Sink {
 public:
  virtual ~Sink() = default;
  // Queues one text frame. The sink bounds its queue: when a client does not read, it closes the
  // connection instead of buffering without limit.
  virtual void send(std::string text) = 0;
  // Closes the connection after the frames already queued (websocket close code 1000, or 1001
  // when the server shuts down). Idempotent.
  virtual void close(bool going_away) = 0;
};

// Sees every connection's frames in order (chatd --record). Called from the service's threads,
// one frame at a time per connection; implementations must be thread-safe across connections.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void opened(std::uint64_t connection) = 0;
  virtual void received(std::uint64_t connection, const std::string& frame) = 0;
  virtual void sent(std::uint64_t connection, const std::string& frame) = 0;
  virtual void closed(std::uint64_t connection) = 0;
};

// One websocket connection as the protocol sees it. Created by Service::connect; the server
// passes it back on every call for that connection. Opaque to the server.
class Client;

// Limits of a chatd, each a setting with a documented default (chatctl(1), config.schema.json).
struct Limits {
  std::int64_t license_id{1};
  std::chrono::milliseconds login_timeout{30'000};
  std::chrono::milliseconds ping_timeout{30'000};
  std::chrono::milliseconds request_timeout{15'000};
  std::size_t pending_requests{10};
  std::size_t connections_per_customer{16};
  std::size_t online_customers{0};          // logged in at once, this process; 0: no limit
  std::size_t max_frame_bytes{256 * 1024};
  std::size_t max_queued_bytes{4 * 1024 * 1024};  // per connection, before it is dropped
  std::size_t queue_bytes{16 * 1024 * 1024};       // requests waiting for the worker, all connections
  std::chrono::milliseconds poll_interval{20};     // how often the event log is read when idle
  std::int64_t wal_bytes{64 * 1024 * 1024};        // SQLite: restart the WAL past this size
  static Limits from(const core::Settings& settings);
};

// The Customer Chat RTM API v3.2 over the chat engine (shared/spec/livechat-customer-rtm-api-v3.2.txt):
// decodes requests, runs actions on the engine, answers, and turns the engine's event log into
// pushes for every connection of every customer concerned, including events written by other
// processes (chatctl from a shell, another chatd on the same PostgreSQL database).
//
// Threads: the service runs its own worker (requests, in order per connection, each in its own
// transaction or savepoint) and a follower (event log, pushes, deadlines). Every public method is
// thread-safe and, but for write(), never throws; errors become RTM errors or disconnects.
class Service {
 public:
  // Opens its own database sessions from `settings`. Throws core::Error when the database cannot
  // be opened (chatd then exits with that error's code).
  Service(const core::Settings& settings, const core::Clock& clock);
  // Runs on `session` alone, for a database no other process writes to (replay's throwaway
  // ones): whoever runs a batch reads the event log and pushes right after it, on the session it
  // wrote with, and the follower thread only keeps the deadlines and reads the log when idle. One
  // connection keeps its page cache (SQLite drops a connection's cache whenever another one
  // committed), and a push needs no hand-off between threads. receive() runs a request on its
  // caller's thread when no batch is running (in process the caller waits for the answer anyway),
  // so receive() may take as long as the request; the worker takes what arrives meanwhile.
  Service(const core::Settings& settings, const core::Clock& clock, std::unique_ptr<store::Store> session);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const Limits& limits() const;

  // The checks of the websocket endpoint before upgrading: the path must be
  // /v3.2/customer/rtm/ws and license_id the configured one. Returns "" to accept, else the
  // customer_disconnected reason (unsupported_version, license_not_found) that the server sends
  // as the only frame before closing. `target` is the request target with its query string.
  std::string check_endpoint(std::string_view target) const;

  // A new websocket connection (after the upgrade and check_endpoint); `peer` is for logs.
  std::shared_ptr<Client> connect(std::shared_ptr<Sink> sink, std::string peer);
  // A text frame from the client.
  void receive(const std::shared_ptr<Client>& client, std::string frame);
  // A binary frame: answered with a validation error.
  void receive_binary(const std::shared_ptr<Client>& client);
  // A websocket ping (or pong) control frame: counts as the client's ping.
  void pinged(const std::shared_ptr<Client>& client);
  // The connection is gone (closed by either side or failed).
  void disconnected(const std::shared_ptr<Client>& client);

  // Set before the first connection; the service keeps it until destroyed.
  void observe(std::shared_ptr<Observer> observer);

  // Runs a function on an I/O thread, functions in the order given, and never one while it is
  // being called. The worker and the follower hand each batch's frames (answers, pushes, closes)
  // over in one function, so an I/O thread is woken once a batch, not once a frame. Without one
  // (a service in process), frames go to their Sinks at the end of the batch, on the service's
  // thread. The server sets it before accepting connections; it must outlive the service's use of
  // it, or stop running functions (the server's gate).
  using Courier = std::function<void(std::function<void()>)>;
  void set_courier(Courier courier);

  // Something was committed to the event log by this process outside the service (an in-process
  // writer): read it now rather than at the next poll.
  void notify();

  // Stops taking requests (service_unavailable), tells every client it goes away and closes them.
  void shutdown();

  // A service on one session: runs `fn` on it between batches, then reads the event log and
  // pushes what `fn` committed (also when it throws, which this passes on) before returning. For
  // an in-process writer beside the clients (replay's set-up and agent actions). Throws
  // core::Error (internal) on a service with sessions of its own.
  void write(const std::function<void(store::Store&)>& fn);

  // For replay, which runs many fixtures on one service: waits until every request queued has been
  // answered, runs `reset` (which puts the database back in a known state) on a session of the
  // service's with the follower held, and has the follower go on from the end of the event log as
  // `reset` left it. The caller has closed every connection first.
  void restart(const std::function<void(store::Store&)>& reset);

  // For /readyz: the database answers and the follower keeps up.
  bool ready();
  // For /metrics: Prometheus text exposition of the service's counters and gauges.
  std::string metrics() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chatctl::rtm
