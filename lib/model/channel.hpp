#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace chatctl::model {

// Validity as OTRS numbers it (valid_id): only `valid` makes a resource usable.
enum class Validity : int { valid = 1, invalid = 2, invalid_temporarily = 3 };

std::string_view to_string(Validity v);
// Accepts the names valid, invalid, invalid-temporarily.
std::optional<Validity> parse_validity(std::string_view s);

using ChannelId = std::int64_t;

// A chat channel: a group of chat requests with its own permissions.
struct Channel {
  ChannelId id{0};
  std::string name;           // unique, 1..200 characters
  std::string group;          // agent group that can access the channel
  bool customer_users{true};  // available to (logged-in) customer users
  bool public_users{false};   // available to public (anonymous) users
  Validity validity{Validity::valid};
  std::string comment;
  core::Micros create_time{0};
  std::string create_by;
  core::Micros change_time{0};
  std::string change_by;

  bool usable() const { return validity == Validity::valid; }
};

inline constexpr std::size_t kMaxChannelNameLength = 200;
inline constexpr std::size_t kMaxGroupNameLength = 200;
inline constexpr std::size_t kMaxCommentLength = 250;

}  // namespace chatctl::model
