#include "common.hpp"

#include <unistd.h>

#include <cstdio>

namespace chatctl::bench {

std::vector<std::string> child_environment(const std::string& config_home) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string v = *e;
    if (!config_home.empty() && (v.starts_with("CHATCTL_") || v.starts_with("XDG_CONFIG_HOME="))) continue;
    out.push_back(v);
  }
  if (!config_home.empty()) out.push_back("XDG_CONFIG_HOME=" + config_home);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string fmt(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string fmt_int(double v) {
  std::string digits = fmt(v, 0);
  std::string out;
  const std::size_t start = digits[0] == '-' ? 1 : 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > start && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace chatctl::bench
