#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "model/channel.hpp"
#include "store/store.hpp"

namespace chatctl::engine {

// Fields to set on a channel; unset optionals are left as they are (or defaulted on creation).
struct ChannelFields {
  std::optional<std::string> name{};
  std::optional<std::string> group{};
  std::optional<bool> customer_users{};
  std::optional<bool> public_users{};
  std::optional<model::Validity> validity{};
  std::optional<std::string> comment{};

  bool empty() const {
    return !name && !group && !customer_users && !public_users && !validity && !comment;
  }
};

// Checks the fields that are set against the specification's limits (name 1..200 characters,
// unique, no control characters; group required on creation; comment at most 250 characters).
// Throws Error(data) with a message naming the field; `where` prefixes it (a file position).
void validate_channel_fields(const ChannelFields& fields, bool creating, const std::string& where = "");

// One channel of a declarative file (`channel apply -f`), with where it was written.
struct ChannelSpec {
  std::string name;
  ChannelFields fields;  // fields.name is unset: the name identifies the channel
  std::string source;    // "channels.yaml:4:5"
};

enum class PlanAction { created, updated, unchanged };
std::string_view to_string(PlanAction action);

struct FieldChange {
  std::string field;
  std::string before;
  std::string after;
};

struct PlanEntry {
  PlanAction action{PlanAction::unchanged};
  model::Channel channel;             // as it is (or would be) after the change
  std::vector<FieldChange> changes{};  // for updated
};

struct ApplyResult {
  std::vector<PlanEntry> entries;
  bool changed() const;
};

// Chat channel administration: the OTRS rules for channels. Channels are never deleted; they are
// deactivated by setting their validity. Every mutation runs in one write transaction and appends a
// ChannelAdd or ChannelUpdate event to the event log in it.
//
// Not thread-safe (it uses one Store).
class ChannelAdmin {
 public:
  ChannelAdmin(store::Store& store, const core::Clock& clock, std::string actor);

  // Returns the new channel (with id 0 on a dry run). Throws Error(data) on invalid fields or a
  // duplicate name.
  model::Channel add(const ChannelFields& fields, bool dry_run);
  // The insert step of add() for callers that already hold a write transaction: validates,
  // inserts and logs ChannelAdd, without the duplicate-name check add() makes first.
  model::Channel insert(const ChannelFields& fields);
  // `ref` is a channel name or id. Throws Error(not_found) for an unknown channel.
  PlanEntry update(std::string_view ref, const ChannelFields& fields, bool dry_run);
  model::Channel get(std::string_view ref);
  std::vector<model::Channel> list(const store::ChannelFilter& filter);

  // Brings the channels named in `specs` to the state they describe, all or nothing in one
  // transaction. With dry_run nothing is written. Specs must have distinct names.
  ApplyResult apply(const std::vector<ChannelSpec>& specs, bool dry_run);
  // The plan apply would carry out, read without taking the write lock.
  ApplyResult diff(const std::vector<ChannelSpec>& specs);

 private:
  std::optional<model::Channel> resolve(std::string_view ref);
  ApplyResult plan(const std::vector<ChannelSpec>& specs);
  // Writes an updated entry's channel with the change stamp and logs ChannelUpdate.
  void save_update(PlanEntry& entry, core::Micros now);
  void log_event(std::string_view type, const model::Channel& channel, const std::vector<FieldChange>& changes);

  store::Store& store_;
  const core::Clock& clock_;
  std::string actor_;
};

}  // namespace chatctl::engine
