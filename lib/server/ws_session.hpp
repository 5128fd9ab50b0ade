#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "rtm/service.hpp"
#include "server/hub.hpp"

namespace chatctl::server {

// A flat_buffer as the DynamicBuffer of websocket reads, which reports room for only
// kIdleReadBytes while it is empty. Beast prepares its read-size hint (1536 bytes) before any data
// arrives, so every idle connection would hold that much; this way it holds kIdleReadBytes, and a
// longer message gets the rest of its room from its frame header once it arrives.
class IdleReadBuffer {
 public:
  using const_buffers_type = boost::beast::flat_buffer::const_buffers_type;
  using mutable_buffers_type = boost::beast::flat_buffer::mutable_buffers_type;

  static constexpr std::size_t kIdleReadBytes = 256;  // most RTM requests fit

  explicit IdleReadBuffer(boost::beast::flat_buffer& buffer) : buffer_(&buffer) {}

  std::size_t size() const { return buffer_->size(); }
  std::size_t max_size() const { return buffer_->size() == 0 ? kIdleReadBytes : buffer_->max_size(); }
  std::size_t capacity() const { return buffer_->capacity(); }
  const_buffers_type data() const { return buffer_->data(); }
  mutable_buffers_type data() { return buffer_->data(); }
  mutable_buffers_type prepare(std::size_t n) { return buffer_->prepare(n); }
  void commit(std::size_t n) { buffer_->commit(n); }
  void consume(std::size_t n) { buffer_->consume(n); }

 private:
  boost::beast::flat_buffer* buffer_;
};

// One websocket connection (Stream is PlainStream or TlsStream) and the rtm::Sink the service
// writes to it through.
//
// Reading: messages up to Limits::max_frame_bytes (a larger one closes the connection with 1009);
// text goes to Service::receive, binary to Service::receive_binary, ping and pong control frames
// to Service::pinged (Beast answers pings itself). Beast's suggested server timeouts apply, without
// keep-alive pings: the service enforces the RTM ping timeout.
//
// Writing: frames from send() are queued and written one at a time. The queue holds at most
// Limits::max_queued_bytes (a single frame larger than that is let through when nothing else is
// queued); a send beyond it drops the client: the TCP connection is closed at once and counted in
// slow_clients_dropped, so a client that does not read costs a bounded amount of memory.
//
// Ending: however the connection ends (either side closes, an error, a timeout, a drop, or the
// io_context is stopped at shutdown), Service::disconnected is called exactly once for a client
// that Service::connect returned, from the strand (or, after a stopped io_context, from the thread
// destroying it).
//
// Threads and lifetime: lives on its connection's strand, held by its pending operations. The
// service holds only a Sink that refers to the session weakly, so a send or close after the
// connection ended, or after the server has stopped, does nothing.
//
// Memory: an idle plain connection holds about 4 KiB (mostly Beast's stream state): the read
// buffer is IdleReadBuffer::kIdleReadBytes until a message arrives and is freed after it, the write
// queue is released whenever it drains, permessage-deflate stays off. Over TLS, Asio's ssl::stream
// and OpenSSL add about 75 KiB per connection (fixed record buffers on both sides of a BIO pair).
template <class Stream>
class WsSession final : public Stoppable, public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  WsSession(Stream stream, std::shared_ptr<Hub> hub, ConnectionToken token, std::string peer);
  ~WsSession() override;
  WsSession(const WsSession&) = delete;
  WsSession& operator=(const WsSession&) = delete;

  // Answers the upgrade `request`. With an empty `refusal` the connection is then served; else
  // only the push {"action":"customer_disconnected","type":"push","payload":{"reason":refusal}} is
  // sent before closing (1000), and the service never sees the connection. Call once.
  void run(Request request, std::string refusal);

  // The Sink side; any thread, non-blocking. send() queues one text frame; close() closes after
  // the frames already queued, with 1001 when `going_away`, else 1000; frames sent after it are
  // dropped. Both are idempotent after the end.
  void send(std::string text);
  void close(bool going_away);

  // Does nothing: at shutdown the service closes the connections it knows (Service::shutdown),
  // and an upgrade that completes after shutdown began is closed (1001) without reaching it.
  void stop() override;

 private:
  enum class State { handshake, open, closing, closed };

  void on_accept(boost::system::error_code ec);
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t bytes);
  void enqueue(std::string text);
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t bytes);
  void start_close(bool going_away);
  void on_close(boost::system::error_code ec);
  void drop_slow_client();
  void abort();
  void release_queue();
  void finish();
  template <class F>
  void guarded(const char* where, F&& f) noexcept;

  boost::beast::websocket::stream<Stream> ws_;
  std::shared_ptr<Hub> hub_;
  ConnectionToken token_;
  std::string peer_;
  std::shared_ptr<rtm::Client> client_;  // between Service::connect and Service::disconnected
  boost::beast::flat_buffer buffer_;
  IdleReadBuffer read_buffer_{buffer_};
  std::vector<std::string> queue_;  // frames waiting: queue_[head_] onwards
  std::size_t head_{0};
  std::string in_flight_;          // the frame being written
  std::size_t queued_bytes_{0};    // queue_ and in_flight_
  State state_{State::handshake};
  bool writing_{false};
  bool going_away_{false};
  bool opened_{false};  // counted in ws_open
  bool ended_{false};   // finish() ran
};

extern template class WsSession<PlainStream>;
extern template class WsSession<TlsStream>;

}  // namespace chatctl::server
