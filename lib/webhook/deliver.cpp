#include "webhook/deliver.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/interrupt.hpp"
#include "engine/engine.hpp"
#include "webhook/http.hpp"
#include "webhook/payload.hpp"

namespace chatctl::webhook {
namespace {

using namespace std::chrono_literals;
constexpr std::size_t kEventsPerRead = 500;
constexpr std::int64_t kMaxFailures = 9;
constexpr std::size_t kDeliveriesPerRead = 1000;
constexpr std::chrono::milliseconds kRetryDelays[] = {0ms, 1000ms, 4000ms};  // before each try of a cycle

// Sleeps in short slices; false when interrupted meanwhile.
bool nap(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (core::interrupted()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(50ms, until - std::chrono::steady_clock::now()));
  }
  return !core::interrupted();
}

struct Shared {
  std::mutex mutex;
  DeliverReport report;
};

class Worker {
 public:
  Worker(std::unique_ptr<store::Store> store, const core::Settings& settings, model::Webhook webhook, bool follow,
         Shared& shared)
      : store_(std::move(store)),
        clock_(),
        timeout_(settings.get_int(core::keys::kWebhookTimeout)),
        requeue_us_(settings.get_int(core::keys::kWebhookRequeue) * 1'000'000),
        poll_(settings.get_int(core::keys::kWebhookPoll)),
        name_(webhook.name),
        id_(webhook.id),
        follow_(follow),
        shared_(shared),
        client_(timeout_) {}

  void run() {
    const auto lock = store_->try_process_lock("webhook-" + std::to_string(id_));
    if (!lock) {
      spdlog::info("webhook {}: another process is delivering it", name_);
      count([](DeliverReport& r) { ++r.busy; });
      return;
    }
    while (!core::interrupted()) {
      const auto w = store_->find_webhook(name_);
      if (!w || w->id != id_ || w->state != model::WebhookState::active) break;
      const std::size_t read = take_new_events(*w);
      core::Micros next_due = 0;
      if (const auto due = next_delivery(next_due)) {
        cycle(*due);
        continue;
      }
      if (read == kEventsPerRead) continue;
      if (!follow_) break;
      auto wait = poll_;
      if (next_due > 0) {
        wait = std::min(wait, std::chrono::milliseconds(std::max<std::int64_t>(1, (next_due - clock_.now()) / 1000)));
      }
      if (!nap(wait)) break;
    }
    const auto left = store_->list_deliveries(id_, 0).size();
    count([&](DeliverReport& r) { r.waiting += left; });
  }

 private:
  template <class F>
  void count(F f) {
    std::lock_guard<std::mutex> guard(shared_.mutex);
    f(shared_.report);
  }

  // Events after the cursor become queued deliveries, in the transaction that moves the cursor.
  std::size_t take_new_events(const model::Webhook& seen) {
    store::EventFilter f;
    f.after = seen.cursor;
    f.limit = kEventsPerRead;
    const auto events = store_->list_events(f);
    if (events.empty()) return 0;
    store::WriteTransaction tx(*store_);
    auto w = store_->find_webhook(name_);
    if (!w || w->id != id_ || w->cursor != seen.cursor) return 0;  // changed meanwhile: read again
    std::vector<model::WebhookDelivery> deliveries;
    GoneChats gone;
    for (const auto& e : events) {
      const auto event = webhook_event_for(e.type);
      if (!event || !e.chat_id || !w->wants(*event)) continue;
      model::WebhookDelivery d;
      d.webhook_id = id_;
      d.seq = e.seq;
      d.event_id = core::new_uuid();
      d.event = std::string(*event);
      d.chat_id = *e.chat_id;
      d.body = delivery_body(*store_, e, *event, d.event_id, w->name, &gone);
      deliveries.push_back(std::move(d));
    }
    store_->enqueue_deliveries(deliveries);
    w->cursor = events.back().seq;
    store_->update_webhook(*w);
    tx.commit();
    return events.size();
  }

  // The first due delivery that is the oldest of its chat (a chat's events go in order). The
  // oldest thousand answer almost always; only when none of them may go and the queue is longer,
  // each chat's oldest are read (that query reads the whole queue), so one chat whose receiver
  // fails holds no other back.
  std::optional<model::WebhookDelivery> next_delivery(core::Micros& next_due) {
    const core::Micros now = clock_.now();
    std::set<model::ChatId> seen;
    const auto oldest = store_->list_deliveries(id_, kDeliveriesPerRead);
    for (const auto& d : oldest) {
      if (!seen.insert(d.chat_id).second) continue;
      if (d.next_attempt_time <= now) return d;
      next_due = next_due == 0 ? d.next_attempt_time : std::min(next_due, d.next_attempt_time);
    }
    if (oldest.size() < kDeliveriesPerRead) return std::nullopt;
    for (auto& d : store_->list_deliveries(id_, kDeliveriesPerRead, true)) {
      if (d.next_attempt_time <= now) return d;
      next_due = next_due == 0 ? d.next_attempt_time : std::min(next_due, d.next_attempt_time);
    }
    return std::nullopt;
  }

  void cycle(model::WebhookDelivery d) {
    for (std::size_t i = 0; i < std::size(kRetryDelays); ++i) {
      if (kRetryDelays[i].count() > 0 && !nap(kRetryDelays[i])) return;
      const auto w = store_->find_webhook(name_);
      if (!w || w->id != id_ || w->state != model::WebhookState::active) return;
      std::vector<std::pair<std::string, std::string>> headers = {
          {"Content-Type", "application/json; charset=utf-8"},
          {"X-SuperOffice-Event", d.event},
          {"X-SuperOffice-EventId", d.event_id},
          {"X-SuperOffice-Retry", std::to_string(d.attempts)},
      };
      if (!w->secret.empty()) headers.emplace_back("X-SuperOffice-Signature", signature(w->secret, d.body));
      HttpResult r;
      try {
        r = client_.post(parse_url(w->url), headers, d.body);
      } catch (const core::Error& e) {
        r.error = e.what();  // a URL that became invalid
      }
      const bool ok = r.status == 200;
      if (!record(d, r, ok, i + 1 == std::size(kRetryDelays))) return;
      if (ok) return;
    }
  }

  // Records one attempt; false when the webhook is no longer to be delivered to.
  bool record(model::WebhookDelivery& d, const HttpResult& r, bool ok, bool last_of_cycle) {
    store::WriteTransaction tx(*store_);
    auto w = store_->find_webhook(name_);
    if (!w || w->id != id_) return false;
    const core::Micros now = clock_.now();
    ++d.attempts;
    w->last_attempt_time = now;
    if (ok) {
      store_->delete_delivery(id_, d.seq);
      w->failures = 0;
      w->last_error.clear();
    } else {
      ++w->failures;
      w->last_error = r.status ? "HTTP " + std::to_string(r.status) : r.error;
      if (w->failures >= kMaxFailures && w->state == model::WebhookState::active) {
        w->state = model::WebhookState::too_many_errors;
        spdlog::warn("webhook {}: {} failed attempts in a row, now TooManyErrors ({})", name_, w->failures,
                     w->last_error);
        count([](DeliverReport& rep) { ++rep.stopped; });
      }
      if (last_of_cycle) d.next_attempt_time = now + requeue_us_;  // to the back of the queue
      store_->update_delivery(d);
    }
    store_->update_webhook(*w);
    tx.commit();
    spdlog::info("webhook {}: {} {} seq {}: {}", name_, d.event, d.event_id, d.seq,
                 ok ? "delivered" : w->last_error);
    count([&](DeliverReport& rep) { ok ? ++rep.delivered : ++rep.failed_attempts; });
    return w->state == model::WebhookState::active;
  }

  std::unique_ptr<store::Store> store_;
  core::SystemClock clock_;
  std::chrono::milliseconds timeout_;
  core::Micros requeue_us_;
  std::chrono::milliseconds poll_;
  std::string name_;
  model::WebhookId id_;
  bool follow_;
  Shared& shared_;
  HttpClient client_;
};

}  // namespace

DeliverReport deliver(const core::Settings& settings, const DeliverOptions& o) {
  const auto selected = [&](const model::Webhook& w) {
    return o.names.empty() || std::find(o.names.begin(), o.names.end(), w.name) != o.names.end();
  };
  auto main = engine::connect_database(settings);
  for (const auto& name : o.names) {
    if (!main->find_webhook(name)) throw core::Error(core::ErrorKind::not_found, "no webhook \"" + name + "\"");
  }
  Shared shared;
  std::map<model::WebhookId, std::thread> running;
  std::set<model::WebhookId> finished;
  std::mutex finished_mutex;
  const auto start = [&](const model::Webhook& w) {
    auto store = engine::connect_database(settings);
    running.emplace(w.id, std::thread([&, w, s = std::move(store)]() mutable {
      try {
        Worker(std::move(s), settings, w, o.follow, shared).run();
      } catch (const std::exception& e) {
        spdlog::error("webhook {}: {}", w.name, e.what());
      }
      std::lock_guard<std::mutex> guard(finished_mutex);
      finished.insert(w.id);
    }));
  };
  // A worker thread must be joined before anything unwinds past `running`. Following, a database
  // that fails for a while is waited out; a one-shot run reports it once its workers are done.
  try {
    do {
      try {
        for (const auto& w : main->list_webhooks()) {
          if (!selected(w) || w.state != model::WebhookState::active) continue;
          const auto it = running.find(w.id);
          if (it != running.end()) {
            std::lock_guard<std::mutex> guard(finished_mutex);
            if (!finished.count(w.id)) continue;  // still at work
            it->second.join();
            running.erase(it);
            finished.erase(w.id);
            if (!o.follow) continue;
          }
          start(w);
        }
      } catch (const core::Error& e) {
        if (!o.follow) throw;
        spdlog::error("webhooks: {}; trying again", e.what());
      }
      if (!o.follow) break;
    } while (nap(1000ms));  // follow: new and reset webhooks are picked up within a second
  } catch (...) {
    for (auto& [id, t] : running) t.join();
    throw;
  }
  for (auto& [id, t] : running) t.join();
  return shared.report;
}

}  // namespace chatctl::webhook
