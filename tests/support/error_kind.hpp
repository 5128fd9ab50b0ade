#pragma once

#include <catch2/catch.hpp>

#include <functional>

#include "core/error.hpp"

namespace chatctl::test {

// The kind of the core::Error that `f` throws; fails the test when it throws nothing.
inline core::ErrorKind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e.kind();
  }
  FAIL("expected a core::Error");
  return core::ErrorKind::internal;
}

}  // namespace chatctl::test
