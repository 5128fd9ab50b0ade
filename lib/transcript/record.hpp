#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "rtm/service.hpp"
#include "transcript/fixture.hpp"

namespace chatctl::transcript {

// A fixture that re-enacts the customer side of every chat in an export (chatctl export, JSON or
// JSON lines): the customer logs in, starts a chat and sends its events; the agents join and
// answer from the shell's side, each answer expected as an incoming_event. Threads after the
// first are re-opened with deactivate_chat and activate_chat. Throws Error(no_input) for a
// missing file and Error(data), with the line, for one that is not an export.
Fixture fixture_from_export(const std::string& path);
void write_fixture_from_export(const std::string& path, std::ostream& out);

// One connection's conversation as a fixture that replays green against a fresh server: the
// customer's requests become sends with their responses and the pushes they caused as
// expectations; pushes an agent caused (a message, joining, leaving, closing, a transfer, typing,
// a greeting, a ban, a revoked token) become agent steps expecting them. Values the server
// generates (chat, thread and event ids, page ids, greeting ids) are captured where they first
// appear and referred to after; times match by type.
struct RecordedFrame {
  bool from_client{false};
  std::string text;
};
Fixture fixture_from_conversation(const std::vector<RecordedFrame>& frames, const std::string& name);

// chatd --record DIR: writes each connection's conversation to DIR when it ends (a connection
// that never logged in is not written). Thread-safe.
class ConversationRecorder final : public rtm::Observer {
 public:
  explicit ConversationRecorder(std::string dir);
  void opened(std::uint64_t connection) override;
  void received(std::uint64_t connection, const std::string& frame) override;
  void sent(std::uint64_t connection, const std::string& frame) override;
  void closed(std::uint64_t connection) override;

 private:
  std::string dir_;
  std::mutex mu_;  // guards conversations_
  std::map<std::uint64_t, std::vector<RecordedFrame>> conversations_;
};

}  // namespace chatctl::transcript
