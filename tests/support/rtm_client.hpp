#pragma once

// An in-process RTM client for tests: a Sink that collects what chatd's service sends, with
// waits for a response to a request id or a push of an action.

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>

#include "rtm/service.hpp"

namespace chatctl::test {

class CollectingSink final : public rtm::Sink {
 public:
  void send(std::string text) override {
    {
      std::lock_guard lock(mu_);
      frames_.push_back(nlohmann::json::parse(text));
    }
    cv_.notify_all();
  }
  void close(bool going_away) override {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      going_away_ = going_away;
    }
    cv_.notify_all();
  }

  // The first frame (removed) that `match` accepts, or null after `timeout`.
  template <typename Match>
  nlohmann::json take(Match match, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    nlohmann::json found;
    cv_.wait_for(lock, timeout, [&] {
      for (auto it = frames_.begin(); it != frames_.end(); ++it) {
        if (match(*it)) {
          found = std::move(*it);
          frames_.erase(it);
          return true;
        }
      }
      return false;
    });
    return found;
  }
  // Whether the service closed the connection, waiting up to `timeout` for it.
  bool closed(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return closed_; });
  }
  std::size_t pending() {
    std::lock_guard lock(mu_);
    return frames_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<nlohmann::json> frames_;
  bool closed_{false};
  bool going_away_{false};
};

// One connection to a service.
class RtmConnection {
 public:
  explicit RtmConnection(rtm::Service& service) : service_(service), sink_(std::make_shared<CollectingSink>()) {
    client_ = service_.connect(sink_, "test");
  }
  ~RtmConnection() { service_.disconnected(client_); }

  // Sends a request and returns its response (null on timeout).
  nlohmann::json request(const std::string& action, const nlohmann::json& payload = nlohmann::json::object()) {
    const std::string id = std::to_string(++next_id_);
    service_.receive(client_, nlohmann::json{{"request_id", id}, {"action", action}, {"payload", payload}}.dump());
    return sink_->take([&](const nlohmann::json& f) { return f.value("type", "") == "response" && f.value("request_id", "") == id; });
  }
  void raw(const std::string& frame) { service_.receive(client_, frame); }
  nlohmann::json push(const std::string& action, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return sink_->take([&](const nlohmann::json& f) { return f.value("type", "") == "push" && f.value("action", "") == action; },
                       timeout);
  }
  nlohmann::json any_response() {
    return sink_->take([](const nlohmann::json& f) { return f.value("type", "") == "response"; });
  }
  CollectingSink& sink() { return *sink_; }
  const std::shared_ptr<rtm::Client>& client() { return client_; }

 private:
  rtm::Service& service_;
  std::shared_ptr<CollectingSink> sink_;
  std::shared_ptr<rtm::Client> client_;
  int next_id_{0};
};

}  // namespace chatctl::test
