#pragma once

#include <ostream>
#include <string>

#include "transcript/fixture.hpp"

namespace chatctl::transcript {

// A fixture that re-enacts the customer side of every chat in an export (chatctl export, JSON or
// JSON lines): the customer logs in, starts a chat and sends its events; the agents join and
// answer from the shell's side, each answer expected as an incoming_event. Threads after the
// first are re-opened with deactivate_chat and activate_chat. Throws Error(no_input) for a
// missing file and Error(data), with the line, for one that is not an export.
Fixture fixture_from_export(const std::string& path);
void write_fixture_from_export(const std::string& path, std::ostream& out);

}  // namespace chatctl::transcript
