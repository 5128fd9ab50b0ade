#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
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

// The message of the authentication error for any action but login before login.
inline constexpr std::string_view kLogInFirst = "Log in first";

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
  // Asked by login, once the token and the request are found good and before anything is
  // written: may this customer have one more connection? False refuses the login with
  // too_many_connections (its disconnect reason) and leaves nothing behind; an RtmError thrown
  // (users_limit_reached) is the login's answer. Unset: always.
  using Admission = std::function<bool(const std::string& customer_id)>;
  void set_admission(Admission admission) { admission_ = std::move(admission); }

 private:
  class Context;
  store::Store& store_;
  const core::Settings& settings_;
  const core::Clock& clock_;
  DefaultChannel default_channel_;
  Admission admission_;
  std::size_t active_chats_limit_;  // chatd_active_chats_per_customer; 0: none
};

}  // namespace chatctl::rtm
