#pragma once

namespace chatctl::core {

// Installs SIGINT and SIGTERM handlers that only set a flag, for long-running commands (follow,
// servers) that stop at a safe point instead of dying mid-write.
void install_interrupt_handlers();
bool interrupted() noexcept;
// Sets the flag as a signal would: for a process that handles its signals itself (chatd) and stops
// the work that polls interrupted().
void request_interrupt() noexcept;

}  // namespace chatctl::core
