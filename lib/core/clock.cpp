#include "core/clock.hpp"

#include <chrono>
#include <cstdio>

namespace chatctl::core {

Micros SystemClock::now() const {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

// Days since 1970-01-01 <-> civil dates (H. Hinnant's algorithms), proleptic Gregorian.
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void put_digits(char* at, std::int64_t v, int n) {
  for (int i = n - 1; i >= 0; --i, v /= 10) at[i] = static_cast<char>('0' + v % 10);
}

}  // namespace

void append_rfc3339(std::string& out, Micros t) {
  constexpr Micros kDay = 86'400'000'000;
  std::int64_t days = t / kDay;
  Micros rest = t % kDay;
  if (rest < 0) {
    rest += kDay;
    --days;
  }
  std::int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civil_from_days(days, y, m, d);
  char buf[] = "0000-00-00T00:00:00.000000Z";
  put_digits(buf, y, 4);
  put_digits(buf + 5, m, 2);
  put_digits(buf + 8, d, 2);
  const std::int64_t secs = rest / 1'000'000;
  put_digits(buf + 11, secs / 3600, 2);
  put_digits(buf + 14, secs / 60 % 60, 2);
  put_digits(buf + 17, secs % 60, 2);
  put_digits(buf + 20, rest % 1'000'000, 6);
  out.append(buf, sizeof buf - 1);
}

std::string format_rfc3339(Micros t) {
  std::string out;
  append_rfc3339(out, t);
  return out;
}

std::optional<Micros> parse_rfc3339(std::string_view s) {
  const auto num = [&](std::size_t at, std::size_t n) -> std::optional<std::int64_t> {
    if (at + n > s.size()) return std::nullopt;
    std::int64_t v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const auto y = num(0, 4);
  const auto mo = num(5, 2);
  const auto d = num(8, 2);
  if (!y || !mo || !d || s[4] != '-' || s[7] != '-' || *mo < 1 || *mo > 12 || *d < 1) return std::nullopt;
  static constexpr unsigned kMonthDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
  if (*d > kMonthDays[*mo - 1] || (*mo == 2 && *d == 29 && !leap)) return std::nullopt;
  Micros t = days_from_civil(*y, static_cast<unsigned>(*mo), static_cast<unsigned>(*d)) * 86'400'000'000;
  if (s.size() == 10) return t;  // a date alone: its midnight, UTC
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return std::nullopt;
  const auto h = num(11, 2);
  const auto mi = num(14, 2);
  const auto se = num(17, 2);
  if (!h || !mi || !se || s[13] != ':' || s[16] != ':' || *h > 23 || *mi > 59 || *se > 60) return std::nullopt;
  t += ((*h * 60 + *mi) * 60 + *se) * 1'000'000;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::int64_t frac = 0;
    int digits = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
      if (digits < 6) frac = frac * 10 + (s[i] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 6; ++k) frac *= 10;
    t += frac;
  }
  if (i == s.size()) return std::nullopt;  // a time needs its zone
  if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) return t;
  if ((s[i] == '+' || s[i] == '-') && i + 6 == s.size() && s[i + 3] == ':') {
    const auto oh = num(i + 1, 2);
    const auto om = num(i + 4, 2);
    if (!oh || !om || *oh > 23 || *om > 59) return std::nullopt;
    const Micros offset = (*oh * 60 + *om) * 60'000'000;
    return s[i] == '+' ? t - offset : t + offset;
  }
  return std::nullopt;
}

}  // namespace chatctl::core
