#pragma once

#include <functional>
#include <optional>
#include <string>

#include "rtm/service.hpp"

namespace chatctl::server {

struct ServerOptions {
  // "HOST:PORT": an IPv4 literal, an IPv6 literal in brackets ([::1]:8780), or a host name such
  // as localhost (its first address that can be bound, IPv4 first). Port 0: any free port.
  std::string listen{"127.0.0.1:8780"};
  int threads{1};  // I/O threads, at least 1
  // PEM certificate chain and private key: both, for wss:// and https://, or neither.
  std::string tls_cert{};
  std::string tls_key{};
  // Where to write the bound port (decimal and a line break) once listening; written to a
  // temporary file beside it and renamed, so a reader never sees a partial number.
  std::optional<std::string> port_file{};
};

// Serves `service` over websocket (the RTM endpoint) and HTTP (/livez, /readyz, /metrics) on
// one port until SIGTERM or SIGINT, then stops gracefully and returns 0: stops accepting, calls
// Service::shutdown (which closes its clients with 1001), closes idle HTTP connections, waits at
// most 5 s for connections to end, and cuts those left.
//
// Before serving: throws core::Error(config) for a malformed listen address, a host that does
// not resolve, only one of tls_cert and tls_key, or TLS files that cannot be read or do not
// match; Error(unavailable) when the address cannot be bound (in use, not local, not
// permitted); Error(cant_create) when port_file cannot be written. Once listening it logs
// "chatd listening on ws://HOST:PORT/v3.2/customer/rtm/ws" (wss:// with TLS) at info, writes
// port_file, and calls `on_listening` (if set) with the bound port, from the calling thread
// before any connection is served.
//
// Blocks the calling thread, which only waits; `threads` others run the I/O. Handles SIGTERM and
// SIGINT itself while it runs. Call it at most once at a time per process. `service` must
// outlive the call; afterwards it may still hold Sinks, whose calls are then no-ops.
int run_server(rtm::Service& service, const ServerOptions& options,
               std::function<void(unsigned short port)> on_listening = {});

}  // namespace chatctl::server
