#pragma once

#include <catch2/catch.hpp>

#include <functional>

#include "core/error.hpp"

namespace chatctl::test {

// The core::Error that `f` throws; fails the test when it throws nothing.
inline core::Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e;
  }
  FAIL("expected a core::Error");
  return core::Error(core::ErrorKind::internal, "unreachable");
}

// The kind of the core::Error that `f` throws.
inline core::ErrorKind kind_of(const std::function<void()>& f) { return error_of(f).kind(); }

}  // namespace chatctl::test
