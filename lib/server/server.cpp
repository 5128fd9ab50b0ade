#include "server/server.hpp"

#include <openssl/ssl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "core/scope.hpp"
#include "core/text.hpp"
#include "core/thread_name.hpp"
#include "server/hub.hpp"
#include "server/listener.hpp"

namespace chatctl::server {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using core::Error;
using core::ErrorKind;

constexpr std::chrono::seconds kShutdownGrace{5};

struct ListenAddress {
  std::string host;
  unsigned short port{0};
};

ListenAddress parse_listen(const std::string& text) {
  const auto bad = [&text](const std::string& why) {
    throw Error(ErrorKind::config, "listen address " + core::quoted(text) + " " + why);
  };
  const std::string_view s = text;
  std::string_view host;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos) bad("has an unclosed [");
    host = s.substr(1, close - 1);
    const auto rest = s.substr(close + 1);
    if (rest.empty() || rest.front() != ':') bad("needs :PORT after the IPv6 address, as in [::1]:8780");
    port = rest.substr(1);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) bad("is not HOST:PORT, such as 127.0.0.1:8780");
    host = s.substr(0, colon);
    if (host.find(':') != std::string_view::npos) bad("has an IPv6 address without brackets: write [::1]:8780");
    port = s.substr(colon + 1);
  }
  if (host.empty()) bad("has no host (0.0.0.0 or [::] listens on every interface)");
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535) {
    bad("has a bad port (0 to 65535; 0 picks a free one)");
  }
  return ListenAddress{std::string(host), static_cast<unsigned short>(value)};
}

// Literal addresses as they are; names resolved, IPv4 addresses first.
std::vector<tcp::endpoint> resolve(asio::io_context& ioc, const ListenAddress& address) {
  boost::system::error_code ec;
  const auto literal = asio::ip::make_address(address.host, ec);
  if (!ec) return {tcp::endpoint(literal, address.port)};
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(address.host, std::to_string(address.port),
                                        tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    throw Error(ErrorKind::config, "listen address: cannot resolve host " + core::quoted(address.host) + ": " +
                                       (ec ? ec.message() : std::string("no address")));
  }
  std::vector<tcp::endpoint> v4;
  std::vector<tcp::endpoint> v6;
  for (const auto& r : results) (r.endpoint().address().is_v4() ? v4 : v6).push_back(r.endpoint());
  v4.insert(v4.end(), v6.begin(), v6.end());
  return v4;
}

void check_readable(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::config,
                std::string("cannot read the TLS ") + what + " " + path + ": " + std::strerror(errno));
  }
}

std::unique_ptr<ssl::context> make_tls_context(const ServerOptions& options) {
  if (options.tls_cert.empty() && options.tls_key.empty()) return nullptr;
  if (options.tls_cert.empty() || options.tls_key.empty()) {
    throw Error(ErrorKind::config, "TLS needs both a certificate (chatd_tls_cert, --tls-cert) and its key "
                                   "(chatd_tls_key, --tls-key)");
  }
  check_readable(options.tls_cert, "certificate");
  check_readable(options.tls_key, "key");
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  // An encrypted key would otherwise make OpenSSL prompt on the terminal: fail instead.
  ctx->set_password_callback([](std::size_t, ssl::context::password_purpose) { return std::string(); });
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(options.tls_cert, ec);
  if (ec) {
    throw Error(ErrorKind::config,
                "TLS certificate " + options.tls_cert + " is not a PEM certificate chain: " + ec.message());
  }
  ctx->use_private_key_file(options.tls_key, ssl::context::pem, ec);
  if (ec) {
    throw Error(ErrorKind::config, "TLS key " + options.tls_key + " cannot be used with the certificate " +
                                       options.tls_cert + " (an unencrypted PEM key of that certificate is needed): " +
                                       ec.message());
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    throw Error(ErrorKind::config,
                "TLS key " + options.tls_key + " does not match the certificate " + options.tls_cert);
  }
  // Idle connections then hold no TLS read/write buffers.
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

void write_port_file(const std::string& path, unsigned short port) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const auto fail = [&](const std::string& why) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error(ErrorKind::cant_create, "cannot write the port file " + path + ": " + why);
  };
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(std::strerror(errno));
    out << port << '\n';
    out.close();
    if (!out) fail(std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(ec.message());
}

// Set from the signal handler (on an I/O thread); waited for by the calling thread.
class StopRequest {
 public:
  void request() {
    {
      std::lock_guard lock(mutex_);
      requested_ = true;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return requested_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool requested_{false};  // guarded by mutex_
};

// The I/O threads; stopped and joined however run_server leaves.
class IoThreads {
 public:
  IoThreads(asio::io_context& ioc, int count) : ioc_(ioc) {
    try {
      for (int i = 0; i < count; ++i) {
        threads_.emplace_back([this] {
          core::name_this_thread("chatd-io");
          run();
        });
      }
    } catch (...) {
      join();
      throw;
    }
  }
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;
  ~IoThreads() { join(); }

  void join() {
    ioc_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void run() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("chatd: unexpected error on an I/O thread: {}", e.what());
      } catch (...) {
        spdlog::error("chatd: unexpected error on an I/O thread");
      }
    }
  }

  asio::io_context& ioc_;
  std::vector<std::thread> threads_;
};

}  // namespace

int run_server(rtm::Service& service, const ServerOptions& options,
               std::function<void(unsigned short port)> on_listening) {
  if (options.threads < 1) throw Error(ErrorKind::config, "chatd needs at least one I/O thread");
  const ListenAddress address = parse_listen(options.listen);
  auto tls = make_tls_context(options);
  const bool secure = tls != nullptr;

  // Declaration order is destruction order reversed: connections still held by handlers die
  // with the pool and then the io_context, while the hub (shared by them) lives on until the last.
  asio::io_context ioc(options.threads);
  asio::thread_pool blocking(1);
  auto hub = std::make_shared<Hub>(service, std::move(tls), blocking.get_executor());
  // The service's batches of frames, one after the other on the I/O threads; through the gate,
  // which closes before the io_context goes.
  service.set_courier([gate = hub->gate(), batches = asio::make_strand(ioc)](std::function<void()> fn) {
    gate->pass([&] { asio::post(batches, std::move(fn)); });
  });
  // However this ends (a listener that cannot bind throws): the service, which outlives the
  // io_context, drops the courier and its strand first (set_courier waits for a call under way).
  const core::OnExit drop_courier([&] {
    hub->gate()->close();
    service.set_courier(nullptr);
  });
  auto listener = std::make_shared<Listener>(ioc, hub, resolve(ioc, address), options.threads == 1);
  const unsigned short port = listener->local_endpoint().port();

  StopRequest stop;
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&stop](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("chatd: {}: shutting down", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    stop.request();
  });

  if (options.port_file) write_port_file(*options.port_file, port);
  const std::string host = address.host.find(':') == std::string::npos ? address.host : "[" + address.host + "]";
  spdlog::info("chatd listening on {}://{}:{}/v3.2/customer/rtm/ws", secure ? "wss" : "ws", host, port);
  if (on_listening) on_listening(port);

  listener->run();
  IoThreads threads(ioc, options.threads);
  stop.wait();

  listener->stop();
  hub->begin_shutdown();
  service.shutdown();
  if (!hub->wait_idle(std::chrono::steady_clock::now() + kShutdownGrace)) {
    spdlog::warn("chatd: {} connection(s) still open after {} s: cut", hub->live(), kShutdownGrace.count());
  }
  threads.join();
  blocking.stop();
  blocking.join();
  // From here on the service's calls on its Sinks do nothing: the io_context is about to go.
  hub->gate()->close();
  spdlog::info("chatd stopped");
  return 0;
}

}  // namespace chatctl::server
