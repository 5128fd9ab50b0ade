#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/settings.hpp"
#include "model/chat.hpp"
#include "store/store.hpp"

namespace chatctl::engine {

struct CleanupOptions {
  bool closed{false};  // closed chats unchanged for ChatEngine::ChatTTL hours
  bool old{false};     // chats of any status unchanged for ChatEngine::ChatDecayTime days
  std::optional<core::Micros> older_than{};  // replaces both ages for this run
  std::size_t max_batch{2048};               // chats per transaction, at most
  bool dry_run{false};
  // Called after each batch with the chats handled so far and the total found at the start.
  std::function<void(std::size_t done, std::size_t total)> progress{};
};

struct CleanupReport {
  bool dry_run{false};
  std::vector<std::string> modes;                 // "closed", "old"
  std::map<std::string, core::Micros> cutoffs;    // per mode: chats changed before this go
  store::DeleteCounts removed;                    // (dry run: what would go)
  std::vector<model::Chat> chats;                 // dry run only: the chats that would go
  std::size_t batches{0};
  double elapsed_ms{0};
  double max_transaction_ms{0};
  bool interrupted{false};  // stopped at a batch boundary by SIGINT or SIGTERM
};

// ChatCleanup (shared/spec/NOTES.md): removes closed chats older than ChatEngine::ChatTTL hours
// and/or chats of any status unchanged for ChatEngine::ChatDecayTime days, each with everything
// that belongs to it, logging ChatDelete for each.
//
// Safe beside a live chatd and cron: one cleanup per database at a time (Error(temporary) at once
// when another holds the lock), deletes in short transactions whose size adapts to stay near
// 25 ms, and stops between batches when interrupted, leaving a consistent database that the next
// run finishes. An age of 0 is Error(config), never "everything". A dry run deletes each batch
// inside a transaction it rolls back, so its counts are exact.
class Cleanup {
 public:
  Cleanup(store::Store& store, const core::Settings& settings, const core::Clock& clock, std::string actor);
  CleanupReport run(const CleanupOptions& options);

 private:
  void run_mode(const std::string& mode, const store::ChatFilter& filter, const std::vector<model::ChatId>& candidates,
                const CleanupOptions& options, std::size_t& done, std::size_t total, CleanupReport& report);

  store::Store& store_;
  const core::Settings& settings_;
  const core::Clock& clock_;
  std::string actor_;
  std::size_t batch_{256};
};

}  // namespace chatctl::engine
