#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

// The load generator of bench_chatd: websocket clients on Boost.Beast, asynchronous, one
// io_context per thread, many connections on each. The same clients drive chatd (RTM requests,
// matched to their responses by request_id, pushes counted) and the echo server (the same frames,
// each echo counted as the response).
namespace chatctl::bench {

using Clock = std::chrono::steady_clock;

// The requests connections send as load.
enum class Kind {
  ping,        // {"action":"ping","payload":{}}
  send_event,  // a message event to the connection's chat, its text carrying the send time
};

// Where connections go.
struct Server {
  std::string name;  // for messages
  unsigned short port{0};
  bool rtm{false};     // chatd (log in, answers are RTM responses) or the echo server
  std::string target;  // the request target of the upgrade
};

// Phase control, written by the main thread, read by every connection.
struct Control {
  // The round of load under way, 0 between rounds. A connection started in one round stops
  // sending once it is over, even if a later round has begun by the time its timer fires.
  std::atomic<std::uint64_t> round{0};
  // Latency samples are kept for requests stamped in [measure_from, measure_until) (steady clock
  // nanoseconds): the send time under closed-loop load, the scheduled time under open-loop load.
  // Push delays likewise, by the send time the pushed event carries.
  std::atomic<std::int64_t> measure_from{INT64_MAX};
  std::atomic<std::int64_t> measure_until{INT64_MAX};
};

// Counters of one client thread: each is written by that thread alone and may be read by any
// thread at any time (relaxed atomics; a snapshot is not consistent across counters).
struct alignas(64) ThreadStats {
  std::atomic<std::uint64_t> sent{0};          // load requests written
  std::atomic<std::uint64_t> ok{0};            // their successful responses (every echo)
  std::atomic<std::uint64_t> failed{0};        // their error responses
  std::atomic<std::uint64_t> pushes{0};        // incoming_event pushes
  std::atomic<std::uint64_t> other_pushes{0};  // every other push
  std::atomic<std::uint64_t> unmatched{0};     // responses to no request in flight
  std::atomic<std::uint64_t> malformed{0};     // frames that are not a JSON object
  std::atomic<std::int64_t> outstanding{0};    // load requests awaiting their response
  std::atomic<std::int64_t> live{0};           // connections open (past login)
  std::atomic<std::uint64_t> dropped{0};       // connections that ended while the bench still used them

  std::mutex mu;                                            // guards the members below
  std::vector<std::uint32_t> latencies_us;                  // request to response, in the measurement window
  std::vector<std::int64_t> sent_ns;                        // when each of latencies_us was due (steady clock)
  std::vector<std::uint32_t> push_delays_us;                // send to incoming_event, in the measurement window
  std::map<std::string, std::uint64_t> errors;              // error responses by RTM error type
  std::map<std::string, std::uint64_t> drops;               // dropped connections by reason
  std::map<std::string, std::uint64_t> other_push_actions;  // pushes other than incoming_event by action
};

// The sum over every thread.
struct Totals {
  std::uint64_t sent{0}, ok{0}, failed{0}, pushes{0}, other_pushes{0}, unmatched{0}, malformed{0}, dropped{0};
  std::int64_t outstanding{0}, live{0};
};

// One websocket client connection, living on one io_context thread; every public method may be
// called from any thread (it posts to that thread) and reports, where it takes a callback, by
// calling it once from that thread.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::io_context& ioc, ThreadStats& stats, const Control& control, const Server& server);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to 127.0.0.1, upgrades, then logs in with `token` (chatd) or has one frame echoed
  // (echo server, so that both servers have seen a message on every connection); `done` gets ""
  // once ready, else what failed. Gives up after 60 s.
  void open(std::string token, std::function<void(std::string)> done);
  // start_chat {"continuous":true}; `done` gets "" when the chat was started (chat_id() is then
  // set), else what failed. Echo connections only make up a chat id.
  void start_chat(std::function<void(std::string)> done);
  // The chat send_event goes to. Set it before loading and read it after start_chat's `done`.
  void set_chat(std::string chat_id);
  const std::string& chat_id() const { return chat_id_; }

  // Closed loop: keeps `window` requests of `kind` in flight while Control::round is `round`.
  void start_window(Kind kind, int window, std::uint64_t round);
  // Open loop: sends a request of `kind` at `first`, first + interval, ... while Control::round
  // is `round`, whether or not earlier ones were answered.
  void start_paced(Kind kind, Clock::time_point first, Clock::duration interval, std::uint64_t round);
  // Ends the connection (an abortive close: no TIME_WAIT left behind on either side).
  void close();

 private:
  using Call = std::function<void(bool ok, std::string_view payload, std::string_view error)>;

  void on_connect(boost::beast::error_code ec);
  void on_handshake(boost::beast::error_code ec);
  void finish_open(const std::string& error);
  void do_read();
  void on_read(boost::beast::error_code ec);
  void handle(std::string_view frame);
  void call(const std::string& id, std::string frame, Call done);
  void send_load(Clock::time_point stamp);
  void pace();
  bool in_round() const { return control_.round.load(std::memory_order_relaxed) == round_; }
  void write(std::string frame);
  void do_write();
  void end(const std::string& reason);
  void count_error(std::string_view payload);

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  boost::asio::steady_timer timer_;  // the open deadline, then the open-loop schedule
  ThreadStats& stats_;
  const Control& control_;
  const Server& server_;

  std::string token_;
  std::function<void(std::string)> opened_;                         // until open() reports
  std::unordered_map<std::string, Call> calls_;                     // set-up requests (login, start_chat) by request_id
  std::unordered_map<std::uint64_t, Clock::time_point> in_flight_;  // load requests: id -> stamp
  std::uint64_t next_id_{1};
  std::deque<std::string> out_;
  bool writing_{false};
  bool live_{false};     // counted in ThreadStats::live
  bool closing_{false};  // close() was called: the end is not a drop
  bool ended_{false};
  std::string last_disconnect_;  // the reason of a customer_disconnected push

  enum class Mode { idle, window, paced } mode_{Mode::idle};
  Kind kind_{Kind::ping};
  std::uint64_t round_{0};
  Clock::time_point next_at_{};
  Clock::duration interval_{};
  std::string chat_id_;
};

// The client side of the benchmark: `threads` threads, each running its own io_context.
class Fleet {
 public:
  explicit Fleet(unsigned threads);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  Control& control() { return control_; }
  unsigned threads() const { return static_cast<unsigned>(contexts_.size()); }

  struct Opened {
    std::vector<std::shared_ptr<Connection>> connections;  // in index order; null where opening failed
    std::size_t ready{0};
    std::string first_error;
    double seconds{0};
  };
  // Opens `count` connections to `server` (round robin over the threads), at most `concurrency`
  // at a time in their opening (connect, upgrade, login) so that the listen backlog never
  // overflows; `token_of(i)` is the login token of connection i. Blocks until every one is ready
  // or failed. `server` must outlive the connections.
  Opened open(const Server& server, std::size_t count, const std::function<std::string(std::size_t)>& token_of,
              std::size_t concurrency);
  // start_chat on each non-null connection; returns how many succeeded, the first error in `error`.
  std::size_t start_chats(const std::vector<std::shared_ptr<Connection>>& connections, std::string& error);
  // Closes the connections and waits (at most `timeout`) until no connection is live.
  void close(const std::vector<std::shared_ptr<Connection>>& connections, std::chrono::milliseconds timeout);

  Totals totals() const;
  // Takes (and clears) the latency and push delay samples of every thread; `sent_ns` (when not
  // null) gets, for each of latencies_us, when that request was due.
  void take_samples(std::vector<std::uint32_t>& latencies_us, std::vector<std::uint32_t>& push_delays_us,
                    std::vector<std::int64_t>* sent_ns = nullptr);
  // Takes (and clears) the error responses and dropped connections by reason.
  std::map<std::string, std::uint64_t> take_errors();
  std::map<std::string, std::uint64_t> take_drops();
  std::map<std::string, std::uint64_t> take_other_pushes();

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::unique_ptr<ThreadStats>> stats_;
  std::vector<std::thread> threads_;
  Control control_;
};

}  // namespace chatctl::bench
