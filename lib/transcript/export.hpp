#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "store/store.hpp"

namespace chatctl::transcript {

struct ExportOptions {
  store::ChatFilter filter;       // which chats (its limit is ignored; pages are page_size)
  bool include_internal{false};   // messages for agents only
  bool json_lines{false};         // one chat per line; else one JSON array, a chat per line
  std::size_t page_size{256};    // chats read per query: memory stays flat however many chats
  std::function<void(std::size_t chats)> progress{};
};

struct ExportReport {
  std::size_t chats{0};
  std::size_t events{0};
  std::uint64_t bytes{0};
};

// Writes chats as RTM v3.2 `Chat` objects (id, threads with their events, users, access,
// properties) plus a "chatctl" member holding the engine state RTM has no place for (status,
// requester, participants' details, flags, invites), so import can re-create them exactly.
// Ordered by chat id; the same database always gives the same bytes. See
// schemas/json/chat-export.schema.json. Throws Error(io) when `out` fails.
ExportReport export_chats(store::Store& store, const ExportOptions& options, std::ostream& out);

// One chat as export writes it (no newline), for tests and the importer's round trip.
std::string chat_json(const store::Transcript& transcript, model::ChannelId default_channel);

}  // namespace chatctl::transcript
