#pragma once

#include <string>

namespace chatctl::bench {

// The reference bench_chatd measures chatd against: a minimal Boost.Beast websocket echo server,
// the shape of Beast's example/websocket/server/async (a listener, a session per connection on
// its own strand, read a message, write it back, read the next), with Beast's suggested server
// timeouts and nothing else: no protocol, no database, no write queue.
//
// Listens on 127.0.0.1, any free port, with `threads` I/O threads (the caller's thread is one of
// them), and writes the port (decimal and a line break) to `port_file` through a temporary file
// and a rename once listening, so a reader never sees a partial number. Runs until SIGTERM or
// SIGINT, then returns 0. Throws std::exception when it cannot listen or write the port file.
//
// bench_chatd runs it in a child process of its own (the binary re-executed with --echo-server),
// so that, like chatd, it has its own CPU time and VmRSS to read.
int run_echo_server(const std::string& port_file, int threads);

}  // namespace chatctl::bench
