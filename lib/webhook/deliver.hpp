#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/settings.hpp"

namespace chatctl::webhook {

struct DeliverOptions {
  std::vector<std::string> names;  // empty: every webhook
  bool follow{false};              // keep delivering new events until SIGINT/SIGTERM
};

struct DeliverReport {
  std::size_t delivered{0};
  std::size_t failed_attempts{0};
  std::size_t waiting{0};       // deliveries left in the queues (due later)
  std::size_t busy{0};          // webhooks another process was delivering
  std::size_t stopped{0};       // webhooks that went to TooManyErrors in this run
};

// Delivers webhook events from the event log, at least once, each webhook in a thread of its own
// with its own database session, so a slow or dead receiver never holds up the others.
//
// Per webhook: events after its cursor become queued deliveries (body and EventId fixed then, in
// the transaction that moves the cursor), and queued deliveries are posted in event order, one
// chat's in its order. A cycle tries three times (at once, 1 s later, 4 s after that); then the
// delivery waits webhook_requeue_s at the back of the queue while other chats' go on. Nine
// consecutive failed attempts set the webhook to TooManyErrors. Every attempt is recorded before
// the next one, so a killed deliverer loses nothing: the next run re-sends the same bytes with
// the same EventId. A webhook is delivered by one process at a time (a lock per webhook); others
// skip it. One-shot (cron) runs return when nothing is due; retries due later are left queued.
DeliverReport deliver(const core::Settings& settings, const DeliverOptions& options);

}  // namespace chatctl::webhook
