#include "server/hub.hpp"

#include <fmt/format.h>

#include <vector>

namespace chatctl::server {

Hub::Hub(rtm::Service& service, std::unique_ptr<boost::asio::ssl::context> tls, boost::asio::any_io_executor blocking)
    : service_(service), limits_(service.limits()), tls_(std::move(tls)), blocking_(std::move(blocking)) {}

bool Hub::add(const Stoppable* key, std::weak_ptr<Stoppable> session) {
  std::lock_guard lock(mutex_);
  if (stopping_.load()) return false;
  sessions_.emplace(key, std::move(session));
  return true;
}

void Hub::remove(const Stoppable* key) {
  std::lock_guard lock(mutex_);
  if (sessions_.erase(key) != 0 && sessions_.empty()) idle_.notify_all();
}

std::size_t Hub::live() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

void Hub::begin_shutdown() {
  std::vector<std::shared_ptr<Stoppable>> live;
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true);
    live.reserve(sessions_.size());
    for (const auto& [key, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (const auto& s : live) s->stop();
}

bool Hub::wait_idle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return idle_.wait_until(lock, deadline, [this] { return sessions_.empty(); });
}

std::string Hub::metrics_text() const {
  std::string out;
  const auto metric = [&out](std::string_view name, std::string_view type, std::string_view help,
                             const std::atomic<std::uint64_t>& value) {
    fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type,
                   value.load(Counters::kRelaxed));
  };
  const Counters& c = counters_;
  metric("chatd_tcp_connections_open", "gauge", "TCP connections open (HTTP and websocket).", c.connections_open);
  metric("chatd_tcp_connections_total", "counter", "TCP connections accepted.", c.connections_total);
  metric("chatd_ws_connections_open", "gauge", "Websocket connections open.", c.ws_open);
  metric("chatd_ws_connections_total", "counter", "Websocket upgrades completed.", c.ws_total);
  metric("chatd_ws_connections_refused_total", "counter",
         "Websocket upgrades answered with customer_disconnected (wrong version or license).", c.ws_refused);
  metric("chatd_ws_messages_received_total", "counter", "Websocket messages read.", c.frames_in);
  metric("chatd_ws_messages_sent_total", "counter", "Websocket messages written.", c.frames_out);
  metric("chatd_ws_received_bytes_total", "counter", "Payload bytes of websocket messages read.", c.bytes_in);
  metric("chatd_ws_sent_bytes_total", "counter", "Payload bytes of websocket messages written.", c.bytes_out);
  metric("chatd_ws_slow_clients_dropped_total", "counter",
         "Connections dropped because too much was queued for a client that did not read.", c.slow_clients_dropped);
  metric("chatd_ws_oversized_messages_total", "counter", "Connections closed (1009) for a message over the limit.",
         c.oversized_messages);
  out += "# HELP chatd_http_requests_total HTTP requests by route.\n# TYPE chatd_http_requests_total counter\n";
  static constexpr std::array<std::string_view, kHttpRoutes> kRoutes = {"/livez", "/readyz", "/metrics", "websocket",
                                                                        "other"};
  for (std::size_t i = 0; i < kHttpRoutes; ++i) {
    fmt::format_to(std::back_inserter(out), "chatd_http_requests_total{{route=\"{}\"}} {}\n", kRoutes.at(i),
                   c.http_requests.at(i).load(Counters::kRelaxed));
  }
  return out;
}

}  // namespace chatctl::server
