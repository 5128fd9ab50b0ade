#pragma once

#include <soci/soci.h>

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "store/migrations.hpp"
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
  int write_depth() const noexcept override { return depth_; }
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

  std::vector<model::Agent> list_agents(const AgentFilter& filter) override;
  std::optional<model::Agent> find_agent(std::string_view login) override;
  model::AgentId insert_agent(const model::Agent& agent) override;
  void update_agent(const model::Agent& agent) override;

  std::vector<model::Customer> list_customers(const CustomerFilter& filter) override;
  std::optional<model::Customer> find_customer(std::string_view id) override;
  void insert_customer(const model::Customer& customer) override;
  void update_customer(const model::Customer& customer) override;
  std::int64_t insert_token(const model::CustomerToken& token) override;
  std::optional<model::CustomerToken> find_token(std::string_view token_hash) override;
  std::vector<model::CustomerToken> list_tokens(const std::optional<std::string>& customer_id) override;
  std::size_t revoke_tokens(std::int64_t id, const std::optional<std::string>& customer_id) override;
  std::int64_t insert_greeting(const model::Greeting& greeting) override;
  std::optional<model::Greeting> find_greeting(std::string_view unique_id) override;
  std::vector<model::Greeting> list_greetings(std::string_view customer_id) override;
  void update_greeting(const model::Greeting& greeting) override;

  model::ChatId insert_chat(const model::Chat& chat) override;
  void update_chat(const model::Chat& chat) override;
  std::optional<model::Chat> find_chat(model::ChatId id) override;
  std::vector<model::Chat> list_chats(const ChatFilter& filter) override;
  std::vector<model::ChatId> list_chat_ids(const ChatFilter& filter) override;
  std::vector<ChatterChat> chatter_chats(model::ChatterType type, const std::string& chatter_id) override;
  bool delete_chat(model::ChatId id) override;
  DeleteCounts delete_chats(const std::vector<model::ChatId>& ids) override;

  model::ThreadId insert_thread(const model::Thread& thread) override;
  void update_thread(const model::Thread& thread) override;
  std::vector<model::Thread> list_threads(model::ChatId chat) override;

  std::vector<Transcript> read_transcripts(const ChatFilter& filter, bool include_internal) override;
  void insert_transcripts(const std::vector<Transcript>& transcripts) override;
  void sync_id_sequences() override;
  void bulk_mode(bool on) override;
  void checkpoint() override;
  bool checkpoint_wal() override;
  std::int64_t wal_bytes() const override;
  void scratch_mode() override;
  void restore_rows(const std::string& template_path) override;
  std::unique_ptr<ProcessLock> try_process_lock(std::string_view name) override;

  model::ParticipantId insert_participant(const model::Participant& participant) override;
  void update_participant(const model::Participant& participant) override;
  std::optional<model::Participant> find_participant(model::ChatId chat, model::ChatterType type,
                                                     std::string_view chatter_id) override;
  std::vector<model::Participant> list_participants(model::ChatId chat) override;
  std::size_t delete_participants(model::ChatId chat) override;

  model::MessageId insert_message(const model::Message& message) override;
  void update_message(const model::Message& message) override;
  std::optional<model::Message> find_message(model::MessageId id) override;
  std::vector<model::Message> list_messages(const MessageFilter& filter) override;

  void set_flag(const model::Flag& flag) override;
  std::size_t delete_flags(model::ChatId chat, std::string_view key, const std::optional<std::string>& user) override;
  std::vector<model::Flag> list_flags(const FlagFilter& filter) override;

  void insert_invite(const model::Invite& invite) override;
  std::vector<model::Invite> list_invites(std::string_view chatter_id, std::optional<model::ChatId> chat,
                                          std::optional<model::ChatId> invitation_chat) override;
  std::size_t delete_invites(std::string_view chatter_id, std::optional<model::ChatId> chat,
                             std::optional<model::ChatId> invitation_chat) override;

  std::vector<model::Webhook> list_webhooks() override;
  std::optional<model::Webhook> find_webhook(std::string_view name) override;
  model::WebhookId insert_webhook(const model::Webhook& webhook) override;
  void update_webhook(const model::Webhook& webhook) override;
  bool delete_webhook(model::WebhookId id) override;
  void enqueue_deliveries(const std::vector<model::WebhookDelivery>& deliveries) override;
  std::vector<model::WebhookDelivery> list_deliveries(model::WebhookId id, std::size_t limit,
                                                      bool heads_only = false) override;
  void update_delivery(const model::WebhookDelivery& delivery) override;
  void delete_delivery(model::WebhookId id, std::int64_t seq) override;

  std::int64_t append_event(const EventRecord& event) override;
  void append_events(const std::vector<EventRecord>& events) override;
  std::vector<EventRecord> list_events(const EventFilter& filter) override;
  std::int64_t last_event_seq() override;

 private:
  // Statements prepared once per connection and run many times (see soci_store.cpp).
  struct Prepared;
  template <class Cols>
  struct PreparedWith;
  template <class Cols>
  class Reused;
  template <class Cols, class Bind>
  Reused<Cols> reuse(const std::string& sql, const std::vector<std::string>& texts, const std::vector<long long>& ints,
                     Bind&& bind);
  template <class Cols, class Bind>
  Reused<Cols> reuse(const std::string& sql, Bind&& bind) {
    return reuse<Cols>(sql, {}, {}, std::forward<Bind>(bind));
  }
  // PostgreSQL: runs the session's SET statements and routes libpq's notices to the log.
  void set_up_postgres_session();
  // PostgreSQL: connects again, outside a transaction, when the server ended the connection.
  // Throws Error(unavailable) while it cannot.
  void reconnect_if_lost();
  // A statement without parameters or results (BEGIN, SAVEPOINT, ...), prepared once.
  void run(const std::string& sql);
  // An INSERT's new id: " RETURNING column" on PostgreSQL, whose value inserted_id passes
  // through; nothing on SQLite, where inserted_id reads the connection's last rowid.
  std::string returning(const char* column) const;
  long long inserted_id(long long returned);

  std::vector<model::Channel> query_channels(const std::string& where, const std::string& text_param,
                                             long long id_param);
  void ensure_migrations_table();
  // Runs one migration's statements and records it, in the caller's transaction.
  void apply_migration(const Migration& m, const std::string& what);
  void schema_edited();
  std::vector<model::Agent> query_agents(const std::string& where, const std::vector<std::string>& text_params,
                                         const std::vector<long long>& int_params);
  void write_agent_sets(const model::Agent& agent);
  std::vector<model::Chat> query_chats(const std::string& where, const std::vector<std::string>& texts,
                                       const std::vector<long long>& ints, std::size_t limit);
  // A cell of insert_rows: NULL, an integer or a text.
  using Cell = std::variant<std::nullptr_t, long long, std::string>;
  // INSERT INTO table (columns) VALUES (...), (...): many rows per statement, bound by position.
  void insert_rows(const std::string& table, const std::vector<std::string>& columns,
                   const std::vector<std::vector<Cell>>& rows);
  std::vector<model::Webhook> query_webhooks(const std::string& where, const std::vector<std::string>& texts);
  std::vector<model::Thread> query_threads(const std::string& where, const std::vector<long long>& ints);
  std::vector<model::Message> query_messages(const std::string& where, const std::vector<std::string>& texts,
                                             const std::vector<long long>& ints, const std::string& order,
                                             bool with_author = true);
  std::vector<model::Flag> query_flags(const std::string& where, const std::vector<std::string>& texts,
                                       const std::vector<long long>& ints, const std::string& tail);
  std::vector<model::Invite> query_invites(const std::string& where, const std::vector<std::string>& texts,
                                           const std::vector<long long>& ints);
  std::vector<model::Participant> query_participants(const std::string& where, const std::vector<std::string>& texts,
                                                     const std::vector<long long>& ints);
  std::vector<model::CustomerToken> query_tokens(const std::string& where, const std::vector<std::string>& texts);
  std::vector<model::Greeting> query_greetings(const std::string& where, const std::vector<std::string>& texts);
  std::vector<model::Customer> query_customers(const std::string& where, const std::vector<std::string>& text_params,
                                               const std::vector<long long>& int_params);

  Backend backend_;
  std::string display_address_;
  std::int64_t busy_timeout_ms_;
  soci::session sql_;
  int depth_{0};  // open write transactions: 1 the transaction, more its savepoints
  bool event_log_locked_{false};  // this transaction holds kEventLogLock
  std::string attached_template_;           // restore_rows: the database attached as chatctl_template
  std::vector<std::string> restore_order_;  // its tables, parents before children
  std::string filled_tables_sql_;           // names the tables of main that hold rows
  std::vector<std::string> template_filled_;  // the template's tables that hold rows
  std::chrono::steady_clock::time_point last_checkpoint_{};
  long long page_size_{0};          // SQLite's, read by bulk_mode
  std::int64_t wal_frames_{0};       // in bulk mode: the WAL's frames after the last commit
  // What this write transaction has read or written of chats, their threads and participants,
  // customers and meta: a request's checks and the engine's operations read the same rows several
  // times, and a batch of chatd's requests the same customers. Writers run one at a time (BEGIN
  // IMMEDIATE; kWriteLock on PostgreSQL), so nothing else changes these rows before the
  // transaction ends. Emptied when the transaction ends and by any rollback; every
  // write to a cached table updates or drops what it touches.
  struct TxCache {
    std::unordered_map<model::ChatId, model::Chat> chats;
    std::unordered_map<model::ChatId, std::vector<model::Thread>> threads;
    std::unordered_map<model::ChatId, std::vector<model::Participant>> participants;
    std::unordered_map<std::string, std::optional<std::string>> meta;
    std::unordered_map<std::string, model::Customer> customers;
    void clear() {
      customers.clear();
      chats.clear();
      threads.clear();
      participants.clear();
      meta.clear();
    }
  };
  TxCache tx_cache_;

  // Keyed by SQL text; after sql_, so the statements are finalized before the connection closes.
  std::unordered_map<std::string, std::unique_ptr<Prepared>> prepared_;
};

}  // namespace chatctl::store
