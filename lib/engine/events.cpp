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
      // Sleep in short slices so an interrupt is noticed at once even with a long interval.
      const auto until = std::chrono::steady_clock::now() + interval;
      while (!stop() && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(interval, std::chrono::milliseconds(50)));
      }
    }
  }
}

}  // namespace chatctl::engine
