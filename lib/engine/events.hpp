#pragma once

#include <chrono>
#include <functional>

#include "store/store.hpp"

namespace chatctl::engine {

// Reads the event log for `chatctl events` (and, later, chatd's pushes and webhooks).
//
// follow() delivers every committed event with seq > filter.after exactly once, in seq order,
// polling every `interval` while nothing is new, until `stop()` returns true. Because appends are
// serialised (see Store::append_event), reading "seq > last seen" never skips a late commit.
void follow_events(store::Store& store, store::EventFilter filter, std::chrono::milliseconds interval,
                   const std::function<void(const store::EventRecord&)>& deliver, const std::function<bool()>& stop);

}  // namespace chatctl::engine
