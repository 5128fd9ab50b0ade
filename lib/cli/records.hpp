#pragma once

#include <vector>

#include "cli/output.hpp"
#include "core/settings.hpp"
#include "engine/channels.hpp"
#include "model/channel.hpp"

namespace chatctl::cli {

// How channels and apply plans look in every output format. The keys are a stable interface for
// scripts (and the field names of channel files), so they only ever grow.
Record channel_record(const model::Channel& channel);
const std::vector<Column>& channel_columns();

// A setting with its effective value (typed: booleans and integers as JSON ones, secrets
// redacted) and, with `origin`, where the value came from.
Record setting_record(const core::SettingDef& def, const core::Settings& settings, bool origin);

Record plan_record(const engine::PlanEntry& entry);
const std::vector<Column>& plan_columns();

}  // namespace chatctl::cli
