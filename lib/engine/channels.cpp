#include "engine/channels.hpp"

#include <nlohmann/json.hpp>

#include <set>

#include "core/error.hpp"
#include "core/text.hpp"
#include "engine/validate.hpp"

namespace chatctl::engine {
namespace {

using core::Error;
using core::ErrorKind;

std::string prefixed(const std::string& where, const std::string& msg) {
  return where.empty() ? msg : where + ": " + msg;
}

const char* yes_no(bool b) { return b ? "true" : "false"; }

// Applies `f` onto `c`, returning what changed.
std::vector<FieldChange> merge(model::Channel& c, const ChannelFields& f) {
  std::vector<FieldChange> changes;
  const auto text = [&](const char* field, std::string& current, const std::optional<std::string>& wanted) {
    if (wanted && *wanted != current) {
      changes.push_back({field, current, *wanted});
      current = *wanted;
    }
  };
  const auto flag = [&](const char* field, bool& current, const std::optional<bool>& wanted) {
    if (wanted && *wanted != current) {
      changes.push_back({field, yes_no(current), yes_no(*wanted)});
      current = *wanted;
    }
  };
  text("name", c.name, f.name);
  text("group", c.group, f.group);
  flag("customer_users", c.customer_users, f.customer_users);
  flag("public_users", c.public_users, f.public_users);
  if (f.validity && *f.validity != c.validity) {
    changes.push_back({"validity", std::string(model::to_string(c.validity)), std::string(model::to_string(*f.validity))});
    c.validity = *f.validity;
  }
  text("comment", c.comment, f.comment);
  return changes;
}

nlohmann::json channel_payload(const model::Channel& c) {
  return {{"id", c.id},
          {"name", c.name},
          {"group", c.group},
          {"customer_users", c.customer_users},
          {"public_users", c.public_users},
          {"validity", model::to_string(c.validity)},
          {"comment", c.comment}};
}

}  // namespace

void validate_channel_fields(const ChannelFields& f, bool creating, const std::string& where) {
  if (creating && !f.name) throw Error(ErrorKind::data, prefixed(where, "name is required"));
  if (creating && !f.group) throw Error(ErrorKind::data, prefixed(where, "group is required for a new channel"));
  if (f.name) check_text("name", *f.name, {model::kMaxChannelNameLength}, where);
  if (f.group) check_text("group", *f.group, {model::kMaxGroupNameLength}, where);
  if (f.comment) check_text("comment", *f.comment, {model::kMaxCommentLength, false, true}, where);
}

std::string_view to_string(PlanAction action) {
  switch (action) {
    case PlanAction::created: return "created";
    case PlanAction::updated: return "updated";
    case PlanAction::unchanged: return "unchanged";
  }
  return "unchanged";
}

bool ApplyResult::changed() const {
  return std::any_of(entries.begin(), entries.end(), [](const auto& e) { return e.action != PlanAction::unchanged; });
}

ChannelAdmin::ChannelAdmin(store::Store& store, const core::Clock& clock, std::string actor)
    : store_(store), clock_(clock), actor_(std::move(actor)) {}

std::optional<model::Channel> ChannelAdmin::resolve(std::string_view ref) {
  if (!core::utf8_length(ref)) return std::nullopt;  // no channel has such a name
  // Names win over ids: a channel may be called "2".
  if (auto c = store_.find_channel_by_name(ref)) return c;
  if (const auto id = core::parse_int(ref); id && *id > 0) return store_.find_channel(*id);
  return std::nullopt;
}

model::Channel ChannelAdmin::get(std::string_view ref) {
  auto c = resolve(ref);
  if (!c) throw Error(ErrorKind::not_found, "no channel named or numbered " + core::quoted(ref));
  return *c;
}

std::vector<model::Channel> ChannelAdmin::list(const store::ChannelFilter& filter) {
  return store_.list_channels(filter);
}

void ChannelAdmin::log_event(std::string_view type, const model::Channel& c, const std::vector<FieldChange>& changes) {
  nlohmann::json payload = channel_payload(c);
  if (!changes.empty()) {
    auto& ch = payload["changes"] = nlohmann::json::object();
    for (const auto& change : changes) ch[change.field] = {{"before", change.before}, {"after", change.after}};
  }
  store::EventRecord e;
  e.type = std::string(type);
  e.time = clock_.now();
  e.actor = actor_;
  e.channel_id = c.id;
  e.payload = payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  store_.append_event(e);
}

model::Channel ChannelAdmin::add(const ChannelFields& fields, bool dry_run) {
  validate_channel_fields(fields, true);
  store::WriteTransaction tx(store_);
  if (store_.find_channel_by_name(*fields.name)) {
    throw Error(ErrorKind::data, "a channel named " + core::quoted(*fields.name) + " already exists");
  }
  if (dry_run) {
    model::Channel c;
    merge(c, fields);
    c.create_time = c.change_time = clock_.now();
    c.create_by = c.change_by = actor_;
    return c;
  }
  model::Channel c = insert(fields);
  tx.commit();
  return c;
}

void ChannelAdmin::save_update(PlanEntry& entry, core::Micros now) {
  entry.channel.change_time = now;
  entry.channel.change_by = actor_;
  store_.update_channel(entry.channel);
  log_event("ChannelUpdate", entry.channel, entry.changes);
}

model::Channel ChannelAdmin::insert(const ChannelFields& fields) {
  validate_channel_fields(fields, true);
  model::Channel c;
  merge(c, fields);
  c.create_time = c.change_time = clock_.now();
  c.create_by = c.change_by = actor_;
  c.id = store_.insert_channel(c);
  log_event("ChannelAdd", c, {});
  return c;
}

PlanEntry ChannelAdmin::update(std::string_view ref, const ChannelFields& fields, bool dry_run) {
  validate_channel_fields(fields, false);
  store::WriteTransaction tx(store_);
  PlanEntry entry;
  entry.channel = get(ref);
  entry.changes = merge(entry.channel, fields);
  if (entry.changes.empty()) return entry;
  entry.action = PlanAction::updated;
  if (fields.name) {
    const auto other = store_.find_channel_by_name(*fields.name);
    if (other && other->id != entry.channel.id) {
      throw Error(ErrorKind::data, "a channel named " + core::quoted(*fields.name) + " already exists");
    }
  }
  if (dry_run) {
    entry.channel.change_time = clock_.now();
    entry.channel.change_by = actor_;
    return entry;
  }
  save_update(entry, clock_.now());
  tx.commit();
  return entry;
}

ApplyResult ChannelAdmin::plan(const std::vector<ChannelSpec>& specs) {
  ApplyResult result;
  std::set<std::string> seen;
  for (const auto& spec : specs) {
    if (!seen.insert(spec.name).second) {
      throw Error(ErrorKind::data, prefixed(spec.source, "channel " + core::quoted(spec.name) + " is declared twice"));
    }
    PlanEntry entry;
    if (auto existing = store_.find_channel_by_name(spec.name)) {
      validate_channel_fields(spec.fields, false, spec.source);
      entry.channel = *existing;
      entry.changes = merge(entry.channel, spec.fields);
      entry.action = entry.changes.empty() ? PlanAction::unchanged : PlanAction::updated;
    } else {
      ChannelFields create = spec.fields;
      create.name = spec.name;
      validate_channel_fields(create, true, spec.source);
      merge(entry.channel, create);
      entry.action = PlanAction::created;
    }
    result.entries.push_back(std::move(entry));
  }
  return result;
}

ApplyResult ChannelAdmin::diff(const std::vector<ChannelSpec>& specs) { return plan(specs); }

ApplyResult ChannelAdmin::apply(const std::vector<ChannelSpec>& specs, bool dry_run) {
  store::WriteTransaction tx(store_);
  ApplyResult result = plan(specs);
  if (dry_run || !result.changed()) return result;
  const core::Micros now = clock_.now();
  for (std::size_t i = 0; i < result.entries.size(); ++i) {
    auto& entry = result.entries[i];
    if (entry.action == PlanAction::created) {
      ChannelFields create = specs[i].fields;
      create.name = specs[i].name;
      entry.channel = insert(create);
    } else if (entry.action == PlanAction::updated) {
      save_update(entry, now);
    }
  }
  tx.commit();
  return result;
}

}  // namespace chatctl::engine
