#include "server/http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <sstream>
#include <string_view>
#include <type_traits>

#include "core/version.hpp"
#include "server/ws_session.hpp"

namespace chatctl::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::uint32_t kHeaderLimit = 8 * 1024;
constexpr std::uint64_t kBodyLimit = 16 * 1024;
constexpr std::chrono::seconds kReadTimeout{30};
constexpr std::chrono::seconds kWriteTimeout{30};
constexpr std::chrono::seconds kTlsShutdownTimeout{5};
constexpr const char* kTextPlain = "text/plain; charset=utf-8";
constexpr const char* kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";

template <class Stream>
Stream make_stream(tcp::socket socket, Hub& hub) {
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    return Stream(std::move(socket), *hub.tls());
  } else {
    return Stream(std::move(socket));
  }
}

std::string peer_of(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "?";
  std::ostringstream out;
  out << endpoint;
  return out.str();
}

struct Answer {
  http::status status{http::status::ok};
  std::string body;
  const char* content_type{kTextPlain};
};

// /readyz and /metrics, whose service calls may wait.
Answer answer(const std::shared_ptr<Hub>& hub, HttpRoute route) {
  try {
    if (route == HttpRoute::readyz) {
      const bool ready = hub->service().ready();
      return {ready ? http::status::ok : http::status::service_unavailable, ready ? "ok" : "not ready", kTextPlain};
    }
    std::string body = hub->service().metrics();
    if (!body.empty() && body.back() != '\n') body += '\n';
    body += hub->metrics_text();
    return {http::status::ok, std::move(body), kPrometheusText};
  } catch (const std::exception& e) {
    spdlog::error("chatd: {}: {}", route == HttpRoute::readyz ? "/readyz" : "/metrics", e.what());
    return {http::status::internal_server_error, "internal error\n", kTextPlain};
  }
}

HttpRoute route_of(std::string_view target) {
  const auto path = target.substr(0, target.find('?'));
  if (path == "/livez") return HttpRoute::livez;
  if (path == "/readyz") return HttpRoute::readyz;
  if (path == "/metrics") return HttpRoute::metrics;
  return HttpRoute::other;
}

}  // namespace

template <class Stream>
HttpSession<Stream>::HttpSession(tcp::socket socket, std::shared_ptr<Hub> hub)
    : stream_(make_stream<Stream>(std::move(socket), *hub)),
      executor_(stream_.get_executor()),
      hub_(std::move(hub)),
      token_(hub_->counters()),
      peer_(peer_of(beast::get_lowest_layer(stream_).socket())) {}

template <class Stream>
HttpSession<Stream>::~HttpSession() {
  hub_->remove(this);
}

template <class Stream>
template <class F>
void HttpSession<Stream>::guarded(const char* where, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    spdlog::error("chatd: {}: HTTP {}: {}", peer_, where, e.what());
    abort();
  } catch (...) {
    spdlog::error("chatd: {}: HTTP {}: unknown exception", peer_, where);
    abort();
  }
}

template <class Stream>
void HttpSession<Stream>::run() {
  asio::dispatch(executor_, [self = this->shared_from_this()] { self->guarded("start", [&] { self->start(); }); });
}

template <class Stream>
void HttpSession<Stream>::start() {
  if (!hub_->add(this, this->weak_from_this())) return;  // shutting down: dropping *this closes the socket
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    beast::get_lowest_layer(stream_).expires_after(kReadTimeout);
    stream_.async_handshake(asio::ssl::stream_base::server,
                            beast::bind_front_handler(&HttpSession::on_handshake, this->shared_from_this()));
  } else {
    do_read();
  }
}

template <class Stream>
void HttpSession<Stream>::stop() {
  asio::post(executor_, [self = this->shared_from_this()] { self->abort(); });
}

template <class Stream>
void HttpSession<Stream>::abort() {
  if (upgraded_) return;  // the connection is the WsSession's now
  beast::get_lowest_layer(stream_).close();
}

template <class Stream>
void HttpSession<Stream>::on_handshake(boost::system::error_code ec) {
  guarded("TLS handshake", [&] {
    if (ec) {
      spdlog::debug("chatd: {}: TLS handshake failed: {}", peer_, ec.message());
      return;
    }
    do_read();
  });
}

template <class Stream>
void HttpSession<Stream>::do_read() {
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(kBodyLimit);
  beast::get_lowest_layer(stream_).expires_after(kReadTimeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::on_read, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_read(boost::system::error_code ec, std::size_t /*bytes*/) {
  guarded("read", [&] {
    if (ec == http::error::end_of_stream) return do_close();
    if (ec) {
      auto status = http::status::bad_request;
      const char* body = "bad request\n";
      if (ec == http::error::header_limit) {
        status = http::status::request_header_fields_too_large;
        body = "request header fields too large\n";
      } else if (ec == http::error::body_limit) {
        status = http::status::payload_too_large;
        body = "payload too large\n";
      } else if (ec == http::error::partial_message ||
                 ec.category() != http::make_error_code(http::error::bad_method).category()) {
        spdlog::debug("chatd: {}: HTTP read: {}", peer_, ec.message());
        return;
      }
      spdlog::debug("chatd: {}: bad HTTP request: {}", peer_, ec.message());
      hub_->counters().count(HttpRoute::other);
      return send(make_response(status, 11, false, false, body, kTextPlain));
    }
    if (beast::websocket::is_upgrade(parser_->get())) return upgrade();
    handle(parser_->get());
  });
}

template <class Stream>
void HttpSession<Stream>::upgrade() {
  hub_->counters().count(HttpRoute::websocket);
  std::string refusal;
  if (hub_->stopping()) {
    refusal = "service_temporarily_unavailable";
  } else {
    const auto target = parser_->get().target();
    refusal = hub_->service().check_endpoint(std::string_view(target.data(), target.size()));
  }
  beast::get_lowest_layer(stream_).expires_never();
  upgraded_ = true;
  auto ws = std::make_shared<WsSession<Stream>>(std::move(stream_), hub_, std::move(token_), peer_);
  ws->run(parser_->release(), std::move(refusal));
}

template <class Stream>
void HttpSession<Stream>::handle(const Request& request) {
  const auto target = request.target();
  const HttpRoute route = route_of(std::string_view(target.data(), target.size()));
  hub_->counters().count(route);
  const bool head = request.method() == http::verb::head;
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  if (route == HttpRoute::other) {
    return send(make_response(http::status::not_found, version, keep_alive, head, "not found\n", kTextPlain));
  }
  if (request.method() != http::verb::get && !head) {
    auto res = make_response(http::status::method_not_allowed, version, keep_alive, false, "method not allowed\n",
                             kTextPlain);
    res.set(http::field::allow, "GET, HEAD");
    return send(std::move(res));
  }
  if (route == HttpRoute::livez) {
    return send(make_response(http::status::ok, version, keep_alive, head, "ok", kTextPlain));
  }
  run_blocking(route, version, keep_alive, head);
}

template <class Stream>
void HttpSession<Stream>::run_blocking(HttpRoute route, unsigned version, bool keep_alive, bool head) {
  asio::post(hub_->blocking(), [self = this->shared_from_this(), route, version, keep_alive, head]() noexcept {
    try {
      asio::post(self->executor_,
                 [self, a = answer(self->hub_, route), version, keep_alive, head]() mutable {
                   self->guarded("respond", [&] {
                     self->send(self->make_response(a.status, version, keep_alive, head, std::move(a.body),
                                                    a.content_type));
                   });
                 });
    } catch (const std::exception& e) {
      spdlog::error("chatd: {}: HTTP respond: {}", self->peer_, e.what());
    }
  });
}

template <class Stream>
typename HttpSession<Stream>::Response HttpSession<Stream>::make_response(http::status status, unsigned version,
                                                                          bool keep_alive, bool head, std::string body,
                                                                          const char* content_type) const {
  Response res{status, version};
  res.set(http::field::server, std::string("chatctl/") + core::kVersion);
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keep_alive && !hub_->stopping());
  res.body() = std::move(body);
  res.prepare_payload();
  if (head) res.body().clear();  // Content-Length stays that of the GET answer
  return res;
}

template <class Stream>
void HttpSession<Stream>::send(Response response) {
  response_ = std::move(response);
  beast::get_lowest_layer(stream_).expires_after(kWriteTimeout);
  http::async_write(stream_, *response_,
                    beast::bind_front_handler(&HttpSession::on_write, this->shared_from_this(), response_->need_eof()));
}

template <class Stream>
void HttpSession<Stream>::on_write(bool close, boost::system::error_code ec, std::size_t /*bytes*/) {
  guarded("write", [&] {
    response_.reset();
    if (ec) {
      spdlog::debug("chatd: {}: HTTP write: {}", peer_, ec.message());
      return;
    }
    if (close) return do_close();
    do_read();
  });
}

template <class Stream>
void HttpSession<Stream>::do_close() {
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    beast::get_lowest_layer(stream_).expires_after(kTlsShutdownTimeout);
    stream_.async_shutdown([self = this->shared_from_this()](boost::system::error_code) {});
  } else {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
}

template class HttpSession<PlainStream>;
template class HttpSession<TlsStream>;

}  // namespace chatctl::server
