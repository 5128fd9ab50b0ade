#include "webhook/http.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>

#include <charconv>
#include <optional>

#include "core/error.hpp"
#include "core/version.hpp"

namespace chatctl::webhook {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using core::Error;
using core::ErrorKind;

constexpr std::size_t kMaxAnswerBody = 64 * 1024;

}  // namespace

Url parse_url(const std::string& text) {
  Url u;
  std::string_view s = text;
  const auto bad = [&](const std::string& why) { throw Error(ErrorKind::data, "URL \"" + text + "\": " + why); };
  if (s.substr(0, 7) == "http://") {
    s.remove_prefix(7);
  } else if (s.substr(0, 8) == "https://") {
    u.tls = true;
    s.remove_prefix(8);
  } else {
    bad("must start with http:// or https://");
  }
  for (const char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) bad("contains a space or a control character");
  }
  if (text.find('#') != std::string::npos) bad("has a fragment (#...), which HTTP never sends");
  const auto slash = s.find_first_of("/?");
  std::string_view authority = s.substr(0, slash);
  if (slash != std::string_view::npos) {
    u.target = std::string(s.substr(slash));
    if (u.target.front() == '?') u.target.insert(u.target.begin(), '/');
  }
  if (authority.find('@') != std::string_view::npos) bad("user names or passwords in the URL are not supported");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) bad("has an unclosed [ in its host");
    u.host = std::string(authority.substr(1, close - 1));
    const auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') bad("has text after its IPv6 address");
      port = rest.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) bad("has no host");
  if (port.empty()) {
    u.port = u.tls ? "443" : "80";
  } else {
    int p = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || ptr != port.data() + port.size() || p < 1 || p > 65535) bad("has a bad port");
    u.port = std::string(port);
  }
  return u;
}

struct HttpClient::Impl {
  explicit Impl(std::chrono::milliseconds t) : timeout(t), tls_ctx(ssl::context::tls_client) {
    tls_ctx.set_default_verify_paths();
    tls_ctx.set_verify_mode(ssl::verify_peer);
  }

  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  ssl::context tls_ctx;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  std::string connected_to;  // "tls|host|port" of the open connection; empty when none
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  void close() {
    beast::error_code ignored;
    if (plain) plain->socket().close(ignored);
    if (secure) beast::get_lowest_layer(*secure).socket().close(ignored);
    plain.reset();
    secure.reset();
    connected_to.clear();
    buffer.clear();
  }

  // Runs the io_context until the pending operation completes.
  void wait() {
    ioc.restart();
    ioc.run();
  }

  std::string connect(const Url& url) {
    close();
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    tcp::resolver::results_type endpoints;
    bool resolved = false;
    resolver.async_resolve(url.host, url.port, [&](beast::error_code e, tcp::resolver::results_type r) {
      ec = e;
      endpoints = std::move(r);
      resolved = true;
    });
    ioc.restart();
    ioc.run_for(timeout);
    if (!resolved) {
      resolver.cancel();
      wait();
      return "resolving " + url.host + " timed out";
    }
    if (ec) return "cannot resolve " + url.host + ": " + ec.message();
    if (url.tls) {
      secure.emplace(ioc, tls_ctx);
      // SSL_set_tlsext_host_name, without its macro's C cast.
      if (SSL_ctrl(secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   const_cast<char*>(url.host.c_str())) != 1) {
        return "cannot set the TLS server name";
      }
      secure->set_verify_callback(ssl::host_name_verification(url.host));
    } else {
      plain.emplace(ioc);
    }
    lowest().expires_after(timeout);
    lowest().async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    wait();
    if (ec) return "cannot connect to " + url.host + ":" + url.port + ": " + ec.message();
    if (secure) {
      lowest().expires_after(timeout);
      secure->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
      wait();
      if (ec) return "TLS handshake with " + url.host + " failed: " + ec.message();
    }
    connected_to = std::string(url.tls ? "tls|" : "tcp|") + url.host + "|" + url.port;
    return {};
  }

  // One request and its answer on the open connection. `fresh` false: an error before any answer
  // byte means the kept-alive connection had gone stale (the caller reconnects once).
  HttpResult exchange(const http::request<http::string_body>& req, bool& stale) {
    HttpResult r;
    beast::error_code ec;
    const auto start = std::chrono::steady_clock::now();
    lowest().expires_after(timeout);
    const auto on_write = [&](beast::error_code e, std::size_t) { ec = e; };
    if (secure) {
      http::async_write(*secure, req, on_write);
    } else {
      http::async_write(*plain, req, on_write);
    }
    wait();
    if (ec) {
      stale = true;
      r.error = "sending failed: " + ec.message();
      return r;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxAnswerBody);
    lowest().expires_after(timeout);
    const auto on_read = [&](beast::error_code e, std::size_t) { ec = e; };
    if (secure) {
      http::async_read(*secure, buffer, parser, on_read);
    } else {
      http::async_read(*plain, buffer, parser, on_read);
    }
    wait();
    r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (ec) {
      stale = !parser.got_some() && (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                                     ec == asio::error::eof);
      if (ec == beast::error::timeout) {
        r.error = "no answer within " + std::to_string(timeout.count()) + " ms";
      } else if (ec == http::error::body_limit) {
        r.error = "the answer's body is over 64 KiB";
      } else {
        r.error = "reading the answer failed: " + ec.message();
      }
      close();
      return r;
    }
    const auto& res = parser.get();
    r.status = static_cast<int>(res.result_int());
    if (!res.keep_alive()) close();
    return r;
  }
};

HttpClient::HttpClient(std::chrono::milliseconds timeout) : impl_(std::make_unique<Impl>(timeout)) {}
HttpClient::~HttpClient() { impl_->close(); }

HttpResult HttpClient::post(const Url& url, const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& body) {
  http::request<http::string_body> req{http::verb::post, url.target, 11};
  const bool default_port = url.port == (url.tls ? "443" : "80");
  const std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  req.set(http::field::host, default_port ? host : host + ":" + url.port);
  req.set(http::field::user_agent, std::string("chatctl-webhook/") + std::string(core::kVersion));
  for (const auto& [k, v] : headers) req.set(k, v);
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();

  const std::string key = std::string(url.tls ? "tls|" : "tcp|") + url.host + "|" + url.port;
  const bool reused = impl_->connected_to == key;
  if (!reused) {
    if (auto err = impl_->connect(url); !err.empty()) {
      impl_->close();
      return HttpResult{0, err, 0};
    }
  }
  bool stale = false;
  auto r = impl_->exchange(req, stale);
  if (r.status == 0 && reused && stale) {
    // The receiver closed the kept-alive connection meanwhile: try once on a new one.
    if (auto err = impl_->connect(url); !err.empty()) {
      impl_->close();
      return HttpResult{0, err, 0};
    }
    stale = false;
    r = impl_->exchange(req, stale);
  }
  if (r.status == 0) impl_->close();
  return r;
}

}  // namespace chatctl::webhook
