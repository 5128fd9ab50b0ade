#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "model/webhook.hpp"
#include "store/store.hpp"

namespace chatctl::webhook {

struct NewWebhook {
  std::string name;
  std::string url;
  std::vector<std::string> events;  // empty: all three
  std::string secret;
  bool stopped{false};
};

struct WebhookChange {
  std::optional<std::string> url{};
  std::optional<std::vector<std::string>> events{};
  std::optional<std::string> secret{};  // "" removes it
  std::optional<model::WebhookState> state{};  // Active or Stopped
};

// Administration of webhooks. A new webhook receives events committed after it was added.
// Names are 1..200 characters; URLs http(s); events chatsession.created|message|changed.
// Error(data) for bad values or a duplicate name, Error(not_found) for an unknown name.
class WebhookAdmin {
 public:
  WebhookAdmin(store::Store& store, const core::Clock& clock) : store_(store), clock_(clock) {}
  model::Webhook add(const NewWebhook& w, bool dry_run);
  model::Webhook update(const std::string& name, const WebhookChange& change, bool dry_run);
  // Active again after TooManyErrors (or Stopped), failures forgotten; the queue resumes where it stopped.
  model::Webhook reset(const std::string& name, bool dry_run);
  void remove(const std::string& name, bool dry_run);
  model::Webhook get(const std::string& name);
  std::vector<model::Webhook> list();
  // Deliveries waiting (and their attempts so far), in order.
  std::vector<model::WebhookDelivery> queue(const std::string& name, std::size_t limit);

 private:
  store::Store& store_;
  const core::Clock& clock_;
};

}  // namespace chatctl::webhook
