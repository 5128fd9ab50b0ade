#pragma once

#include <utility>

namespace chatctl::core {

// Runs `f` when the scope ends, however it ends (a return or an exception). `f` must not throw:
// it runs in a destructor.
template <class F>
class OnExit {
 public:
  explicit OnExit(F f) : f_(std::move(f)) {}
  ~OnExit() { f_(); }
  OnExit(const OnExit&) = delete;
  OnExit& operator=(const OnExit&) = delete;

 private:
  F f_;
};

}  // namespace chatctl::core
