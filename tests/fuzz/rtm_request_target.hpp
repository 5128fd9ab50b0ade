#pragma once

// The body of the rtm_request fuzz target (tests/fuzz/rtm_request_fuzz.cpp), shared with the test
// that replays its corpus and saved crashes (tests/unit/fuzz_regressions_test.cpp).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rtm/protocol.hpp"

namespace chatctl::fuzz {

// The fixture every input runs against: a temporary SQLite database made on the first call and
// removed at exit. It holds customer "cust-1" with the token kToken, agent "agent1" on-line in
// the default channel (RTM group 0), a greeting for the customer (kGreetingUniqueId, greeting id
// kGreetingId), and two chats of the customer: C000000001, active, whose thread T000000001 holds
// a message (T000000001_1) and a rich message whose first card has a button with postback id
// "yes" (T000000001_2), then agent1's answer, with chat and thread property ns.k; and
// C000000002, closed.
inline constexpr std::string_view kToken = "ctk_fuzz";
inline constexpr std::string_view kGreetingUniqueId = "fuzz-greeting";
inline constexpr std::int64_t kGreetingId = 7;

// What one input came to.
struct RtmRequestResult {
  bool parsed{false};                   // parse_request accepted the frame
  std::optional<rtm::ErrorType> error;  // the RtmError of parse_request or Actions::run
  std::string message;                  // its message
};

// Decodes `input` with rtm::parse_request and, when it decodes, runs it with rtm::Actions::run and
// renders the answer frame, as chatd does (rtm::Service).
// An input starting with JSON white space (which the decoder skips) runs on a fresh session that
// is not logged in, so login is fuzzed too; any other on a copy of a session logged in as
// "cust-1". Each run is inside a write transaction that is rolled back, so every input sees the
// same database.
//
// RtmError is the answer to a bad request and is returned, except ErrorType::internal: that is
// what chatd answers when the engine fails, a bug for any input, so it is rethrown as
// std::logic_error. Any other exception propagates too. Not thread-safe.
RtmRequestResult run_rtm_request(std::string_view input);

}  // namespace chatctl::fuzz
