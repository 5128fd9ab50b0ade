#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace chatctl::cli {

// A one-line progress bar on stderr, drawn only when stderr is a terminal (so cron mails and
// logs never see it), redrawn at most ten times a second, erased by finish().
class Progress {
 public:
  // `enabled` false draws nothing (e.g. for -o json); a non-terminal stderr draws nothing either.
  Progress(std::string label, bool enabled);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(std::size_t done, std::size_t total);
  void finish();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_{false};
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace chatctl::cli
