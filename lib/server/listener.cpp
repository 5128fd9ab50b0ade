#include "server/listener.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <sstream>

#include "core/error.hpp"
#include "server/http_session.hpp"

namespace chatctl::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr std::chrono::milliseconds kAcceptRetry{100};

std::string endpoint_text(const tcp::endpoint& e) {
  std::ostringstream out;
  out << e;
  return out.str();
}

}  // namespace

Listener::Listener(asio::io_context& ioc, std::shared_ptr<Hub> hub, const std::vector<tcp::endpoint>& endpoints,
                   bool one_thread)
    : ioc_(ioc),
      one_thread_(one_thread),
      hub_(std::move(hub)),
      acceptor_(asio::make_strand(ioc)),
      retry_(acceptor_.get_executor()) {
  std::string failures;
  for (const auto& endpoint : endpoints) {
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) local_ = acceptor_.local_endpoint(ec);
    if (!ec) return;
    failures += (failures.empty() ? "" : "; ") + endpoint_text(endpoint) + ": " + ec.message();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }
  if (failures.empty()) failures = "no address to listen on";
  throw core::Error(core::ErrorKind::unavailable, "cannot listen on " + failures);
}

void Listener::run() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void Listener::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    self->stopped_ = true;
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_.cancel();
  });
}

void Listener::do_accept() {
  if (stopped_) return;
  acceptor_.async_accept(one_thread_ ? asio::any_io_executor(ioc_.get_executor())
                                    : asio::any_io_executor(asio::make_strand(ioc_)),
                         boost::beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (stopped_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Typically EMFILE/ENFILE: accepting again at once would spin, so pause.
    spdlog::warn("chatd: accept failed: {}", ec.message());
    retry_.expires_after(kAcceptRetry);
    retry_.async_wait([self = shared_from_this()](boost::system::error_code) { self->do_accept(); });
    return;
  }
  start_session(std::move(socket));
  do_accept();
}

void Listener::start_session(tcp::socket socket) {
  try {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (hub_->tls() != nullptr) {
      std::make_shared<HttpSession<TlsStream>>(std::move(socket), hub_)->run();
    } else {
      std::make_shared<HttpSession<PlainStream>>(std::move(socket), hub_)->run();
    }
  } catch (const std::exception& e) {
    spdlog::error("chatd: cannot start a session: {}", e.what());
  }
}

}  // namespace chatctl::server
