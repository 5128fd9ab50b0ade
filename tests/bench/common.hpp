#pragma once

// What the benchmarks share: starting chatctl as a child process with a scrubbed environment, and
// formatting numbers for their tables.

#include <string>
#include <vector>

namespace chatctl::bench {

// This process's environment for a child; with a config_home, without CHATCTL_* variables and
// with that private XDG_CONFIG_HOME, so a user's configuration cannot change what chatctl does.
std::vector<std::string> child_environment(const std::string& config_home);

// Pointers into `strings`, null-terminated, as execve wants argv and envp.
std::vector<char*> c_strings(std::vector<std::string>& strings);

// `v` with `decimals` decimals; and rounded, with thousands separators ("12,345").
std::string fmt(double v, int decimals);
std::string fmt_int(double v);

}  // namespace chatctl::bench
