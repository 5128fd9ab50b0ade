#pragma once

#include <cstddef>
#include <functional>
#include <istream>
#include <string>

#include "core/clock.hpp"
#include "store/store.hpp"

namespace chatctl::transcript {

struct ImportOptions {
  std::string source_name{"-"};  // for messages: "FILE:LINE: ..."
  bool dry_run{false};
  std::size_t batch_size{200};   // chats per transaction
  std::function<void(std::size_t records)> progress{};
};

struct ImportReport {
  bool dry_run{false};
  std::size_t read{0};      // records read
  std::size_t imported{0};  // chats written (dry run: that would be written)
  std::size_t skipped{0};   // chats whose id exists already
  std::size_t threads{0};
  std::size_t messages{0};
  std::size_t participants{0};
  std::size_t flags{0};
  std::size_t invites{0};
};

// Reads what export_chats writes (a JSON array with a chat per line, JSON lines, or any JSON
// array) and re-creates the chats with their ids. Idempotent: a chat whose id exists is skipped.
// Writes in transactions of batch_size chats; a malformed record is Error(data) naming
// "SOURCE:LINE" (or the record's position in a free-form array), and the batch it belongs to is
// not written at all (earlier batches stay; running again skips them). Groups name channels of
// this database (0: its default channel). Logs ChatImport for every chat written.
ImportReport import_chats(store::Store& store, const core::Clock& clock, const std::string& actor,
                          const ImportOptions& options, std::istream& in);

// One record (a parsed chat object) as a transcript; Error(data) when it is not one.
store::Transcript parse_chat(const std::string& record, model::ChannelId default_channel);

}  // namespace chatctl::transcript
