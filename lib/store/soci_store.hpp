#pragma once

#include <soci/soci.h>

#include <memory>
#include <string>

#include "store/store.hpp"

namespace chatctl::store {

// The Store over one SOCI session, for the sqlite3 and postgresql backends. SQL that differs
// between the two is chosen by backend_ in the .cpp; everything else is shared.
class SociStore final : public Store {
 public:
  // Connects; throws Error(unavailable) when the database cannot be opened or reached.
  SociStore(Backend backend, const std::string& connect_string, std::string display_address,
            std::int64_t busy_timeout_ms);
  ~SociStore() override;

  Backend backend() const noexcept override { return backend_; }
  std::string address() const override { return display_address_; }

  void begin_write() override;
  void commit() override;
  void rollback() noexcept override;
  void lock_in_transaction(std::int64_t key) override;

  std::vector<MigrationState> migration_status() override;
  int migrate() override;

  std::optional<std::string> meta_get(std::string_view key) override;
  void meta_set(std::string_view key, std::string_view value) override;

  std::vector<model::Channel> list_channels(const ChannelFilter& filter) override;
  std::optional<model::Channel> find_channel(model::ChannelId id) override;
  std::optional<model::Channel> find_channel_by_name(std::string_view name) override;
  model::ChannelId insert_channel(const model::Channel& channel) override;
  void update_channel(const model::Channel& channel) override;

  std::int64_t append_event(const EventRecord& event) override;
  std::vector<EventRecord> list_events(const EventFilter& filter) override;
  std::int64_t last_event_seq() override;

 private:
  std::vector<model::Channel> query_channels(const std::string& where, const std::string& text_param,
                                             long long id_param);
  void ensure_migrations_table();

  Backend backend_;
  std::string display_address_;
  soci::session sql_;
  bool in_transaction_{false};
};

}  // namespace chatctl::store
