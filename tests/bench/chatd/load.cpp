#include "chatd/load.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <condition_variable>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace chatctl::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

constexpr auto kOpenTimeout = std::chrono::seconds(60);
constexpr auto kConnectTimeout = std::chrono::seconds(30);
// Beast pings a connection silent for half of this, which keeps idle connections within chatd's
// ping timeout (30 s by default) the way the RTM document asks clients to (every 15 s).
constexpr auto kIdleTimeout = std::chrono::seconds(20);
constexpr std::string_view kStampPrefix = "bench ";

// ---- frames ------------------------------------------------------------------------------------

// The members of a frame's top-level object that the bench looks at, as raw JSON text (strings
// without their quotes). Scanned rather than parsed: a parse per frame would cost the client
// more CPU than the echo server spends per message, and chatd's frames are small JSON objects
// whose key order (nlohmann's, alphabetical) puts the nested payload before request_id and type.
struct Frame {
  std::string_view action, type, request_id, payload;
  int success{-1};  // -1 absent, 0 false, 1 true
};

constexpr std::size_t npos = std::string_view::npos;

std::size_t skip_space(std::string_view s, std::size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  return i;
}

// The index just after the JSON value starting at `i`, or npos when it is cut short.
std::size_t skip_value(std::string_view s, std::size_t i) {
  if (i >= s.size()) return npos;
  if (s[i] == '"') {
    for (++i; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        return i + 1;
      }
    }
    return npos;
  }
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = skip_value(s, i);
        if (i == npos) return npos;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return npos;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ') ++i;
  return i;
}

std::string_view unquote(std::string_view v) {
  return v.size() >= 2 && v.front() == '"' ? v.substr(1, v.size() - 2) : v;
}

bool scan_frame(std::string_view s, Frame& f) {
  std::size_t i = skip_space(s, 0);
  if (i >= s.size() || s[i] != '{') return false;
  i = skip_space(s, i + 1);
  if (i < s.size() && s[i] == '}') return true;
  for (;;) {
    if (i >= s.size() || s[i] != '"') return false;
    const std::size_t key_end = skip_value(s, i);
    if (key_end == npos) return false;
    const std::string_view key = s.substr(i + 1, key_end - i - 2);
    i = skip_space(s, key_end);
    if (i >= s.size() || s[i] != ':') return false;
    i = skip_space(s, i + 1);
    const std::size_t value_end = skip_value(s, i);
    if (value_end == npos) return false;
    const std::string_view value = s.substr(i, value_end - i);
    if (key == "action") {
      f.action = unquote(value);
    } else if (key == "type") {
      f.type = unquote(value);
    } else if (key == "request_id") {
      f.request_id = unquote(value);
    } else if (key == "payload") {
      f.payload = value;
    } else if (key == "success") {
      f.success = value == "true" ? 1 : 0;
    }
    i = skip_space(s, value_end);
    if (i < s.size() && s[i] == ',') {
      i = skip_space(s, i + 1);
      continue;
    }
    return i < s.size() && s[i] == '}';
  }
}

// The string after `"key":"` in `s` (the first one), or "".
std::string_view string_after(std::string_view s, std::string_view key) {
  const std::string pattern = "\"" + std::string(key) + "\":\"";
  const auto at = s.find(pattern);
  if (at == npos) return {};
  const auto start = at + pattern.size();
  const auto end = s.find('"', start);
  return end == npos ? std::string_view() : s.substr(start, end - start);
}

std::optional<std::uint64_t> to_number(std::string_view s) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::uint32_t micros(Clock::duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, std::numeric_limits<std::uint32_t>::max()));
}

}  // namespace

// ---- Connection ----------------------------------------------------------------------------------

Connection::Connection(asio::io_context& ioc, ThreadStats& stats, const Control& control, const Server& server)
    : ws_(ioc), timer_(ioc), stats_(stats), control_(control), server_(server) {}

void Connection::open(std::string token, std::function<void(std::string)> done) {
  asio::post(ws_.get_executor(),
             [self = shared_from_this(), token = std::move(token), done = std::move(done)]() mutable {
               self->token_ = std::move(token);
               self->opened_ = std::move(done);
               self->timer_.expires_after(kOpenTimeout);
               self->timer_.async_wait([self](beast::error_code ec) {
                 if (!ec && self->opened_) self->end("not ready after 60 s");
               });
               auto& stream = beast::get_lowest_layer(self->ws_);
               stream.expires_after(kConnectTimeout);
               stream.async_connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), self->server_.port),
                                    [self](beast::error_code ec) { self->on_connect(ec); });
             });
}

void Connection::on_connect(beast::error_code ec) {
  if (ended_) return;
  if (ec) {
    end("connect: " + ec.message());
    return;
  }
  auto& stream = beast::get_lowest_layer(ws_);
  stream.expires_never();  // the websocket stream keeps its own timeouts from here on
  beast::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  ws_.set_option(websocket::stream_base::timeout{kConnectTimeout, kIdleTimeout, true});
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::request_type& r) { r.set(beast::http::field::user_agent, "bench_chatd"); }));
  ws_.read_message_max(64U << 20U);  // a login response lists every chat of the customer
  ws_.async_handshake("127.0.0.1:" + std::to_string(server_.port), server_.target,
                      [self = shared_from_this()](beast::error_code e) { self->on_handshake(e); });
}

void Connection::on_handshake(beast::error_code ec) {
  if (ended_) return;
  if (ec) {
    end("upgrade: " + ec.message());
    return;
  }
  ws_.text(true);
  do_read();
  auto self = shared_from_this();
  const auto opened = [self](bool ok, std::string_view, std::string_view error) {
    self->finish_open(ok ? std::string() : "login: " + std::string(error));
  };
  if (server_.rtm) {
    call("login", R"({"request_id":"login","action":"login","payload":{"token":")" + token_ + R"("}})", opened);
  } else {
    call("login", R"({"request_id":"login","action":"ping","payload":{}})", opened);
  }
  std::string().swap(token_);
}

void Connection::finish_open(const std::string& error) {
  if (!opened_) return;
  timer_.cancel();
  auto done = std::exchange(opened_, nullptr);
  if (error.empty()) {
    live_ = true;
    stats_.live.fetch_add(1, std::memory_order_relaxed);
    done("");
  } else {
    done(error);
    end(error);
  }
}

void Connection::start_chat(std::function<void(std::string)> done) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), done = std::move(done)]() mutable {
    if (self->ended_) {
      done("the connection ended");
      return;
    }
    if (!self->server_.rtm) {
      self->chat_id_ = "ECHO";
      done("");
      return;
    }
    self->call("chat", R"({"request_id":"chat","action":"start_chat","payload":{"continuous":true}})",
               [self, done = std::move(done)](bool ok, std::string_view payload, std::string_view error) {
                 if (!ok) {
                   done("start_chat: " + std::string(error));
                   return;
                 }
                 try {
                   self->chat_id_ = nlohmann::json::parse(payload).at("chat_id").get<std::string>();
                   done("");
                 } catch (const std::exception& e) {
                   done(std::string("start_chat: no chat_id in the response: ") + e.what());
                 }
               });
  });
}

void Connection::set_chat(std::string chat_id) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), chat_id = std::move(chat_id)]() mutable {
    self->chat_id_ = std::move(chat_id);
  });
}

void Connection::start_window(Kind kind, int window, std::uint64_t round) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), kind, window, round] {
    if (self->ended_) return;
    self->mode_ = Mode::window;
    self->kind_ = kind;
    self->round_ = round;
    for (int i = 0; i < window; ++i) self->send_load(Clock::now());
  });
}

void Connection::start_paced(Kind kind, Clock::time_point first, Clock::duration interval, std::uint64_t round) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), kind, first, interval, round] {
    if (self->ended_) return;
    self->mode_ = Mode::paced;
    self->kind_ = kind;
    self->round_ = round;
    self->next_at_ = first;
    self->interval_ = interval;
    self->pace();
  });
}

void Connection::pace() {
  timer_.expires_at(next_at_);
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->ended_ || self->mode_ != Mode::paced || !self->in_round()) return;
    // Stamped with the time it was due, not the time it went out: a client running late must
    // not hide the delay (coordinated omission).
    self->send_load(self->next_at_);
    self->next_at_ += self->interval_;
    self->pace();
  });
}

void Connection::close() {
  asio::post(ws_.get_executor(), [self = shared_from_this()] {
    self->closing_ = true;
    self->end("closed by the bench");
  });
}

void Connection::do_read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void Connection::on_read(beast::error_code ec) {
  if (ec) {
    end("read: " + ec.message());
    return;
  }
  const auto data = buffer_.data();
  handle(std::string_view(static_cast<const char*>(data.data()), data.size()));
  buffer_.consume(buffer_.size());
  if (!ended_) do_read();
}

void Connection::handle(std::string_view text) {
  Frame f;
  if (!scan_frame(text, f)) {
    stats_.malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (server_.rtm && f.type == "push") {
    if (f.action == "incoming_event") {
      stats_.pushes.fetch_add(1, std::memory_order_relaxed);
      const auto stamp = string_after(f.payload, "text");
      if (stamp.starts_with(kStampPrefix)) {
        if (const auto ns = to_number(stamp.substr(kStampPrefix.size()))) {
          const auto sent = static_cast<std::int64_t>(*ns);
          if (sent >= control_.measure_from.load(std::memory_order_relaxed) &&
              sent < control_.measure_until.load(std::memory_order_relaxed)) {
            const auto delay = micros(Clock::now() - Clock::time_point(Clock::duration(sent)));
            std::lock_guard lock(stats_.mu);
            stats_.push_delays_us.push_back(delay);
          }
        }
      }
    } else {
      stats_.other_pushes.fetch_add(1, std::memory_order_relaxed);
      if (f.action == "customer_disconnected") last_disconnect_ = std::string(string_after(f.payload, "reason"));
      std::lock_guard lock(stats_.mu);
      ++stats_.other_push_actions[std::string(f.action)];
    }
    return;
  }
  const bool ok = !server_.rtm || f.success == 1;
  if (const auto id = to_number(f.request_id)) {
    const auto it = in_flight_.find(*id);
    if (it == in_flight_.end()) {
      stats_.unmatched.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const auto stamp = it->second;
    in_flight_.erase(it);
    stats_.outstanding.fetch_sub(1, std::memory_order_relaxed);
    if (ok) {
      stats_.ok.fetch_add(1, std::memory_order_relaxed);
    } else {
      stats_.failed.fetch_add(1, std::memory_order_relaxed);
      count_error(f.payload);
    }
    const auto now = Clock::now();
    const auto stamp_ns = stamp.time_since_epoch().count();
    if (stamp_ns >= control_.measure_from.load(std::memory_order_relaxed) &&
        stamp_ns < control_.measure_until.load(std::memory_order_relaxed)) {
      const auto latency = micros(now - stamp);
      std::lock_guard lock(stats_.mu);
      stats_.latencies_us.push_back(latency);
      stats_.sent_ns.push_back(stamp_ns);
    }
    if (mode_ == Mode::window && in_round()) send_load(now);
    return;
  }
  const auto it = calls_.find(std::string(f.request_id));
  if (it == calls_.end()) {
    stats_.unmatched.fetch_add(1, std::memory_order_relaxed);
    if (!ok) count_error(f.payload);
    return;
  }
  auto done = std::move(it->second);
  calls_.erase(it);
  if (ok) {
    done(true, f.payload, {});
  } else {
    const std::string error =
        std::string(string_after(f.payload, "type")) + " (" + std::string(string_after(f.payload, "message")) + ")";
    done(false, f.payload, error);
  }
}

void Connection::count_error(std::string_view payload) {
  const auto type = string_after(payload, "type");
  std::lock_guard lock(stats_.mu);
  ++stats_.errors[type.empty() ? std::string("(no type)") : std::string(type)];
}

void Connection::call(const std::string& id, std::string frame, Call done) {
  calls_[id] = std::move(done);
  write(std::move(frame));
}

void Connection::send_load(Clock::time_point stamp) {
  if (ended_) return;
  const auto id = next_id_++;
  in_flight_.emplace(id, stamp);
  stats_.outstanding.fetch_add(1, std::memory_order_relaxed);
  stats_.sent.fetch_add(1, std::memory_order_relaxed);
  std::string frame;
  frame.reserve(160);
  frame += R"({"request_id":")";
  frame += std::to_string(id);
  if (kind_ == Kind::ping) {
    frame += R"(","action":"ping","payload":{}})";
  } else {
    frame += R"(","action":"send_event","payload":{"chat_id":")";
    frame += chat_id_;
    frame += R"(","event":{"type":"message","text":")";
    frame += kStampPrefix;
    frame += std::to_string(stamp.time_since_epoch().count());
    frame += R"("}}})";
  }
  write(std::move(frame));
}

void Connection::write(std::string frame) {
  out_.push_back(std::move(frame));
  if (!writing_) do_write();
}

void Connection::do_write() {
  writing_ = true;
  ws_.async_write(asio::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->writing_ = false;
    if (ec) {
      self->end("write: " + ec.message());
      return;
    }
    self->out_.pop_front();
    if (!self->out_.empty() && !self->ended_) self->do_write();
  });
}

void Connection::end(const std::string& reason) {
  if (ended_) return;
  ended_ = true;
  mode_ = Mode::idle;
  if (live_) {
    live_ = false;
    stats_.live.fetch_sub(1, std::memory_order_relaxed);
    if (!closing_) {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard lock(stats_.mu);
      ++stats_.drops[last_disconnect_.empty() ? reason : "customer_disconnected " + last_disconnect_];
    }
  }
  stats_.outstanding.fetch_sub(static_cast<std::int64_t>(in_flight_.size()), std::memory_order_relaxed);
  in_flight_.clear();
  auto calls = std::move(calls_);
  calls_.clear();
  for (auto& [id, done] : calls) done(false, {}, reason);
  if (opened_) std::exchange(opened_, nullptr)(reason);
  timer_.cancel();
  // An abortive close: the bench opens tens of thousands of connections per run, and TIME_WAIT
  // would hold their ports for a minute.
  beast::error_code ignored;
  auto& socket = beast::get_lowest_layer(ws_).socket();
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

// ---- Fleet ---------------------------------------------------------------------------------------

Fleet::Fleet(unsigned threads) {
  threads = std::max(threads, 1U);
  for (unsigned i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    work_.push_back(asio::make_work_guard(*contexts_.back()));
    stats_.push_back(std::make_unique<ThreadStats>());
  }
  for (auto& ioc : contexts_) threads_.emplace_back([ioc = ioc.get()] { ioc->run(); });
}

Fleet::~Fleet() {
  work_.clear();
  for (auto& ioc : contexts_) ioc->stop();
  for (auto& t : threads_) t.join();
}

Fleet::Opened Fleet::open(const Server& server, std::size_t count,
                          const std::function<std::string(std::size_t)>& token_of, std::size_t concurrency) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t opening{0};
    std::size_t done{0};
    std::vector<char> ready;
    std::string first_error;
  };
  auto state = std::make_shared<State>();
  state->ready.assign(count, 0);
  Opened result;
  result.connections.resize(count);
  const auto t0 = Clock::now();
  concurrency = std::max<std::size_t>(concurrency, 1);
  for (std::size_t i = 0; i < count; ++i) {
    {
      std::unique_lock lock(state->mu);
      state->cv.wait(lock, [&] { return state->opening < concurrency; });
      ++state->opening;
    }
    const std::size_t t = i % contexts_.size();
    auto c = std::make_shared<Connection>(*contexts_[t], *stats_[t], control_, server);
    result.connections[i] = c;
    c->open(token_of(i), [state, i](const std::string& error) {
      std::lock_guard lock(state->mu);
      --state->opening;
      ++state->done;
      if (error.empty()) {
        state->ready[i] = 1;
      } else if (state->first_error.empty()) {
        state->first_error = error;
      }
      state->cv.notify_all();
    });
  }
  std::unique_lock lock(state->mu);
  state->cv.wait(lock, [&] { return state->done == count; });
  for (std::size_t i = 0; i < count; ++i) {
    if (state->ready[i] != 0) {
      ++result.ready;
    } else {
      result.connections[i].reset();
    }
  }
  result.first_error = state->first_error;
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

std::size_t Fleet::start_chats(const std::vector<std::shared_ptr<Connection>>& connections, std::string& error) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t done{0}, ok{0};
    std::string first_error;
  };
  auto state = std::make_shared<State>();
  std::size_t expected = 0;
  for (const auto& c : connections) {
    if (!c) continue;
    ++expected;
    c->start_chat([state](const std::string& e) {
      std::lock_guard lock(state->mu);
      ++state->done;
      if (e.empty()) {
        ++state->ok;
      } else if (state->first_error.empty()) {
        state->first_error = e;
      }
      state->cv.notify_all();
    });
  }
  std::unique_lock lock(state->mu);
  state->cv.wait(lock, [&] { return state->done == expected; });
  error = state->first_error;
  return state->ok;
}

void Fleet::close(const std::vector<std::shared_ptr<Connection>>& connections, std::chrono::milliseconds timeout) {
  for (const auto& c : connections) {
    if (c) c->close();
  }
  const auto deadline = Clock::now() + timeout;
  while (totals().live > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

Totals Fleet::totals() const {
  Totals t;
  constexpr auto r = std::memory_order_relaxed;
  for (const auto& s : stats_) {
    t.sent += s->sent.load(r);
    t.ok += s->ok.load(r);
    t.failed += s->failed.load(r);
    t.pushes += s->pushes.load(r);
    t.other_pushes += s->other_pushes.load(r);
    t.unmatched += s->unmatched.load(r);
    t.malformed += s->malformed.load(r);
    t.dropped += s->dropped.load(r);
    t.outstanding += s->outstanding.load(r);
    t.live += s->live.load(r);
  }
  return t;
}

void Fleet::take_samples(std::vector<std::uint32_t>& latencies_us, std::vector<std::uint32_t>& push_delays_us,
                         std::vector<std::int64_t>* sent_ns) {
  latencies_us.clear();
  push_delays_us.clear();
  if (sent_ns) sent_ns->clear();
  for (const auto& s : stats_) {
    std::lock_guard lock(s->mu);
    latencies_us.insert(latencies_us.end(), s->latencies_us.begin(), s->latencies_us.end());
    push_delays_us.insert(push_delays_us.end(), s->push_delays_us.begin(), s->push_delays_us.end());
    if (sent_ns) sent_ns->insert(sent_ns->end(), s->sent_ns.begin(), s->sent_ns.end());
    s->latencies_us.clear();
    s->push_delays_us.clear();
    s->sent_ns.clear();
  }
}

std::map<std::string, std::uint64_t> Fleet::take_errors() {
  std::map<std::string, std::uint64_t> all;
  for (const auto& s : stats_) {
    std::lock_guard lock(s->mu);
    for (const auto& [k, v] : s->errors) all[k] += v;
    s->errors.clear();
  }
  return all;
}

std::map<std::string, std::uint64_t> Fleet::take_drops() {
  std::map<std::string, std::uint64_t> all;
  for (const auto& s : stats_) {
    std::lock_guard lock(s->mu);
    for (const auto& [k, v] : s->drops) all[k] += v;
    s->drops.clear();
  }
  return all;
}

std::map<std::string, std::uint64_t> Fleet::take_other_pushes() {
  std::map<std::string, std::uint64_t> all;
  for (const auto& s : stats_) {
    std::lock_guard lock(s->mu);
    for (const auto& [k, v] : s->other_push_actions) all[k] += v;
    s->other_push_actions.clear();
  }
  return all;
}

}  // namespace chatctl::bench
