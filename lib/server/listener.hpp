#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <vector>

#include "server/hub.hpp"

namespace chatctl::server {

// Accepts TCP connections and starts an HTTP session on each (over TLS when the hub has a TLS
// context). Each connection's handlers run one at a time: on a strand of its own when several
// threads run the io_context, or on the io_context itself when one thread does (`one_thread`),
// where a strand would only add a queue and a lock to every operation (a sixth of a ping's CPU).
// Accept errors (out of file descriptors, ...) are logged and retried after a pause; they never
// end the listener.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Opens, binds and listens on the first of `endpoints` that allows it (in their order).
  // Throws core::Error(unavailable) naming the address and the reason when none does.
  Listener(boost::asio::io_context& ioc, std::shared_ptr<Hub> hub,
           const std::vector<boost::asio::ip::tcp::endpoint>& endpoints, bool one_thread);

  // The bound endpoint (its port is the real one when port 0 was asked for).
  boost::asio::ip::tcp::endpoint local_endpoint() const { return local_; }

  // Starts accepting. Call once.
  void run();
  // Closes the acceptor: no connection is accepted after it. Thread-safe, idempotent.
  void stop();

 private:
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);
  void start_session(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  bool one_thread_;  // only one thread runs ioc_: connections need no strand
  std::shared_ptr<Hub> hub_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  boost::asio::ip::tcp::endpoint local_;
  bool stopped_{false};  // on the acceptor's strand
};

}  // namespace chatctl::server
