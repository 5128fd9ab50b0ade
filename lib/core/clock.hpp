#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatctl::core {

// Microseconds since the Unix epoch, UTC. The only time representation stored or passed around.
using Micros = std::int64_t;

// Source of the current time. Injected everywhere so tests never sleep. Implementations are
// thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Micros now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Micros now() const override;
};

// A clock that only moves when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Micros start) : now_(start) {}
  Micros now() const override { return now_; }
  void advance(Micros by) { now_ += by; }
  void set(Micros to) { now_ = to; }

 private:
  Micros now_;
};

// RFC 3339 UTC with microseconds: 2017-10-12T15:19:21.010200Z.
std::string format_rfc3339(Micros t);
void append_rfc3339(std::string& out, Micros t);
// RFC 3339 with any offset (2017-10-12T17:19:21+02:00), or a date alone (its midnight, UTC).
std::optional<Micros> parse_rfc3339(std::string_view s);

}  // namespace chatctl::core
