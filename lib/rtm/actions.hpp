#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/settings.hpp"
#include "model/people.hpp"
#include "rtm/protocol.hpp"
#include "rtm/render.hpp"
#include "store/store.hpp"

namespace chatctl::rtm {

// What one connection's protocol state holds once logged in.
struct Session {
  bool logged_in{false};
  std::string customer_id;
  std::int64_t token_id{0};
  core::Micros token_expires{0};
  std::int64_t group{0};  // the group given at login (start_chat's default)
  // Set by a failed login that ends the connection (access_token_expired, customer_banned):
  // the answer goes out, then the disconnect.
  std::string disconnect_reason{};
};

// The result of an action: the response payload and, for login, who logged in.
struct Outcome {
  nlohmann::json payload = nlohmann::json::object();
};

// Every action of the Customer Chat RTM API v3.2 on the chat engine, for one logged-in customer
// (login makes one). Each action runs in one write transaction (a savepoint when the caller has
// one open), so a failing action leaves nothing behind; errors are RtmError with the type the
// protocol document gives. Not thread-safe: one per database session.
class Actions {
 public:
  Actions(store::Store& store, const core::Settings& settings, const core::Clock& clock);

  // Runs `request` for `session` (login fills it). Throws RtmError.
  Outcome run(Session& session, const Request& request);
  // True for the actions this API has (login and ping included).
  static bool known(std::string_view action);
  // The transaction the actions ran in was rolled back, or the rows were replaced: what they
  // read before may be gone.
  void rolled_back() { default_channel_.forget(); }

 private:
  class Context;
  store::Store& store_;
  const core::Settings& settings_;
  const core::Clock& clock_;
  DefaultChannel default_channel_;
};

}  // namespace chatctl::rtm
