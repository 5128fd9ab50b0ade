#include "core/clock.hpp"

#include <chrono>
#include <cstdio>

namespace chatctl::core {

Micros SystemClock::now() const {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_rfc3339(Micros t) {
  using namespace std::chrono;
  const sys_time<microseconds> tp{microseconds{t}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{tp - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02lldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long long>(hms.seconds().count()));
  std::string out(buf);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(hms.subseconds().count()));
  out.insert(out.size() - 1, frac);
  return out;
}

}  // namespace chatctl::core
