#include "core/interrupt.hpp"

#include <atomic>
#include <csignal>

namespace chatctl::core {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_signal(int /*signal*/) { g_interrupted.store(true); }

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() noexcept { return g_interrupted.load(); }

void request_interrupt() noexcept { g_interrupted.store(true); }

}  // namespace chatctl::core
