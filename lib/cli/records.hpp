#pragma once

#include <vector>

#include "cli/output.hpp"
#include "core/settings.hpp"
#include "engine/channels.hpp"
#include "model/channel.hpp"
#include "model/chat.hpp"
#include "model/people.hpp"
#include "model/webhook.hpp"
#include "store/store.hpp"

namespace chatctl::cli {

// How channels and apply plans look in every output format. The keys are a stable interface for
// scripts (and the field names of channel files), so they only ever grow.
Record channel_record(const model::Channel& channel);
const std::vector<Column>& channel_columns();

// A setting with its effective value (typed: booleans and integers as JSON ones, secrets
// redacted) and, with `origin`, where the value came from.
Record setting_record(const core::SettingDef& def, const core::Settings& settings, bool origin);

// Agents and customers; availability is the effective one (off-line when not seen lately).
Record agent_record(const model::Agent& agent, model::AgentAvailability effective);
const std::vector<Column>& agent_columns();
Record customer_record(const model::Customer& customer, model::CustomerAvailability effective);
// A token without its secret: id, customer, state (valid, expired, revoked), times.
Record token_record(const model::CustomerToken& token, core::Micros now);
const std::vector<Column>& token_columns();
Record greeting_record(const model::Greeting& greeting);
const std::vector<Column>& customer_columns();

// The chat engine's records; their -o name field is the id (name_key "id").
Record chat_record(const model::Chat& chat);
const std::vector<Column>& chat_columns();
Record participant_record(const model::Participant& participant);
const std::vector<Column>& participant_columns();
Record message_record(const model::Message& message);
const std::vector<Column>& message_columns();
Record flag_record(const model::Flag& flag);
Record invite_record(const model::Invite& invite);
const std::vector<Column>& invite_columns();
const std::vector<Column>& flag_columns();

// Event log rows (payload parsed back into JSON) and schema migrations.
Record event_record(const store::EventRecord& event);
const std::vector<Column>& event_columns();
Record migration_record(const store::MigrationState& migration);
const std::vector<Column>& migration_columns();

// Webhooks: never their secret, only whether they have one ("signed").
Record webhook_record(const model::Webhook& webhook, std::size_t queued);
const std::vector<Column>& webhook_columns();
Record delivery_record(const model::WebhookDelivery& delivery);
const std::vector<Column>& delivery_columns();

Record plan_record(const engine::PlanEntry& entry);
const std::vector<Column>& plan_columns();

}  // namespace chatctl::cli
