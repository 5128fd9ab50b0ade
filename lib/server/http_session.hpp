#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>
#include <optional>
#include <string>

#include "server/hub.hpp"

namespace chatctl::server {

// One HTTP connection, plain or TLS (Stream is PlainStream or TlsStream), until it upgrades.
//
// Reads requests one at a time (headers at most 8 KiB, bodies 16 KiB, 30 s to read each; an
// oversized or malformed request gets 400/413/431 and the connection is closed), keeps the
// connection alive between them, and answers:
//   GET /livez    200 "ok" while the process serves;
//   GET /readyz   200 "ok" when Service::ready(), else 503 "not ready";
//   GET /metrics  Service::metrics() followed by the server's counters (Prometheus text);
//   anything else 404 (405 for another method on those three paths).
// HEAD is answered like GET without a body. ready() and metrics() run on the hub's blocking
// executor, never on an I/O thread.
//
// A websocket upgrade request (any path) is checked with Service::check_endpoint and the
// connection handed to a WsSession, which either serves it or refuses it with one
// customer_disconnected push.
//
// Lives on its connection's executor (a strand, or the io_context when one thread runs it); held
// by its pending operations (shared_ptr). Registered with the hub: stop() closes the connection
// (shutdown does not wait for idle keep-alive clients), unless it went to a WsSession meanwhile.
// No exception leaves a completion handler: one is logged and the connection closed.
template <class Stream>
class HttpSession final : public Stoppable, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(boost::asio::ip::tcp::socket socket, std::shared_ptr<Hub> hub);
  ~HttpSession() override;
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // Starts the session (the TLS handshake first, with TLS). Call once.
  void run();
  void stop() override;

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  void start();
  void on_handshake(boost::system::error_code ec);
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t bytes);
  void handle(const Request& request);
  void upgrade();
  void run_blocking(HttpRoute route, unsigned version, bool keep_alive, bool head);
  Response make_response(boost::beast::http::status status, unsigned version, bool keep_alive, bool head,
                         std::string body, const char* content_type) const;
  void send(Response response);
  void on_write(bool close, boost::system::error_code ec, std::size_t bytes);
  void do_close();
  void abort();
  template <class F>
  void guarded(const char* where, F&& f) noexcept;

  Stream stream_;
  // stream_'s executor, kept: stop() comes from another thread, maybe after upgrade() moved
  // stream_ away (a moved-from stream has none).
  boost::asio::any_io_executor executor_;
  bool upgraded_{false};  // stream_ went to a WsSession; on executor_
  std::shared_ptr<Hub> hub_;
  ConnectionToken token_;
  std::string peer_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::optional<Response> response_;  // while it is written
};

extern template class HttpSession<PlainStream>;
extern template class HttpSession<TlsStream>;

}  // namespace chatctl::server
