#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace chatctl::server {

// A blocking websocket client for replay over the network: ws://host:port/path. One thread; not
// thread-safe. Throws core::Error(unavailable) when it cannot connect, Error(data) for a URL it
// cannot use (wss:// is refused: replay talks to chatd on a trusted network or in process).
class WsClient {
 public:
  WsClient(const std::string& url, std::chrono::milliseconds connect_timeout);
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Sends a text frame; false when the connection is closed.
  bool send(const std::string& text);
  // The next frame within `timeout`; nullopt on timeout or when closed (closed() tells which).
  std::optional<std::string> receive(std::chrono::milliseconds timeout);
  bool closed() const;
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chatctl::server
