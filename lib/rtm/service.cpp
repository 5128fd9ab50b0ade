#include "rtm/service.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/error.hpp"
#include "core/scope.hpp"
#include "core/thread_name.hpp"
#include "engine/engine.hpp"
#include "engine/people.hpp"
#include "rtm/actions.hpp"
#include "rtm/protocol.hpp"
#include "rtm/pushes.hpp"

namespace chatctl::rtm {

using Clock = std::chrono::steady_clock;

Limits Limits::from(const core::Settings& s) {
  namespace k = core::keys;
  Limits l;
  l.license_id = s.get_int(k::kChatdLicenseId);
  l.login_timeout = std::chrono::milliseconds(s.get_int(k::kChatdLoginTimeout));
  l.ping_timeout = std::chrono::milliseconds(s.get_int(k::kChatdPingTimeout));
  l.request_timeout = std::chrono::milliseconds(s.get_int(k::kChatdRequestTimeout));
  l.pending_requests = static_cast<std::size_t>(s.get_int(k::kChatdPendingRequests));
  l.connections_per_customer = static_cast<std::size_t>(s.get_int(k::kChatdConnectionsPerCustomer));
  l.online_customers = static_cast<std::size_t>(s.get_int(k::kChatdOnlineCustomers));
  l.max_frame_bytes = static_cast<std::size_t>(s.get_int(k::kChatdMaxFrame));
  l.max_queued_bytes = static_cast<std::size_t>(s.get_int(k::kChatdMaxQueued));
  l.queue_bytes = static_cast<std::size_t>(s.get_int(k::kChatdQueueBytes));
  l.poll_interval = std::chrono::milliseconds(s.get_int(k::kChatdPoll));
  l.wal_bytes = s.get_int(k::kChatdWalBytes);
  return l;
}

namespace {

// One request waiting for the worker. `answered` is set by whoever answers first: the worker, or
// the deadline check with request_timeout.
struct Job {
  std::shared_ptr<Client> client;
  Clock::time_point received;
  std::shared_ptr<std::atomic<bool>> answered;
  std::size_t bytes{0};  // the request's frame, as counted against chatd_queue_bytes
  bool logout{false};    // not a request: the customer's last connection closed
  std::string customer;  // with logout: whose
  Request request{};     // decoded by receive()
};

// What the worker sends back for one job once its transaction is committed.
struct Answer {
  std::string frame;
  bool error{false};
  std::string login_customer;  // a login succeeded for this customer (who holds a place, see admit)
  std::int64_t login_seq{0};   // with it: the event log's last seq before the login ran
  bool skipped{false};         // not run: its connection had closed, or it was answered with request_timeout
  bool refused{false};         // a login refused with too_many_connections: no answer, a disconnect
};

// Requests per transaction. PostgreSQL keeps 64 subtransactions (our savepoints) of a transaction
// in shared memory and spills the rest to pg_subtrans, which slows every snapshot: 256 there
// halved send_event's rate. SQLite's savepoints cost nothing alike.
constexpr std::size_t kMaxBatchSqlite = 256;
constexpr std::size_t kMaxBatchPostgres = 64;
// Batches up to this size: the worker pushes their events itself. At 1,000 connections and
// 8,000 send_events/s (batches of 4 to 6) 16 rather than 4 took the follower from 0.2 cores to
// 0.02, the time commits waited for it from 8% to under 1%, and p50 from 1.2-1.6 to 1.0 ms.
constexpr std::size_t kRouteInWorker = 16;
constexpr auto kCheckpointPause = std::chrono::milliseconds(100);  // between background checkpoints
constexpr auto kWalHoldRetry = std::chrono::milliseconds(10);      // between two restart_wal
constexpr auto kWalHoldBackoff = std::chrono::milliseconds(200);   // after one left frames behind
// Upper bounds of chatd_rtm_request_duration_seconds's buckets: fine around a batch's commit (well
// under a millisecond) and the few milliseconds a request may take under load; request timeouts
// (answered 15 to 15.1 s after the request, the check running ten times a second) fall in the last.
constexpr std::array<double, 17> kRequestBuckets{0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025,
                                                 0.05,    0.1,    0.25,  0.5,   1,     2.5,   5,     30};
constexpr double kRequestsPerSecond = 1000;  // per connection; beyond it too_many_requests
constexpr double kRequestBurst = 1000;

// A frame (or a close) on its way to a connection, while a batch collects them.
struct Outgoing {
  std::shared_ptr<Sink> sink;
  std::string frame;         // empty with close
  bool close{false};
  bool going_away{false};
};
using Outbox = std::vector<Outgoing>;

// Where this thread's frames wait while it runs a batch or reads the log; none: they go at once.
thread_local Outbox* t_outbox = nullptr;

void hand_to_sink(Outgoing& o) {
  if (o.close) {
    o.sink->close(o.going_away);
  } else {
    o.sink->send(std::move(o.frame));
  }
}

void hand_to_sinks(Outbox& box) noexcept {
  for (auto& o : box) {
    try {
      hand_to_sink(o);
    } catch (const std::exception& e) {
      spdlog::error("chatd: queueing a frame: {}", e.what());
    }
  }
}

}  // namespace

class Client {
 public:
  Client(std::shared_ptr<Sink> s, std::string p, std::uint64_t n) : sink(std::move(s)), id(n), peer(std::move(p)) {}

  const std::shared_ptr<Sink> sink;
  const std::uint64_t id;
  const std::string peer;
  const Clock::time_point connected{Clock::now()};
  std::atomic<std::int64_t> last_seen_ns{Clock::now().time_since_epoch().count()};
  std::atomic<std::size_t> pending{0};
  std::atomic<bool> closed{false};
  std::atomic<bool> observed_closed{false};
  // Published by the worker after login, read by the follower.
  std::atomic<bool> logged_in{false};
  std::atomic<bool> login_sent{false};  // a login came on this connection (receive() sets it)
  std::atomic<core::Micros> token_expires{0};
  std::atomic<std::int64_t> token_id{0};
  // The event log's last seq before its login ran: the login response already shows every event
  // up to it, so the follower pushes none of those again (those the login caused, it does).
  std::atomic<std::int64_t> login_seq{0};

  Session session;  // the worker's alone

  std::mutex mu;  // guards the members below
  std::string customer_id;
  std::list<std::pair<Clock::time_point, std::shared_ptr<std::atomic<bool>>>> inflight;  // with request ids below
  std::list<std::pair<nlohmann::json, std::string>> inflight_ids;                        // (request_id, action)
  double tokens{kRequestBurst};
  Clock::time_point refill{Clock::now()};
};

class Service::Impl {
 public:
  // `session`: the one database session to run on (see Service's constructors), or null to open
  // a session for the worker, one for the follower and, on SQLite, one for checkpoints.
  Impl(const core::Settings& settings, const core::Clock& clock, std::unique_ptr<store::Store> session)
      : settings_(settings),
        clock_(clock),
        limits_(Limits::from(settings)),
        single_(session != nullptr),
        worker_store_(single_ ? std::move(session) : engine::open_database(settings, clock)),
        follower_store_(single_ ? nullptr : engine::open_database(settings, clock)),
        log_store_(single_ ? *worker_store_ : *follower_store_),
        actions_(*worker_store_, settings, clock),
        router_(log_store_, router_memory_) {
    actions_.set_admission([this](const std::string& customer) { return take_place(customer); });
    cursor_ = log_store_.last_event_seq();
    if (!single_ && worker_store_->backend() == store::Backend::sqlite) {
      checkpoint_store_ = engine::open_database(settings, clock);
      worker_store_->bulk_mode(true);  // its commits leave checkpoints to the checkpointer
      checkpointer_ = std::thread([this] {
        core::name_this_thread("chatd-wal");
        checkpoints();
      });
    }
    worker_ = std::thread([this] {
      core::name_this_thread("chatd-worker");
      work();
    });
    follower_ = std::thread([this] {
      core::name_this_thread("chatd-follower");
      follow();
    });
  }

  ~Impl() {
    raise(queue_mu_, stop_, queue_cv_);
    raise(follow_mu_, follow_stop_, follow_cv_);
    worker_.join();
    follower_.join();
    if (checkpointer_.joinable()) {
      raise(checkpoint_mu_, checkpoint_stop_, checkpoint_cv_);
      checkpointer_.join();
    }
  }

  const Limits& limits() const { return limits_; }

  std::string check_endpoint(std::string_view target) const {
    const auto q = target.find('?');
    const std::string_view path = target.substr(0, q);
    if (path != "/v3.2/customer/rtm/ws") return "unsupported_version";
    std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    std::optional<std::int64_t> license;
    while (!query.empty()) {
      const auto amp = query.find('&');
      const auto pair = query.substr(0, amp);
      if (pair.rfind("license_id=", 0) == 0) {
        const auto value = pair.substr(11);
        std::int64_t n = 0;
        bool ok = !value.empty() && value.size() < 16;
        for (const char c : value) {
          ok = ok && c >= '0' && c <= '9';
          if (ok) n = n * 10 + (c - '0');
        }
        if (ok) license = n;
      }
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    }
    if (!license || *license != limits_.license_id) return "license_not_found";
    return "";
  }

  std::shared_ptr<Client> connect(std::shared_ptr<Sink> sink, std::string peer) {
    auto c = std::make_shared<Client>(std::move(sink), std::move(peer), ++connections_total_);
    if (observer_) observer_->opened(c->id);
    std::lock_guard lock(clients_mu_);
    all_.insert(c);
    return c;
  }

  void receive(const std::shared_ptr<Client>& c, std::string frame) {
    if (c->closed) return;
    if (observer_) observer_->received(c->id, frame);
    const auto received = Clock::now();
    c->last_seen_ns = received.time_since_epoch().count();
    ++frames_in_;
    if (stopping_) {
      count_answered(Clock::now() - received);
      answer_error(*c, frame, ErrorType::service_unavailable);
      return;
    }
    bool flooding = false;
    {
      std::lock_guard lock(c->mu);
      const auto now = Clock::now();
      c->tokens = std::min(kRequestBurst,
                           c->tokens + std::chrono::duration<double>(now - c->refill).count() * kRequestsPerSecond);
      c->refill = now;
      flooding = c->tokens < 1;
      if (!flooding) c->tokens -= 1;
    }
    if (flooding) {  // answered outside c->mu: sending may end the connection, which takes it
      count_answered(Clock::now() - received);
      answer_error(*c, frame, ErrorType::too_many_requests);
      return;
    }
    // Decoding, unknown actions and ping need no database: answered here, on the caller's thread.
    nlohmann::json rid;
    std::string action;
    Request request;
    try {
      request = parse_request(frame, rid, action);
      if (!Actions::known(request.action)) throw RtmError(ErrorType::validation, "Unknown action `" + request.action + "`");
    } catch (const RtmError& e) {
      ++request_errors_;
      count_answered(Clock::now() - received);
      send(*c, error_frame(rid, action, e.type(), e.what()));
      return;
    }
    if (request.action == "ping") {
      count_answered(Clock::now() - received);  // before the client can see the answer
      send(*c, response_frame(request.request_id, request.action, nlohmann::json::object()));
      return;
    }
    // Before any login, anything but login fails: answered here too. Once a login came, the
    // worker answers, in order behind it (it may fail, and its error comes first).
    const bool login = request.action == "login";
    std::optional<ErrorType> refusal;
    if (!login && !c->login_sent) {
      refusal = ErrorType::authentication;
    } else if (c->pending >= limits_.pending_requests) {
      refusal = ErrorType::pending_requests_limit_reached;
    } else if (queued_bytes_ + frame.size() > limits_.queue_bytes) {
      refusal = ErrorType::service_unavailable;  // the database is behind: memory stays bounded
    }
    if (refusal) {
      ++request_errors_;
      count_answered(Clock::now() - received);
      send(*c, error_frame(rid, action, *refusal,
                           *refusal == ErrorType::authentication ? kLogInFirst : default_message(*refusal)));
      return;
    }
    ++c->pending;
    if (login) c->login_sent = true;
    Job job;
    job.client = c;
    job.received = Clock::now();
    job.answered = std::make_shared<std::atomic<bool>>(false);
    job.bytes = frame.size();
    job.request = std::move(request);
    queued_bytes_ += job.bytes;
    {
      std::lock_guard lock(c->mu);
      c->inflight.emplace_back(job.received, job.answered);
      c->inflight_ids.emplace_back(rid, action);
    }
    {
      std::unique_lock lock(queue_mu_);
      queue_.push_back(std::move(job));
      if (single_ && !working_ && !paused_ && !stop_) {
        // One session (in process): the caller runs the batch itself, which saves handing it to
        // the worker and waiting for the answer to come back. Same order, same transaction.
        auto batch = take_batch();
        lock.unlock();
        run_batch(batch);
        return;
      }
    }
    queue_cv_.notify_one();
  }

  void receive_binary(const std::shared_ptr<Client>& c) {
    c->last_seen_ns = Clock::now().time_since_epoch().count();
    send(*c, error_frame(nullptr, "", ErrorType::validation, "Wrong format of request: binary frames are not requests"));
  }

  void pinged(const std::shared_ptr<Client>& c) { c->last_seen_ns = Clock::now().time_since_epoch().count(); }

  void disconnected(const std::shared_ptr<Client>& c) {
    c->closed = true;
    if (observer_ && !c->observed_closed.exchange(true)) observer_->closed(c->id);
    {
      std::lock_guard lock(clients_mu_);
      all_.erase(c);
    }
    unregister(c);
  }

  void observe(std::shared_ptr<Observer> o) { observer_ = std::move(o); }

  // Waits for a call of the courier under way: once it returns, the old one is not called again.
  void set_courier(Service::Courier courier) {
    std::unique_lock lock(courier_mu_);
    courier_ = std::move(courier);
  }

  // While one lives, what this thread sends waits; then it goes out at once, in one function for
  // the courier (an I/O thread). Holders of publish_mu_ hand over before they release it, so the
  // frames of batches reach each connection in the order of the log.
  class Collecting {
   public:
    explicit Collecting(Impl& impl) : impl_(impl), previous_(t_outbox) { t_outbox = &box_; }
    Collecting(const Collecting&) = delete;
    Collecting& operator=(const Collecting&) = delete;
    ~Collecting() {
      t_outbox = previous_;
      hand_over();
    }
    void hand_over() noexcept { impl_.hand_over(box_); }

   private:
    Impl& impl_;
    Outbox* previous_;
    Outbox box_;
  };

  void hand_over(Outbox& box) noexcept {
    if (box.empty()) return;
    // Out of the box first: what a sink sends back meanwhile goes into the (empty) box.
    Outbox frames;
    frames.swap(box);
    try {
      std::shared_lock lock(courier_mu_);
      if (courier_) {
        // std::function wants a copyable function: the frames go in a shared vector. Should the
        // courier throw before taking the function, they go from here.
        auto shared = std::make_shared<Outbox>(std::move(frames));
        try {
          courier_([shared] { hand_to_sinks(*shared); });
          return;
        } catch (const std::exception& e) {
          spdlog::error("chatd: handing frames to the I/O threads: {}", e.what());
          frames = std::move(*shared);
        }
      }
    } catch (const std::exception& e) {
      spdlog::error("chatd: handing frames to the I/O threads: {}", e.what());
    }
    hand_to_sinks(frames);
  }

  // A frame or a close for a connection: into this thread's outbox while it collects, else to
  // the sink at once.
  static void out(Outgoing o) {
    if (t_outbox) {
      t_outbox->push_back(std::move(o));
    } else {
      hand_to_sink(o);
    }
  }

  void notify() {
    raise(follow_mu_, follow_wake_, follow_cv_);
  }

  // The same, handing the follower a batch already answered, to free there: its requests were
  // allocated on an I/O thread, and freeing them on the worker, which every request waits for,
  // made it queue for that thread's malloc arena.
  void notify(std::vector<Job> spent) {
    {
      std::lock_guard lock(follow_mu_);
      follow_wake_ = true;
      spent_.push_back(std::move(spent));
    }
    follow_cv_.notify_one();
  }

  void write(const std::function<void(store::Store&)>& fn) {
    // On two sessions the worker may be in a transaction that needs publish_mu_ to commit.
    if (!single_) throw core::Error(core::ErrorKind::internal, "Service::write needs a service on one session");
    std::lock_guard publishing(publish_mu_);  // the worker is between batches
    Collecting collecting(*this);              // handed over after the log is read, still under the lock
    const core::OnExit read([this] { read_log(); });  // what fn committed before failing is news too
    fn(log_store_);
  }

  void restart(const std::function<void(store::Store&)>& reset) {
    {
      std::unique_lock lock(queue_mu_);
      idle_cv_.wait(lock, [&] { return queue_.empty() && !working_; });
      paused_ = true;  // anything queued from now on waits for the reset
    }
    const core::OnExit resume([this] {
      {
        std::lock_guard lock(queue_mu_);
        paused_ = false;
      }
      queue_cv_.notify_all();
    });
    std::lock_guard publishing(publish_mu_);  // the follower reads the log under it
    reset(log_store_);
    actions_.rolled_back();
    router_.rows_replaced();
    worker_router_.rows_replaced();
    cursor_ = log_store_.last_event_seq();
  }

  void shutdown() {
    stopping_ = true;
    std::vector<std::shared_ptr<Client>> clients;
    {
      std::lock_guard lock(clients_mu_);
      clients.assign(all_.begin(), all_.end());
    }
    // Behind the batches already handed over (their answers and pushes come first).
    std::lock_guard publishing(publish_mu_);
    Collecting collecting(*this);
    for (const auto& c : clients) disconnect(c, "service_temporarily_unavailable", true);
  }

  bool ready() {
    const auto age = Clock::now() - Clock::time_point(Clock::duration(last_poll_ns_.load()));
    return follower_healthy_ && age < std::chrono::seconds(5);
  }

  std::string metrics() const {
    std::string out;
    auto metric = [&](const char* name, const char* type, const char* help, auto value) {
      out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
             std::to_string(value) + "\n";
    };
    std::size_t open = 0;
    std::size_t logged_in = 0;
    {
      std::lock_guard lock(clients_mu_);
      open = all_.size();
      for (const auto& c : all_) logged_in += c->logged_in ? 1 : 0;
    }
    metric("chatd_rtm_connections", "gauge", "RTM connections open", open);
    metric("chatd_rtm_customers_logged_in", "gauge", "RTM connections logged in", logged_in);
    metric("chatd_rtm_connections_total", "counter", "RTM connections accepted", connections_total_.load());
    metric("chatd_rtm_frames_received_total", "counter", "Text frames received", frames_in_.load());
    // The histogram's buckets, read once: its count is also chatd_rtm_requests_total.
    std::array<std::uint64_t, kRequestBuckets.size() + 1> buckets{};
    for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] = request_buckets_[i].load();
    const double request_seconds = static_cast<double>(request_ns_.load()) / 1e9;
    std::uint64_t answered = 0;
    for (const auto n : buckets) answered += n;
    metric("chatd_rtm_requests_total", "counter", "Requests answered (pings, errors and timeouts included)", answered);
    metric("chatd_rtm_request_errors_total", "counter", "Requests answered with an error", request_errors_.load());
    metric("chatd_rtm_request_timeouts_total", "counter", "Requests answered with request_timeout", timeouts_.load());
    metric("chatd_rtm_requests_dropped_total", "counter", "Requests not run: their connection closed, or request_timeout answered them, first",
           dropped_.load());
    metric("chatd_rtm_queue_bytes", "gauge", "Bytes of requests waiting for the database (limit chatd_queue_bytes)",
           queued_bytes_.load());
    metric("chatd_rtm_request_seconds_total", "counter", "Time from receiving requests to answering them",
           request_seconds);
    {
      // A histogram: cumulative counts by upper bound, then the sum and the count.
      const char* name = "chatd_rtm_request_duration_seconds";
      out += std::string("# HELP ") + name + " Time from receiving requests to answering them\n# TYPE " + name +
             " histogram\n";
      std::uint64_t count = 0;
      for (std::size_t i = 0; i < buckets.size(); ++i) {
        count += buckets[i];
        const std::string le = i < kRequestBuckets.size() ? fmt::format("{}", kRequestBuckets[i]) : "+Inf";
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, le, count);
      }
      out += fmt::format("{}_sum {}\n{}_count {}\n", name, request_seconds, name, count);
    }
    metric("chatd_rtm_transactions_total", "counter", "Database transactions (each holds a batch of requests)",
           batches_.load());
    metric("chatd_rtm_commit_wait_seconds_total", "counter",
           "Time batches waited to commit while the follower read the log for pushes",
           static_cast<double>(publish_wait_ns_.load()) / 1e9);
    metric("chatd_rtm_pushes_total", "counter", "Push frames sent", pushes_.load());
    metric("chatd_rtm_disconnects_total", "counter", "Connections closed by chatd with customer_disconnected",
           disconnects_.load());
    metric("chatd_sqlite_wal_holds_total", "counter",
           "Times the worker checkpointed the WAL itself because it outgrew chatd_wal_bytes", wal_holds_.load());
    metric("chatd_event_log_seq", "gauge", "Last event log sequence number read", cursor_.load());
    return out;
  }

 private:
  // Sets a flag that threads wait for under `mu`, and wakes them.
  static void raise(std::mutex& mu, bool& flag, std::condition_variable& cv) {
    {
      std::lock_guard lock(mu);
      flag = true;
    }
    cv.notify_all();
  }

  void send(Client& c, std::string frame) {
    if (c.closed) return;
    if (observer_) observer_->sent(c.id, frame);
    out({c.sink, std::move(frame)});
  }

  void disconnect(const std::shared_ptr<Client>& c, std::string_view reason, bool going_away = false) {
    if (c->closed.exchange(true)) return;
    ++disconnects_;
    std::string frame = disconnect_frame(reason);
    if (observer_) observer_->sent(c->id, frame);
    out({c->sink, std::move(frame)});
    out({c->sink, {}, true, going_away});
    unregister(c);
  }

  // Takes a closed connection out of its customer's; the customer's last one going marks the
  // customer off-line.
  void unregister(const std::shared_ptr<Client>& c) {
    std::string customer;
    bool last = false;
    {
      std::lock_guard lock(clients_mu_);
      {
        std::lock_guard client_lock(c->mu);
        customer = std::exchange(c->customer_id, std::string());
      }
      if (customer.empty()) return;
      auto it = by_customer_.find(customer);
      if (it == by_customer_.end() || it->second.erase(c) == 0) return;
      if (it->second.empty()) {
        by_customer_.erase(it);
        last = true;
      }
    }
    if (last) queue_logout(c, customer);
  }

  // The customer's last connection is gone: the worker marks it off-line. Also while stopping:
  // the worker runs what is queued before it ends, so no customer stays on-line after chatd.
  void queue_logout(const std::shared_ptr<Client>& c, std::string customer) {
    Job job;
    job.client = c;
    job.logout = true;
    job.customer = std::move(customer);
    {
      std::lock_guard lock(queue_mu_);
      queue_.push_back(std::move(job));
    }
    queue_cv_.notify_one();
  }

  void answer_error(Client& c, std::string_view frame, ErrorType type) {
    nlohmann::json rid;
    std::string action;
    try {
      parse_request(frame, rid, action);
    } catch (const RtmError&) {
    }
    ++request_errors_;
    send(c, error_frame(rid, action, type, default_message(type)));
  }

  // A request answered `took` after it was received, however: the
  // chatd_rtm_request_duration_seconds histogram, whose count is chatd_rtm_requests_total.
  void count_answered(Clock::duration took) {
    request_ns_ += static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count());
    const double seconds = std::chrono::duration<double>(took).count();
    const auto bucket = std::lower_bound(kRequestBuckets.begin(), kRequestBuckets.end(), seconds);
    ++request_buckets_[static_cast<std::size_t>(bucket - kRequestBuckets.begin())];
  }

  // Removes the job's entry from its client's in-flight list.
  void settle(Client& c, const std::shared_ptr<std::atomic<bool>>& answered) {
    std::lock_guard lock(c.mu);
    auto id = c.inflight_ids.begin();
    for (auto it = c.inflight.begin(); it != c.inflight.end(); ++it, ++id) {
      if (it->second == answered) {
        c.inflight.erase(it);
        c.inflight_ids.erase(id);
        break;
      }
    }
  }

  // The worker: runs requests in arrival order, a batch of them in one transaction (each in its
  // own savepoint), then answers them once that transaction is committed.
  void work() {
    for (;;) {
      std::vector<Job> batch;
      {
        std::unique_lock lock(queue_mu_);
        // working_ without the worker: receive() runs a batch on its caller's thread (one session).
        queue_cv_.wait(lock, [&] { return !working_ && (stop_ || (!queue_.empty() && !paused_)); });
        if (queue_.empty()) return;
        batch = take_batch();
      }
      run_batch(batch);
    }
  }

  // The next batch off the queue. Under queue_mu_; the caller runs it (run_batch).
  std::vector<Job> take_batch() {
    std::vector<Job> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      queued_bytes_ -= queue_.front().bytes;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    working_ = true;
    return batch;
  }

  void run_batch(std::vector<Job>& batch) {
    // However it ends: no batch runs any more, and what was queued meanwhile is the worker's.
    const core::OnExit done([this] {
      {
        std::lock_guard lock(queue_mu_);
        working_ = false;
      }
      idle_cv_.notify_all();
      if (single_) queue_cv_.notify_one();  // it may have run on a caller's thread
    });
    if (worker_store_->wal_bytes() > limits_.wal_bytes && Clock::now() >= next_wal_hold_) restart_wal();
    Collecting collecting(*this);  // the answers and pushes go to the I/O threads in one go
    std::vector<Answer> answers(batch.size());
    bool committed = false;
    // Responses go out before the pushes their requests caused: the follower does not read the
    // log between this commit and the last answer being queued. On one session the follower
    // keeps off it for the whole batch.
    std::unique_lock publishing(publish_mu_, std::defer_lock);
    if (single_) publishing.lock();
    try {
      store::WriteTransaction tx(*worker_store_);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        // Closed meanwhile, or answered with request_timeout: its client expects nothing more.
        if (!batch[i].logout && (batch[i].client->closed || *batch[i].answered)) {
          answers[i].skipped = true;
          continue;
        }
        const bool login = !batch[i].logout && batch[i].request.action == "login";
        const std::int64_t before = login ? worker_store_->last_event_seq() : 0;
        answers[i] = run(batch[i]);
        answers[i].login_seq = before;
      }
      if (!single_) {
        const auto wait_from = Clock::now();
        publishing.lock();
        publish_wait_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - wait_from).count();
      }
      tx.commit();
      committed = true;
    } catch (const std::exception& e) {
      spdlog::error("chatd: a transaction failed: {}", e.what());
      actions_.rolled_back();
    }
    ++batches_;
    const auto now = Clock::now();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& job = batch[i];
      if (job.logout) continue;
      auto& c = *job.client;
      auto& a = answers[i];
      settle(c, job.answered);
      // Whoever answers a request ends its pending: here, or check_deadlines with request_timeout.
      const bool timed_out = job.answered->exchange(true);
      if (!timed_out) --c.pending;
      if (a.skipped) {
        ++dropped_;
        continue;
      }
      if (!committed) {
        if (!a.login_customer.empty()) {
          give_place(a.login_customer);
          c.session = Session{};  // that login was rolled back; sessions logged in before stay
        }
        if (timed_out) continue;
        count_answered(now - job.received);
        ++request_errors_;
        send(c, error_frame(job.request.request_id, job.request.action, ErrorType::service_unavailable,
                            default_message(ErrorType::service_unavailable)));
        continue;
      }
      if (!a.login_customer.empty() && !admit(job.client, a.login_customer, a.login_seq, timed_out)) continue;
      if (timed_out || c.closed) continue;  // closed while it ran (or by a refused login before it)
      if (a.refused) {  // no answer: the documented disconnect
        c.session.disconnect_reason.clear();
        disconnect(job.client, "too_many_connections");
        continue;
      }
      count_answered(now - job.received);
      if (a.error) ++request_errors_;
      send(c, std::move(a.frame));
      if (!c.session.disconnect_reason.empty()) disconnect(job.client, std::exchange(c.session.disconnect_reason, {}));
    }
    // What was just committed is news: on one session it is read at once, on the session it
    // was written with (no hand-off, no cache to reload); else the follower is woken.
    // A small batch's events are routed here too, on the worker's own session, whose cache holds
    // what they concern: the follower would first read those pages again (another session just
    // wrote them), and a thread hand-off costs more than a few events' routing; and the next
    // commit does not wait for the follower to finish with publish_mu_. A large batch is the
    // follower's, on the other core, while the worker goes on. Either way under publish_mu_,
    // which a batch that failed before its commit does not hold yet.
    const bool route_here = single_ || batch.size() <= kRouteInWorker;
    if (route_here) {
      if (!publishing.owns_lock()) publishing.lock();
      read_log(worker_router_, *worker_store_);
    }
    collecting.hand_over();
    if (publishing.owns_lock()) publishing.unlock();
    if (!route_here) notify(std::move(batch));
    if (checkpointer_.joinable()) raise(checkpoint_mu_, checkpoint_due_, checkpoint_cv_);
  }

  Answer run(Job& job) {
    Answer a;
    if (job.logout) {
      {
        // Logged in again meanwhile (or a login of this batch holds a place): still on-line.
        std::lock_guard lock(clients_mu_);
        if (by_customer_.contains(job.customer) || places_.contains(job.customer)) return a;
      }
      try {
        store::WriteTransaction tx(*worker_store_);
        people_.set_customer_availability(job.customer, model::CustomerAvailability::offline, false);
        tx.commit();
      } catch (const std::exception& e) {
        spdlog::debug("chatd: marking a customer off-line: {}", e.what());
      }
      return a;
    }
    auto& c = *job.client;
    const Request& r = job.request;
    const nlohmann::json& rid = r.request_id;
    const std::string& action = r.action;
    const bool was_logged_in = c.session.logged_in;
    try {
      Outcome o = actions_.run(c.session, r);
      a.frame = response_frame(r.request_id, r.action, o.payload);
      if (!was_logged_in && c.session.logged_in) a.login_customer = c.session.customer_id;
    } catch (const RtmError& e) {
      a.error = true;
      a.frame = error_frame(rid, action, e.type(), e.what());
    } catch (const std::exception& e) {
      spdlog::error("chatd: {} from {}: {}", action, c.peer, e.what());
      a.error = true;
      a.frame = error_frame(rid, action, ErrorType::internal, default_message(ErrorType::internal));
    }
    a.refused = std::exchange(refused_, false);
    // A login that failed after it filled the session (its answer an error) leaves none behind,
    // or the connection could neither log in again nor act (the I/O thread sees no login).
    if (a.error && r.action == "login" && !was_logged_in) {
      std::string reason = std::move(c.session.disconnect_reason);
      c.session = Session{};
      c.session.disconnect_reason = std::move(reason);
    }
    // A login that took a place and then failed gives it back; one that succeeded keeps it for admit().
    if (!placed_.empty() && a.login_customer.empty()) give_place(placed_);
    placed_.clear();
    return a;
  }

  // SQLite: checkpoints the WAL on a connection of its own, beside the worker's writes, so no
  // request waits for a checkpoint's copying and fsyncs. A passive checkpoint never blocks the
  // writer; but the log starts over only when a writer begins on a fully checkpointed log, which a
  // worker that is never idle does not do: see restart_wal.
  void checkpoints() {
    for (;;) {
      {
        std::unique_lock lock(checkpoint_mu_);
        checkpoint_cv_.wait(lock, [&] { return checkpoint_stop_ || checkpoint_due_ || hold_ == Hold::wanted; });
        if (checkpoint_stop_) return;
        checkpoint_due_ = false;
      }
      try {
        checkpoint_store_->checkpoint_wal();
      } catch (const std::exception& e) {
        spdlog::warn("chatd: checkpointing the WAL: {}", e.what());
      }
      std::unique_lock lock(checkpoint_mu_);
      if (hold_ == Hold::wanted) hold_ = Hold::ready;
      // Each checkpoint ends in two fsyncs: ten a second at most, unless the worker waits for one.
      checkpoint_cv_.wait_for(lock, kCheckpointPause, [&] { return checkpoint_stop_ || hold_ == Hold::wanted; });
    }
  }

  // The worker, between two batches, once the WAL is past chatd_wal_bytes. First it asks the
  // checkpointer for a checkpoint and goes on; once that is done it checkpoints the little written
  // since, itself, so its next transaction begins on a fully checkpointed log and starts it over.
  // That last checkpoint (a few batches' pages and two fsyncs) is all the worker waits for. When
  // the log does not start over (a reader in another process pins part of it, or holds it at the
  // restart), the next try comes a little later, not before every batch.
  void restart_wal() {
    {
      std::lock_guard lock(checkpoint_mu_);
      if (hold_ == Hold::none) hold_ = Hold::wanted;
      if (hold_ == Hold::wanted) {
        checkpoint_cv_.notify_one();
        return;
      }
      hold_ = Hold::none;
    }
    ++wal_holds_;
    bool complete = false;
    try {
      complete = worker_store_->checkpoint_wal();
    } catch (const std::exception& e) {
      spdlog::warn("chatd: checkpointing the WAL: {}", e.what());
    }
    // Incomplete: a reader pins older frames, which a retry soon would not change.
    next_wal_hold_ = Clock::now() + (complete ? kWalHoldRetry : kWalHoldBackoff);
  }

  // Login's admission (Actions::set_admission), on the thread running the batch: a place among
  // the customer's connections, taken before the login writes anything and held until admit()
  // registers the connection or the login comes to nothing. Counting the places of logins not yet
  // admitted keeps two logins of one batch from both taking the last one.
  // A customer not yet on-line here takes one of chatd_online_customers' places too: past it the
  // login is answered users_limit_reached.
  bool take_place(const std::string& customer) {
    std::lock_guard lock(clients_mu_);
    const auto open = by_customer_.find(customer);
    const std::size_t held = open == by_customer_.end() ? 0 : open->second.size();
    auto taken = places_.find(customer);
    if (limits_.online_customers != 0 && open == by_customer_.end() && taken == places_.end()) {
      std::size_t online = by_customer_.size();
      for (const auto& [id, n] : places_) online += by_customer_.contains(id) ? 0 : 1;
      if (online >= limits_.online_customers) {
        throw RtmError(ErrorType::users_limit_reached,
                       "The limit of online customers (" + std::to_string(limits_.online_customers) + ") is reached");
      }
    }
    if (held + (taken == places_.end() ? 0 : taken->second) >= limits_.connections_per_customer) {
      refused_ = true;
      return false;
    }
    ++places_[customer];
    placed_ = customer;
    return true;
  }

  void give_place(const std::string& customer) {
    std::lock_guard lock(clients_mu_);
    give_place_locked(customer);
  }

  void give_place_locked(const std::string& customer) {
    const auto it = places_.find(customer);
    if (it != places_.end() && --it->second == 0) places_.erase(it);
  }

  // Registers a freshly logged-in connection under its customer, in the place its login took.
  // One that closed while its login ran, or whose login was answered with request_timeout
  // (`abandoned`), is logged out again: false, and the customer goes off-line unless another connection of its
  // is open or a login holds a place (the logout job looks again when it runs).
  bool admit(const std::shared_ptr<Client>& c, const std::string& customer, std::int64_t login_seq, bool abandoned) {
    bool offline = false;
    {
      std::lock_guard lock(clients_mu_);
      give_place_locked(customer);
      // Closed before this: disconnected() found no customer to unregister, so it must not be
      // registered now (it would count against the limit, and keep the customer on-line).
      if (!c->closed && !abandoned) {
        by_customer_[customer].insert(c);
        std::lock_guard clock(c->mu);
        c->customer_id = customer;
        c->token_id = c->session.token_id;
        c->token_expires = c->session.token_expires;
        c->login_seq = login_seq;
        c->logged_in = true;
        return true;
      }
      offline = !by_customer_.contains(customer);
    }
    c->session = Session{};
    if (offline) queue_logout(c, customer);
    return false;
  }

  // The follower: reads the event log after what it has seen, turns events into pushes, and
  // enforces the deadlines (login, ping, request timeout, token expiry).
  void follow() {
    auto next_tick = Clock::now();
    for (;;) {
      std::vector<std::vector<Job>> spent;  // freed after the log is read, on this thread
      {
        std::unique_lock lock(follow_mu_);
        follow_cv_.wait_for(lock, limits_.poll_interval, [&] { return follow_stop_ || follow_wake_; });
        if (follow_stop_) return;
        follow_wake_ = false;
        spent.swap(spent_);
      }
      {
        // Under publish_mu_, so no batch is between its commit and its answers, and the follower
        // holds no read snapshot while the worker commits (which a WAL restart needs).
        std::lock_guard publishing(publish_mu_);
        Collecting collecting(*this);  // handed over before publish_mu_ is released
        read_log();
      }
      if (Clock::now() >= next_tick) {
        Collecting collecting(*this);
        check_deadlines();
        next_tick = Clock::now() + std::chrono::milliseconds(100);
      }
    }
  }

  // Reads the event log after cursor_ and pushes what it holds, through `router` and its
  // session (the follower's, or the worker's own). Under publish_mu_.
  void read_log() noexcept { read_log(router_, log_store_); }
  void read_log(PushRouter& router, store::Store& store) noexcept {
    try {
      for (;;) {
        store::EventFilter f;
        f.after = cursor_;
        f.limit = 500;
        const auto events = store.list_events(f);
        router.new_batch(cursor_, events);
        for (const auto& e : events) {
          deliver(route(router, e), e.seq);
          cursor_ = e.seq;
        }
        if (t_outbox) hand_over(*t_outbox);  // a long backlog goes out as it is read
        if (events.size() < f.limit) break;
      }
      follower_healthy_ = true;
      last_poll_ns_ = Clock::now().time_since_epoch().count();
    } catch (const std::exception& e) {
      if (follower_healthy_) spdlog::error("chatd: reading the event log: {}", e.what());
      follower_healthy_ = false;
    }
  }

  // An event's pushes. One whose payload is not what chatctl writes (another tool's, fields of
  // other types) is skipped with a warning: it would fail the same way every time, and reading
  // the log again from before it would push nothing more to anyone. A database error is thrown
  // on, and the log read again later.
  static std::vector<Delivery> route(PushRouter& router, const store::EventRecord& e) {
    try {
      return router.route(e);
    } catch (const nlohmann::json::exception& x) {
      spdlog::warn("chatd: event {} ({}) pushes nothing: its payload is not as chatctl writes it: {}", e.seq, e.type,
                   x.what());
      return {};
    }
  }

  void deliver(const std::vector<Delivery>& deliveries, std::int64_t seq) {
    for (const auto& d : deliveries) {
      std::vector<std::shared_ptr<Client>> targets;
      {
        std::lock_guard lock(clients_mu_);
        if (d.customers.empty() && d.token_id != 0) {
          for (const auto& c : all_) {
            if (c->logged_in && c->token_id == d.token_id) targets.push_back(c);
          }
        }
        for (const auto& id : d.customers) {
          auto it = by_customer_.find(id);
          if (it == by_customer_.end()) continue;
          targets.insert(targets.end(), it->second.begin(), it->second.end());
        }
      }
      for (const auto& c : targets) {
        // Its login response showed this event. (Sound because every writer, in any process,
        // holds the write lock for its whole transaction: seq order is commit order.)
        if (seq <= c->login_seq) continue;
        if (!d.disconnect_reason.empty()) {
          disconnect(c, d.disconnect_reason);
        } else {
          ++pushes_;
          send(*c, d.frame);
        }
      }
    }
  }

  void check_deadlines() {
    std::vector<std::shared_ptr<Client>> clients;
    {
      std::lock_guard lock(clients_mu_);
      clients.assign(all_.begin(), all_.end());
    }
    const auto now = Clock::now();
    const auto wall = clock_.now();
    for (const auto& c : clients) {
      if (c->closed) continue;
      if (!c->logged_in) {
        if (now - c->connected > limits_.login_timeout) {
          disconnect(c, "connection_timeout");
          continue;
        }
      } else {
        const auto seen = Clock::time_point(Clock::duration(c->last_seen_ns.load()));
        if (now - seen > limits_.ping_timeout) {
          disconnect(c, "connection_timeout");
          continue;
        }
        if (c->token_expires > 0 && c->token_expires <= wall) {
          disconnect(c, "access_token_expired");
          continue;
        }
      }
      // A login too times out: once it runs, admit() logs the connection out again.
      std::vector<std::pair<std::pair<nlohmann::json, std::string>, Clock::duration>> expired;  // and how long ago
      {
        std::lock_guard lock(c->mu);
        auto id = c->inflight_ids.begin();
        for (auto it = c->inflight.begin(); it != c->inflight.end(); ++it, ++id) {
          if (now - it->first > limits_.request_timeout && !it->second->exchange(true)) {
            expired.emplace_back(*id, now - it->first);
            --c->pending;  // answered: no longer pending, though the worker has yet to skip it
          }
        }
      }
      for (const auto& [id, took] : expired) {
        ++timeouts_;
        count_answered(took);
        send(*c, error_frame(id.first, id.second, ErrorType::request_timeout, default_message(ErrorType::request_timeout)));
      }
    }
  }

  const core::Settings& settings_;
  const core::Clock& clock_;
  const Limits limits_;
  const bool single_;  // one session: the worker reads the log after each batch itself
  std::unique_ptr<store::Store> worker_store_;
  std::unique_ptr<store::Store> follower_store_;  // null on one session
  store::Store& log_store_;  // where the log is read (under publish_mu_): the follower's session, or the one
  Actions actions_;
  engine::People people_{*worker_store_, settings_, clock_, "chatd"};  // the batch runner's (logouts)
  // The two routers take turns under publish_mu_, each on its own session; they share what they
  // remember of chats, so each knows of the events the other routed.
  std::shared_ptr<PushRouter::Memory> router_memory_ = std::make_shared<PushRouter::Memory>();
  PushRouter router_;
  PushRouter worker_router_{*worker_store_, router_memory_};  // whoever runs a batch routes through it (see run_batch)

  std::mutex queue_mu_;  // guards queue_, stop_ and working_
  std::condition_variable queue_cv_;
  std::condition_variable idle_cv_;  // the worker finished a batch
  bool working_{false};              // the worker holds a batch
  bool paused_{false};               // restart() is resetting the database
  std::deque<Job> queue_;
  bool stop_{false};
  std::atomic<std::size_t> queued_bytes_{0};  // of queue_'s jobs; changed under queue_mu_

  std::unique_ptr<store::Store> checkpoint_store_;  // SQLite only
  std::mutex checkpoint_mu_;                        // guards checkpoint_stop_, checkpoint_due_ and hold_
  std::condition_variable checkpoint_cv_;
  bool checkpoint_stop_{false};
  bool checkpoint_due_{false};   // the worker committed since the last checkpoint
  enum class Hold { none, wanted, ready };
  Hold hold_{Hold::none};        // restart_wal's request for a checkpoint, and its completion
  Clock::time_point next_wal_hold_{};  // the worker's: restart_wal not before
  const std::size_t max_batch_ =
      worker_store_->backend() == store::Backend::sqlite ? kMaxBatchSqlite : kMaxBatchPostgres;
  std::thread checkpointer_;

  std::mutex publish_mu_;  // held from a batch's commit to its answers being queued, and while the log is read
  std::mutex follow_mu_;  // guards follow_stop_, follow_wake_ and spent_
  std::condition_variable follow_cv_;
  bool follow_stop_{false};
  bool follow_wake_{false};  // something was committed: read the log now
  std::vector<std::vector<Job>> spent_;  // answered batches for the follower to free

  mutable std::mutex clients_mu_;  // guards all_, by_customer_ and places_
  std::unordered_set<std::shared_ptr<Client>> all_;
  std::unordered_map<std::string, std::unordered_set<std::shared_ptr<Client>>> by_customer_;
  std::unordered_map<std::string, std::size_t> places_;  // logins run but not yet admitted, by customer
  // The batch runner's: the place the login being run took, and whether it was refused one.
  std::string placed_;
  bool refused_{false};

  std::atomic<bool> stopping_{false};
  std::atomic<bool> follower_healthy_{true};
  std::atomic<std::int64_t> last_poll_ns_{Clock::now().time_since_epoch().count()};
  std::atomic<std::int64_t> cursor_{0};
  std::atomic<std::uint64_t> connections_total_{0}, frames_in_{0}, request_errors_{0}, timeouts_{0},
      batches_{0}, pushes_{0}, disconnects_{0}, request_ns_{0}, wal_holds_{0}, publish_wait_ns_{0}, dropped_{0};
  std::array<std::atomic<std::uint64_t>, kRequestBuckets.size() + 1> request_buckets_{};  // the last: beyond all

  std::shared_ptr<Observer> observer_;  // set before the first connection, then only read
  std::shared_mutex courier_mu_;  // guards courier_: shared while calling it
  Service::Courier courier_;

  std::thread worker_;
  std::thread follower_;
};

Service::Service(const core::Settings& settings, const core::Clock& clock)
    : impl_(std::make_unique<Impl>(settings, clock, nullptr)) {}
Service::Service(const core::Settings& settings, const core::Clock& clock, std::unique_ptr<store::Store> session)
    : impl_(std::make_unique<Impl>(settings, clock, std::move(session))) {}
Service::~Service() = default;
const Limits& Service::limits() const { return impl_->limits(); }
std::string Service::check_endpoint(std::string_view target) const { return impl_->check_endpoint(target); }
std::shared_ptr<Client> Service::connect(std::shared_ptr<Sink> sink, std::string peer) {
  return impl_->connect(std::move(sink), std::move(peer));
}
void Service::receive(const std::shared_ptr<Client>& client, std::string frame) {
  impl_->receive(client, std::move(frame));
}
void Service::receive_binary(const std::shared_ptr<Client>& client) { impl_->receive_binary(client); }
void Service::pinged(const std::shared_ptr<Client>& client) { impl_->pinged(client); }
void Service::disconnected(const std::shared_ptr<Client>& client) { impl_->disconnected(client); }
void Service::shutdown() { impl_->shutdown(); }
void Service::notify() { impl_->notify(); }
void Service::write(const std::function<void(store::Store&)>& fn) { impl_->write(fn); }
void Service::restart(const std::function<void(store::Store&)>& reset) { impl_->restart(reset); }
void Service::observe(std::shared_ptr<Observer> observer) { impl_->observe(std::move(observer)); }
void Service::set_courier(Courier courier) { impl_->set_courier(std::move(courier)); }
bool Service::ready() { return impl_->ready(); }
std::string Service::metrics() const { return impl_->metrics(); }

}  // namespace chatctl::rtm
