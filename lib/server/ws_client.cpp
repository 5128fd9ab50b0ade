#include "server/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "core/error.hpp"

namespace chatctl::server {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using core::Error;
using core::ErrorKind;

struct WsClient::Impl {
  net::io_context io;
  beast::websocket::stream<beast::tcp_stream> ws{io};
  beast::flat_buffer buffer;
  bool reading{false};
  bool done{false};   // a read completed and its frame waits in buffer
  bool closed{false};
};

WsClient::WsClient(const std::string& url, std::chrono::milliseconds connect_timeout) : impl_(std::make_unique<Impl>()) {
  constexpr std::string_view kScheme = "ws://";
  if (url.rfind("wss://", 0) == 0) throw Error(ErrorKind::data, "wss:// URLs are not supported here: " + url);
  if (url.rfind(kScheme, 0) != 0) throw Error(ErrorKind::data, "not a ws:// URL: " + url);
  std::string rest = url.substr(kScheme.size());
  const auto slash = rest.find('/');
  const std::string hostport = rest.substr(0, slash);
  const std::string target = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string host = hostport;
  std::string port = "80";
  if (!hostport.empty() && hostport.front() == '[') {
    const auto close = hostport.find(']');
    if (close == std::string::npos) throw Error(ErrorKind::data, "bad host in " + url);
    host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':') port = hostport.substr(close + 2);
  } else if (const auto colon = hostport.rfind(':'); colon != std::string::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (host.empty() || port.empty()) throw Error(ErrorKind::data, "bad host or port in " + url);
  try {
    tcp::resolver resolver(impl_->io);
    auto& stream = beast::get_lowest_layer(impl_->ws);
    stream.expires_after(connect_timeout);
    stream.connect(resolver.resolve(host, port));
    impl_->ws.handshake(hostport, target);
    stream.expires_never();
  } catch (const boost::system::system_error& e) {
    throw Error(ErrorKind::unavailable, "cannot connect to " + url + ": " + e.code().message());
  }
}

WsClient::~WsClient() {
  try {
    close();
  } catch (...) {
  }
}

bool WsClient::send(const std::string& text) {
  if (impl_->closed) return false;
  boost::system::error_code ec;
  impl_->ws.text(true);
  impl_->ws.write(net::buffer(text), ec);
  if (ec) impl_->closed = true;
  return !ec;
}

std::optional<std::string> WsClient::receive(std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  if (i.closed && !i.done) return std::nullopt;
  if (!i.reading && !i.done) {
    i.reading = true;
    i.ws.async_read(i.buffer, [&i](const boost::system::error_code& ec, std::size_t) {
      i.reading = false;
      if (ec) {
        i.closed = true;
      } else {
        i.done = true;
      }
    });
  }
  if (i.io.stopped()) i.io.restart();
  if (!i.done && !i.closed) i.io.run_for(timeout);
  if (!i.done) return std::nullopt;
  i.done = false;
  std::string frame = beast::buffers_to_string(i.buffer.data());
  i.buffer.consume(i.buffer.size());
  return frame;
}

bool WsClient::closed() const { return impl_->closed; }

void WsClient::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  boost::system::error_code ec;
  beast::get_lowest_layer(impl_->ws).expires_after(std::chrono::seconds(2));
  beast::get_lowest_layer(impl_->ws).socket().shutdown(tcp::socket::shutdown_both, ec);
  beast::get_lowest_layer(impl_->ws).close();
}

}  // namespace chatctl::server
