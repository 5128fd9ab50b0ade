#pragma once

#include <vector>

#include "cli/output.hpp"
#include "engine/channels.hpp"
#include "model/channel.hpp"

namespace chatctl::cli {

// How channels and apply plans look in every output format. The keys are a stable interface for
// scripts (and the field names of channel files), so they only ever grow.
Record channel_record(const model::Channel& channel);
const std::vector<Column>& channel_columns();

Record plan_record(const engine::PlanEntry& entry);
const std::vector<Column>& plan_columns();

}  // namespace chatctl::cli
