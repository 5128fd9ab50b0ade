#pragma once

#include <istream>
#include <string>
#include <vector>

#include "engine/channels.hpp"

namespace chatctl::engine {

// Reads declarative channel files for `channel apply` and `channel diff`.
//
// A file holds one or more YAML documents, each a mapping with a `channels` list; every entry has
// a `name` and any of group, customer_users, public_users, validity, comment (see
// schemas/json/channels.schema.json). `paths` are files, folders (their *.yaml and *.yml files,
// sorted by name, not recursive) or "-" for standard input.
//
// Throws Error(no_input) for a missing path and Error(data) for malformed YAML or a schema
// violation, the message starting with file:line:col. Field limits are checked too, so a file that
// loads cleanly fails apply only on conflicts with the database.
std::vector<ChannelSpec> load_channel_files(const std::vector<std::string>& paths, std::istream& stdin_stream);

// Parses one YAML text; `source_name` names it in messages.
std::vector<ChannelSpec> parse_channel_yaml(const std::string& text, const std::string& source_name);

}  // namespace chatctl::engine
