#include "engine/events.hpp"

#include <thread>

namespace chatctl::engine {

void follow_events(store::Store& store, store::EventFilter filter, std::chrono::milliseconds interval,
                   const std::function<void(const store::EventRecord&)>& deliver, const std::function<bool()>& stop) {
  while (!stop()) {
    const auto batch = store.list_events(filter);
    for (const auto& e : batch) {
      deliver(e);
      filter.after = e.seq;
    }
    if (batch.size() < filter.limit) {
      std::this_thread::sleep_for(interval);
    }
  }
}

}  // namespace chatctl::engine
