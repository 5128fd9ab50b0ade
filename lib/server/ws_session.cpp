#include "server/ws_session.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <utility>

#include "core/version.hpp"

namespace chatctl::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

// How far the head of the write queue may advance before the written slots are erased.
constexpr std::size_t kCompactAfter = 64;

// The session whose read handler this thread is running (on that session's strand), if any: a
// frame the service answers at once (ping, a malformed request) is queued there and then instead of
// being posted back to the same strand.
thread_local const void* reading_session = nullptr;

class ReadingSession {
 public:
  explicit ReadingSession(const void* session) : previous_(std::exchange(reading_session, session)) {}
  ~ReadingSession() { reading_session = previous_; }
  ReadingSession(const ReadingSession&) = delete;
  ReadingSession& operator=(const ReadingSession&) = delete;

 private:
  const void* previous_;
};

// What the service holds for a connection: a weak reference, used only while the server's gate
// is open, so the service never keeps a session (or the io_context it belongs to) alive.
template <class Stream>
class SessionSink final : public rtm::Sink {
 public:
  SessionSink(std::weak_ptr<WsSession<Stream>> session, std::shared_ptr<Gate> gate)
      : session_(std::move(session)), gate_(std::move(gate)) {}

  void send(std::string text) override {
    try {
      gate_->pass([&] {
        if (auto s = session_.lock()) s->send(std::move(text));
      });
    } catch (const std::exception& e) {
      spdlog::error("chatd: queueing a frame: {}", e.what());
    }
  }

  void close(bool going_away) override {
    try {
      gate_->pass([&] {
        if (auto s = session_.lock()) s->close(going_away);
      });
    } catch (const std::exception& e) {
      spdlog::error("chatd: closing a connection: {}", e.what());
    }
  }

 private:
  std::weak_ptr<WsSession<Stream>> session_;
  std::shared_ptr<Gate> gate_;
};

std::string refusal_frame(const std::string& reason) {
  const nlohmann::ordered_json push = {
      {"action", "customer_disconnected"}, {"type", "push"}, {"payload", {{"reason", reason}}}};
  return push.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

template <class Stream>
WsSession<Stream>::WsSession(Stream stream, std::shared_ptr<Hub> hub, ConnectionToken token, std::string peer)
    : ws_(std::move(stream)), hub_(std::move(hub)), token_(std::move(token)), peer_(std::move(peer)) {}

template <class Stream>
WsSession<Stream>::~WsSession() {
  // Only when the io_context was stopped with this connection still open: its handlers are being
  // destroyed without running.
  try {
    finish();
  } catch (...) {
  }
  hub_->remove(this);
}

template <class Stream>
template <class F>
void WsSession<Stream>::guarded(const char* where, F&& f) noexcept {
  try {
    f();
    return;
  } catch (const std::exception& e) {
    spdlog::error("chatd: {}: websocket {}: {}", peer_, where, e.what());
  } catch (...) {
    spdlog::error("chatd: {}: websocket {}: unknown exception", peer_, where);
  }
  try {
    abort();
    finish();
  } catch (...) {
  }
}

template <class Stream>
void WsSession<Stream>::run(Request request, std::string refusal) {
  asio::dispatch(ws_.get_executor(), [self = this->shared_from_this(), request = std::move(request),
                                      refusal = std::move(refusal)]() mutable {
    self->guarded("upgrade", [&] {
      if (!self->hub_->add(self.get(), self->weak_from_this()) && refusal.empty()) {
        refusal = "service_temporarily_unavailable";
      }
      auto& ws = self->ws_;
      // Silence is the service's to judge (chatd_login_timeout_ms, chatd_ping_timeout_ms, with
      // customer_disconnected): Beast's own idle timeout (300 s) would cut a connection without
      // a word when those are set longer.
      auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
      timeouts.idle_timeout = websocket::stream_base::none();
      timeouts.keep_alive_pings = false;
      ws.set_option(timeouts);
      ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(http::field::server, std::string("chatctl/") + core::kVersion);
      }));
      ws.read_message_max(self->hub_->limits().max_frame_bytes);
      ws.auto_fragment(false);
      ws.control_callback([raw = self.get()](websocket::frame_type kind, beast::string_view) {
        if (kind == websocket::frame_type::close || raw->state_ != State::open || !raw->client_) return;
        try {
          raw->hub_->service().pinged(raw->client_);
        } catch (const std::exception& e) {
          spdlog::error("chatd: {}: ping: {}", raw->peer_, e.what());
        }
      });
      if (!refusal.empty()) {
        self->hub_->counters().ws_refused.fetch_add(1, Counters::kRelaxed);
        spdlog::debug("chatd: {}: refused {}: {}", self->peer_, std::string(request.target()), refusal);
        self->queue_.push_back(refusal_frame(refusal));
        self->queued_bytes_ = self->queue_.back().size();
        self->state_ = State::closing;
      }
      ws.async_accept(request, beast::bind_front_handler(&WsSession::on_accept, self));
    });
  });
}

template <class Stream>
void WsSession<Stream>::on_accept(boost::system::error_code ec) {
  guarded("upgrade", [&] {
    if (ec) {
      spdlog::debug("chatd: {}: websocket handshake failed: {}", peer_, ec.message());
      return finish();
    }
    opened_ = true;
    auto& counters = hub_->counters();
    counters.ws_open.fetch_add(1, Counters::kRelaxed);
    counters.ws_total.fetch_add(1, Counters::kRelaxed);
    if (state_ == State::closing) return do_write();  // the refusal
    state_ = State::open;
    if (hub_->stopping()) return start_close(true);
    auto sink = std::make_shared<SessionSink<Stream>>(this->weak_from_this(), hub_->gate());
    client_ = hub_->service().connect(std::move(sink), peer_);
    if (!client_) return start_close(false);
    spdlog::debug("chatd: {}: websocket open", peer_);
    // A connect that raced with Service::shutdown may have been missed by it.
    if (hub_->stopping()) close(true);
    do_read();
  });
}

// A message is read frame by frame (read_some) rather than with async_read: between the pieces of
// an async_read, a close under way can take over the stream and leave it mid-frame for the next
// piece (an assertion in Beast 1.81). Here the next piece is only asked for while the session is
// open, which a close ends first, on the same strand.
template <class Stream>
void WsSession<Stream>::do_read() {
  ws_.async_read_some(read_buffer_, hub_->limits().max_frame_bytes,
                      beast::bind_front_handler(&WsSession::on_read, this->shared_from_this()));
}

template <class Stream>
void WsSession<Stream>::on_read(boost::system::error_code ec, std::size_t bytes) {
  guarded("read", [&] {
    if (ec) {
      if (ec == websocket::error::message_too_big) {
        hub_->counters().oversized_messages.fetch_add(1, Counters::kRelaxed);
        spdlog::info("chatd: {}: message over {} bytes: closed (1009)", peer_, hub_->limits().max_frame_bytes);
      } else {
        spdlog::debug("chatd: {}: websocket ended: {}", peer_, ec.message());
      }
      return finish();
    }
    auto& counters = hub_->counters();
    counters.bytes_in.fetch_add(bytes, Counters::kRelaxed);
    if (state_ != State::open) return;  // Beast's close operation reads the rest
    if (!ws_.is_message_done()) return do_read();
    counters.frames_in.fetch_add(1, Counters::kRelaxed);
    const bool text = ws_.got_text();
    std::string frame = text ? beast::buffers_to_string(buffer_.data()) : std::string();
    buffer_.clear();
    buffer_.shrink_to_fit();
    {
      ReadingSession on_strand(this);
      if (text) {
        hub_->service().receive(client_, std::move(frame));
      } else {
        hub_->service().receive_binary(client_);
      }
    }
    do_read();
  });
}

template <class Stream>
void WsSession<Stream>::send(std::string text) {
  // Already on this session's strand: queued at once, unless that would drop the client, which
  // ends the connection and must not happen inside the service's call (it holds the client).
  if (reading_session == this && state_ == State::open &&
      (queued_bytes_ == 0 || queued_bytes_ + text.size() <= hub_->limits().max_queued_bytes)) {
    return enqueue(std::move(text));
  }
  asio::post(ws_.get_executor(), [self = this->shared_from_this(), text = std::move(text)]() mutable {
    self->guarded("send", [&] { self->enqueue(std::move(text)); });
  });
}

template <class Stream>
void WsSession<Stream>::close(bool going_away) {
  asio::post(ws_.get_executor(), [self = this->shared_from_this(), going_away] {
    self->guarded("close", [&] { self->start_close(going_away); });
  });
}

template <class Stream>
void WsSession<Stream>::stop() {}

template <class Stream>
void WsSession<Stream>::enqueue(std::string text) {
  if (state_ != State::open) return;
  const std::size_t max = hub_->limits().max_queued_bytes;
  if (queued_bytes_ > 0 && queued_bytes_ + text.size() > max) return drop_slow_client();
  queued_bytes_ += text.size();
  queue_.push_back(std::move(text));
  if (!writing_) do_write();
}

template <class Stream>
void WsSession<Stream>::do_write() {
  // Moved out of the queue, so that growing the queue never moves the characters being written (a
  // short string keeps them inside the string object).
  in_flight_ = std::move(queue_[head_]);
  if (++head_ == queue_.size()) {
    std::vector<std::string>().swap(queue_);
    head_ = 0;
  } else if (head_ >= kCompactAfter && head_ * 2 >= queue_.size()) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  writing_ = true;
  ws_.text(true);
  ws_.async_write(asio::buffer(in_flight_),
                  beast::bind_front_handler(&WsSession::on_write, this->shared_from_this()));
}

template <class Stream>
void WsSession<Stream>::on_write(boost::system::error_code ec, std::size_t bytes) {
  guarded("write", [&] {
    writing_ = false;
    const std::size_t written = in_flight_.size();
    std::string().swap(in_flight_);
    if (ec || state_ == State::closed) {
      if (ec) {
        spdlog::debug("chatd: {}: websocket write: {}", peer_, ec.message());
        abort();
      }
      return finish();
    }
    queued_bytes_ -= written;
    auto& counters = hub_->counters();
    counters.frames_out.fetch_add(1, Counters::kRelaxed);
    counters.bytes_out.fetch_add(bytes, Counters::kRelaxed);
    if (head_ < queue_.size()) return do_write();
    if (state_ == State::closing) {
      ws_.async_close(going_away_ ? websocket::close_code::going_away : websocket::close_code::normal,
                      beast::bind_front_handler(&WsSession::on_close, this->shared_from_this()));
    }
  });
}

template <class Stream>
void WsSession<Stream>::start_close(bool going_away) {
  if (state_ != State::open) return;
  state_ = State::closing;
  going_away_ = going_away;
  if (writing_) return;  // on_write closes once the queue is written
  ws_.async_close(going_away ? websocket::close_code::going_away : websocket::close_code::normal,
                  beast::bind_front_handler(&WsSession::on_close, this->shared_from_this()));
}

template <class Stream>
void WsSession<Stream>::on_close(boost::system::error_code ec) {
  guarded("close", [&] {
    if (ec) {
      spdlog::debug("chatd: {}: websocket close: {}", peer_, ec.message());
      abort();
    }
    finish();
  });
}

template <class Stream>
void WsSession<Stream>::drop_slow_client() {
  hub_->counters().slow_clients_dropped.fetch_add(1, Counters::kRelaxed);
  spdlog::warn("chatd: {}: dropped: more than {} bytes queued for a client that does not read", peer_,
               hub_->limits().max_queued_bytes);
  abort();
  finish();
}

template <class Stream>
void WsSession<Stream>::abort() {
  beast::get_lowest_layer(ws_).close();
}

template <class Stream>
void WsSession<Stream>::release_queue() {
  std::vector<std::string>().swap(queue_);  // not in_flight_: its write has yet to complete
  head_ = 0;
  queued_bytes_ = 0;
}

template <class Stream>
void WsSession<Stream>::finish() {
  if (ended_) return;
  ended_ = true;
  state_ = State::closed;
  if (opened_) hub_->counters().ws_open.fetch_sub(1, Counters::kRelaxed);
  release_queue();  // buffer_ is left alone: a read may still be filling it
  if (auto client = std::move(client_)) {
    try {
      hub_->service().disconnected(client);
    } catch (const std::exception& e) {
      spdlog::error("chatd: {}: disconnected: {}", peer_, e.what());
    }
  }
}

template class WsSession<PlainStream>;
template class WsSession<TlsStream>;

}  // namespace chatctl::server
