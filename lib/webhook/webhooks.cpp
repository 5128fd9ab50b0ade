#include "webhook/webhooks.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/text.hpp"
#include "engine/validate.hpp"
#include "webhook/http.hpp"

namespace chatctl::webhook {
namespace {

using core::Error;
using core::ErrorKind;

std::vector<std::string> checked_events(std::vector<std::string> events) {
  if (events.empty()) return {std::begin(model::kWebhookEvents), std::end(model::kWebhookEvents)};
  std::vector<std::string> out;
  for (const auto& e : events) {
    if (std::find(std::begin(model::kWebhookEvents), std::end(model::kWebhookEvents), e) ==
        std::end(model::kWebhookEvents)) {
      throw Error(ErrorKind::data, "unknown webhook event " + core::quoted(e) +
                                       ": use chatsession.created, chatsession.message or chatsession.changed");
    }
    if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
  }
  return out;
}

}  // namespace

model::Webhook WebhookAdmin::get(const std::string& name) {
  auto w = store_.find_webhook(name);
  if (!w) throw Error(ErrorKind::not_found, "no webhook " + core::quoted(name));
  return *w;
}

std::vector<model::Webhook> WebhookAdmin::list() { return store_.list_webhooks(); }

model::Webhook WebhookAdmin::add(const NewWebhook& n, bool dry_run) {
  engine::check_text("webhook name", n.name, {200});
  parse_url(n.url);
  model::Webhook w;
  w.name = n.name;
  w.url = n.url;
  w.events = checked_events(n.events);
  w.secret = n.secret;
  w.state = n.stopped ? model::WebhookState::stopped : model::WebhookState::active;
  w.create_time = w.change_time = clock_.now();
  store::WriteTransaction tx(store_);
  if (store_.find_webhook(n.name)) throw Error(ErrorKind::data, "a webhook named " + core::quoted(n.name) + " exists");
  w.cursor = store_.last_event_seq();  // only what happens from now on
  if (dry_run) return w;
  w.id = store_.insert_webhook(w);
  tx.commit();
  return w;
}

model::Webhook WebhookAdmin::update(const std::string& name, const WebhookChange& c, bool dry_run) {
  if (c.url) parse_url(*c.url);
  if (c.state && *c.state == model::WebhookState::too_many_errors) {
    throw Error(ErrorKind::data, "a webhook is set Active or Stopped; TooManyErrors is chatctl's to set");
  }
  store::WriteTransaction tx(store_);
  auto w = get(name);
  if (c.url) w.url = *c.url;
  if (c.events) w.events = checked_events(*c.events);
  if (c.secret) w.secret = *c.secret;
  if (c.state) {
    w.state = *c.state;
    if (w.state == model::WebhookState::active) w.failures = 0;
  }
  w.change_time = clock_.now();
  if (dry_run) return w;
  store_.update_webhook(w);
  tx.commit();
  return w;
}

model::Webhook WebhookAdmin::reset(const std::string& name, bool dry_run) {
  store::WriteTransaction tx(store_);
  auto w = get(name);
  w.state = model::WebhookState::active;
  w.failures = 0;
  w.last_error.clear();
  w.change_time = clock_.now();
  if (dry_run) return w;
  store_.update_webhook(w);
  // Waiting deliveries are due at once again.
  for (auto d : store_.list_deliveries(w.id, 0)) {
    if (d.next_attempt_time == 0) continue;
    d.next_attempt_time = 0;
    store_.update_delivery(d);
  }
  tx.commit();
  return w;
}

void WebhookAdmin::remove(const std::string& name, bool dry_run) {
  store::WriteTransaction tx(store_);
  const auto w = get(name);
  if (dry_run) return;
  store_.delete_webhook(w.id);
  tx.commit();
}

std::vector<model::WebhookDelivery> WebhookAdmin::queue(const std::string& name, std::size_t limit) {
  return store_.list_deliveries(get(name).id, limit);
}

}  // namespace chatctl::webhook
