#pragma once

#include <pthread.h>

namespace chatctl::core {

// Names the calling thread as `top -H`, `ps -L` and /proc/<pid>/task/*/comm show it (Linux keeps
// 15 characters), so an operator, and the chatd benchmark, can tell chatd's threads apart.
inline void name_this_thread(const char* name) noexcept {
  pthread_setname_np(pthread_self(), name);
}

}  // namespace chatctl::core
