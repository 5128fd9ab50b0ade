#include "engine/cleanup.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/scope.hpp"

namespace chatctl::engine {
namespace {

using core::Error;
using core::ErrorKind;
using Steady = std::chrono::steady_clock;

constexpr core::Micros kHour = 3'600'000'000;
constexpr core::Micros kDay = 24 * kHour;
// Each batch is sized from the last one's duration to take about this long: short enough that
// chatd and other writers barely wait, long enough that per-statement costs are shared.
constexpr double kTargetMs = 25;
constexpr std::size_t kMinBatch = 16;

double ms_since(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

core::Micros age_of(const core::Settings& settings, std::string_view key, core::Micros unit, const char* what) {
  const auto value = settings.get_int(key);
  if (value <= 0) {
    throw Error(ErrorKind::config, std::string(key) + " is " + std::to_string(value) + ": set it to the " + what +
                                       " to keep chats (0 would remove every chat), or give --older-than");
  }
  return value * unit;
}

}  // namespace

Cleanup::Cleanup(store::Store& store, const core::Settings& settings, const core::Clock& clock, std::string actor)
    : store_(store), settings_(settings), clock_(clock), actor_(std::move(actor)) {}

CleanupReport Cleanup::run(const CleanupOptions& o) {
  if (!o.closed && !o.old) throw Error(ErrorKind::usage, "say what to remove: --closed, --old or both");
  if (o.older_than && *o.older_than <= 0) throw Error(ErrorKind::usage, "--older-than must be more than 0");
  if (o.max_batch == 0) throw Error(ErrorKind::usage, "--batch-size must be at least 1");
  const auto start = Steady::now();
  const core::Micros now = clock_.now();
  CleanupReport report;
  report.dry_run = o.dry_run;

  // Ages are checked before anything else, so a bad setting never gets near a delete.
  std::vector<std::pair<std::string, store::ChatFilter>> plan;
  if (o.closed) {
    store::ChatFilter f;
    f.status = model::ChatStatus::closed;
    f.changed_before = now - (o.older_than ? *o.older_than : age_of(settings_, core::keys::kChatTTL, kHour, "hours"));
    plan.emplace_back("closed", f);
  }
  if (o.old) {
    store::ChatFilter f;
    f.changed_before = now - (o.older_than ? *o.older_than : age_of(settings_, core::keys::kChatDecayTime, kDay, "days"));
    plan.emplace_back("old", f);
  }

  std::unique_ptr<store::ProcessLock> lock;
  if (!o.dry_run) {
    lock = store_.try_process_lock("cleanup");
    if (!lock) throw Error(ErrorKind::temporary, "another cleanup is running on " + store_.address() + "; try later");
  }

  // The candidates are found once per mode, by one index scan; each batch then re-checks its
  // chats inside its own transaction (a chat re-opened meanwhile stays). Chats that become due
  // during the run are left to the next one.
  // A chat due under both modes is the first's: once (a dry run, which deletes nothing, would
  // find it again under the second).
  std::vector<std::vector<model::ChatId>> candidates;
  std::set<model::ChatId> seen;
  std::size_t total = 0;
  for (const auto& [mode, filter] : plan) {
    auto ids = store_.list_chat_ids(filter);
    std::erase_if(ids, [&](model::ChatId id) { return !seen.insert(id).second; });
    total += ids.size();
    candidates.push_back(std::move(ids));
  }
  std::size_t done = 0;
  batch_ = std::min<std::size_t>(256, o.max_batch);
  store_.bulk_mode(true);
  const core::OnExit restore([&] {
    try {
      store_.bulk_mode(false);
    } catch (const std::exception& e) {
      spdlog::debug("restoring WAL checkpoints: {}", e.what());  // the next connection has them anyway
    }
  });
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& [mode, filter] = plan[i];
    report.modes.push_back(mode);
    report.cutoffs[mode] = *filter.changed_before;
    if (report.interrupted) continue;
    run_mode(mode, filter, candidates[i], o, done, total, report);
  }
  report.elapsed_ms = ms_since(start);
  return report;
}

void Cleanup::run_mode(const std::string& mode, const store::ChatFilter& filter,
                       const std::vector<model::ChatId>& candidates, const CleanupOptions& o, std::size_t& done,
                       std::size_t total, CleanupReport& report) {
  std::size_t next = 0;
  while (next < candidates.size()) {
    if (core::interrupted()) {
      report.interrupted = true;
      return;
    }
    const std::size_t n = std::min(batch_, candidates.size() - next);
    store::ChatFilter batch = filter;
    batch.ids.assign(candidates.begin() + static_cast<std::ptrdiff_t>(next),
                     candidates.begin() + static_cast<std::ptrdiff_t>(next + n));
    next += n;
    const auto started = Steady::now();
    store::WriteTransaction tx(store_);
    auto chats = store_.list_chats(batch);  // still due, judged inside the transaction
    std::vector<model::ChatId> ids;
    ids.reserve(chats.size());
    for (const auto& c : chats) ids.push_back(c.id);
    report.removed += store_.delete_chats(ids);
    if (!o.dry_run) {  // a dry run rolls back when tx goes out of scope
      std::vector<store::EventRecord> events;
      events.reserve(chats.size());
      const core::Micros now = clock_.now();
      for (const auto& c : chats) {
        store::EventRecord e;
        e.type = "ChatDelete";
        e.time = now;
        e.actor = actor_;
        e.chat_id = c.id;
        e.channel_id = c.channel_id;
        e.payload = nlohmann::json{{"id", c.id}, {"status", model::to_string(c.status)}, {"cleanup", mode}}.dump();
        events.push_back(std::move(e));
      }
      store_.append_events(events);
      tx.commit();
    }
    const double took = ms_since(started);
    store_.checkpoint();  // outside the transaction: writers go on meanwhile
    spdlog::debug("cleanup {}: batch of {} chats in {:.1f} ms", mode, chats.size(), took);
    report.max_transaction_ms = std::max(report.max_transaction_ms, took);
    ++report.batches;
    done += n;
    if (o.dry_run) {
      for (auto& c : chats) report.chats.push_back(std::move(c));
    }
    if (o.progress) o.progress(done, total);
    // Proportional, at most doubling or halving per step (timings are noisy).
    const double scale = std::clamp(kTargetMs / std::max(took, 0.1), 0.5, 2.0);
    batch_ = std::clamp(static_cast<std::size_t>(static_cast<double>(batch_) * scale), kMinBatch, o.max_batch);
  }
}

}  // namespace chatctl::engine
