#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace chatctl::webhook {

// An http:// or https:// address: scheme, host (IPv6 without brackets), port, and the target
// (path and query) sent in the request line.
struct Url {
  bool tls{false};
  std::string host;
  std::string port;
  std::string target{"/"};
};
// Error(data) naming what is wrong: not http(s), no host, a bad port, spaces, a fragment.
Url parse_url(const std::string& text);

struct HttpResult {
  int status{0};       // 0: no HTTP answer (see error)
  std::string error;   // empty when an answer came (whatever its status)
  double ms{0};        // from sending to the end of the answer
};

// A small HTTP/1.1 client for webhook deliveries: POST only, no redirects followed (a redirect
// is an answer like any other non-200), answers over 64 KiB refused, one timeout for connecting
// (and the TLS handshake) and one for the answer. Keeps the connection to the last host open
// when the receiver allows. HTTPS verifies the certificate and the host name against the
// system's trust store. Never throws for network or protocol failures: they are results.
class HttpClient {
 public:
  explicit HttpClient(std::chrono::milliseconds timeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult post(const Url& url, const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chatctl::webhook
