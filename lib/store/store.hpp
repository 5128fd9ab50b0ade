#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "model/channel.hpp"
#include "model/chat.hpp"
#include "model/people.hpp"
#include "model/webhook.hpp"

namespace chatctl::store {

enum class Backend { sqlite, postgresql };
std::string_view to_string(Backend backend);

struct ChannelFilter {
  bool valid_only{false};                // validity == valid
  std::optional<bool> customer_users{};  // available to customer users
  std::optional<bool> public_users{};    // available to public users
};

struct MigrationState {
  int version{0};
  std::string name;
  std::optional<core::Micros> applied_at{};  // nullopt: pending
  bool known{true};                          // false: applied by a newer chatctl
};

// Throws Error(unavailable) when `states` (Store::migration_status) hold a migration a newer
// chatctl applied: this one must not write to, nor migrate, a schema it does not know.
void refuse_newer_schema(const std::vector<MigrationState>& states);

// One row of the event log: what happened, written in the transaction that made it happen.
struct EventRecord {
  std::int64_t seq{0};  // assigned by append_event; commit order equals seq order
  std::string type;     // ChatAdd, ChatChannelUpdate, ...
  core::Micros time{0};
  std::string actor;
  std::optional<std::int64_t> chat_id{};
  std::optional<std::int64_t> channel_id{};
  std::string payload{"{}"};  // a JSON object
};

struct AgentFilter {
  std::optional<std::string> group{};           // member of this group
  std::optional<core::Micros> seen_since{};     // last_seen >= this
  std::optional<model::AgentAvailability> min_availability{};
};

struct CustomerFilter {
  std::optional<model::CustomerKind> kind{};
  std::optional<core::Micros> seen_since{};
  std::optional<model::CustomerAvailability> min_availability{};
};

// ChatList's filters; unset members do not filter.
struct ChatFilter {
  std::optional<model::ChatStatus> status{};
  std::vector<model::ChatterType> requester_types{};
  std::optional<model::ChatterType> target_type{};
  std::vector<model::ChannelId> channel_ids{};
  std::optional<core::Micros> changed_before{};  // Outdated: change_time < this
  // Chats with this participant (ChatterID and ChatterType together), optionally only with that
  // participant active (1) or not yet (0), or with an invitation pending.
  std::optional<std::string> chatter_id{};
  std::optional<model::ChatterType> chatter_type{};
  std::optional<model::ChatterActive> chatter_active{};
  bool invitation_pending{false};
  std::vector<model::ChatId> ids{};              // only these chats
  std::optional<model::ChatId> after_id{};       // id > this (keyset paging)
  std::optional<core::Micros> created_since{};   // create_time >= this
  std::optional<core::Micros> created_before{};  // create_time < this
  std::size_t limit{0};  // 0: no limit
};

// A chat someone takes part in, as a customer's login sums them up (Store::chatter_chats).
struct ChatterChat {
  model::ChatId id{0};
  bool open{false};                  // not closed
  std::size_t threads{0};
  core::Micros last_thread_time{0};  // create_time of the last thread (by id); 0 without threads
  bool unread{false};                // a message by someone else, not internal, after its seen_up_to
};

// What deleting chats removed, by table.
struct DeleteCounts {
  std::size_t chats{0};
  std::size_t threads{0};
  std::size_t messages{0};
  std::size_t participants{0};
  std::size_t invites{0};
  std::size_t flags{0};
  std::size_t rows() const { return chats + threads + messages + participants + invites + flags; }
  DeleteCounts& operator+=(const DeleteCounts& o) {
    chats += o.chats;
    threads += o.threads;
    messages += o.messages;
    participants += o.participants;
    invites += o.invites;
    flags += o.flags;
    return *this;
  }
};

// A chat with everything that belongs to it, each list ordered by id (flags by key, user): what
// export writes and import reads. Messages carry their author's chatter id and type.
struct Transcript {
  model::Chat chat;
  std::vector<model::Thread> threads;
  std::vector<model::Participant> participants;
  std::vector<model::Message> messages;
  std::vector<model::Flag> flags;
  std::vector<model::Invite> invites;
};

// Held by this process until destroyed; see Store::try_process_lock.
class ProcessLock {
 public:
  virtual ~ProcessLock() = default;
};

struct MessageFilter {
  model::ChatId chat_id{0};
  std::optional<model::MessageId> after{};  // LastKnownChatMessageID
  bool exclude_internal{false};             // hide audience == agents
  bool exclude_customer{false};             // hide audience == customer
  bool text_only{false};                    // skip system-generated messages
  bool first{false};                        // only the first matching message
  bool last{false};                         // only the last matching message
};

// ChatFlagGet: at least one member must be set (the engine checks).
struct FlagFilter {
  std::optional<model::ChatId> chat_id{};
  std::optional<std::string> key{};
  std::optional<std::string> key_not{};
  std::optional<std::string> user{};
  std::optional<std::string> value{};
  std::optional<std::string> value_not{};
  std::size_t limit{0};   // 0: no limit
  std::size_t offset{0};  // for paging
};

// Which events to read: seq > after, oldest first, at most limit, optionally of one type, chat or
// channel.
struct EventFilter {
  std::int64_t after{0};
  std::size_t limit{1000};
  std::optional<std::string> type{};
  std::optional<std::int64_t> chat_id{};
  std::optional<std::int64_t> channel_id{};
};

// The persistence interface of chatctl. One implementation (SociStore) serves SQLite and
// PostgreSQL; tests wrap it to inject faults.
//
// Errors: every method throws core::Error and nothing else. Busy or locked databases and
// serialisation failures are ErrorKind::temporary; a lost or refused connection is
// ErrorKind::unavailable; a constraint violation is ErrorKind::data. Driver messages and SQLSTATEs
// never reach the message text.
//
// Threading: a Store is one database session. It is not thread-safe; use one per thread.
//
// Transactions: methods that write must run between begin_write() and commit(); reads may run
// inside or outside one. WriteTransaction is the RAII form and is what callers should use.
class Store {
 public:
  virtual ~Store() = default;

  virtual Backend backend() const noexcept = 0;
  // The database address with any password hidden, for messages.
  virtual std::string address() const = 0;

  // Starts a write transaction, taking the write lock at once (SQLite BEGIN IMMEDIATE), waiting at
  // most the busy timeout. Inside a write transaction, begin_write() opens a nested one (a
  // savepoint): its commit() keeps its work for the outer transaction to commit, its rollback()
  // undoes only its own work. That lets chatd run many requests in one transaction (group commit)
  // while a failing request leaves nothing behind.
  virtual void begin_write() = 0;
  virtual void commit() = 0;
  // Ends the innermost transaction. Never throws; a no-op when no transaction is open.
  virtual void rollback() noexcept = 0;
  // How many write transactions are open (0: none, 2: a savepoint inside a transaction).
  virtual int write_depth() const noexcept = 0;
  // Serialises a critical section between processes until the current transaction ends
  // (PostgreSQL advisory transaction lock; on SQLite the write transaction already is exclusive).
  virtual void lock_in_transaction(std::int64_t key) = 0;

  // Schema migrations: every known migration with its state, oldest first, followed by versions
  // applied by a newer chatctl (known == false).
  virtual std::vector<MigrationState> migration_status() = 0;
  // Applies pending migrations, each in its own transaction; returns how many were applied.
  // Throws Error(unavailable) when the schema is newer than this binary knows.
  virtual int migrate() = 0;

  // Small key/value facts about this database (e.g. which channel is the default one).
  virtual std::optional<std::string> meta_get(std::string_view key) = 0;
  virtual void meta_set(std::string_view key, std::string_view value) = 0;

  // Channels, ordered by id.
  virtual std::vector<model::Channel> list_channels(const ChannelFilter& filter) = 0;
  virtual std::optional<model::Channel> find_channel(model::ChannelId id) = 0;
  virtual std::optional<model::Channel> find_channel_by_name(std::string_view name) = 0;
  // Returns the new id. A duplicate name throws Error(data).
  virtual model::ChannelId insert_channel(const model::Channel& channel) = 0;
  // Writes every field of `channel` to the row with its id.
  virtual void update_channel(const model::Channel& channel) = 0;

  // Agents, ordered by login, with their groups and chosen channels.
  virtual std::vector<model::Agent> list_agents(const AgentFilter& filter) = 0;
  virtual std::optional<model::Agent> find_agent(std::string_view login) = 0;
  // Returns the new id. A duplicate login throws Error(data).
  virtual model::AgentId insert_agent(const model::Agent& agent) = 0;
  // Writes every field of the agent with agent.id, replacing its groups and channels.
  virtual void update_agent(const model::Agent& agent) = 0;

  // Customers, ordered by id.
  virtual std::vector<model::Customer> list_customers(const CustomerFilter& filter) = 0;
  virtual std::optional<model::Customer> find_customer(std::string_view id) = 0;
  // A duplicate id throws Error(data).
  virtual void insert_customer(const model::Customer& customer) = 0;
  virtual void update_customer(const model::Customer& customer) = 0;

  // Customer access tokens, found by their hash; listed by id, of one customer when given.
  virtual std::int64_t insert_token(const model::CustomerToken& token) = 0;
  virtual std::optional<model::CustomerToken> find_token(std::string_view token_hash) = 0;
  virtual std::vector<model::CustomerToken> list_tokens(const std::optional<std::string>& customer_id) = 0;
  // Marks the token with this id (or, with id 0, every token of `customer_id`) revoked; returns how many.
  virtual std::size_t revoke_tokens(std::int64_t id, const std::optional<std::string>& customer_id) = 0;

  // Greetings; a customer's are listed newest first.
  virtual std::int64_t insert_greeting(const model::Greeting& greeting) = 0;
  virtual std::optional<model::Greeting> find_greeting(std::string_view unique_id) = 0;
  virtual std::vector<model::Greeting> list_greetings(std::string_view customer_id) = 0;
  virtual void update_greeting(const model::Greeting& greeting) = 0;

  // Chats. Reads fill channel_name.
  virtual model::ChatId insert_chat(const model::Chat& chat) = 0;
  virtual void update_chat(const model::Chat& chat) = 0;
  virtual std::optional<model::Chat> find_chat(model::ChatId id) = 0;
  // Ordered by id.
  virtual std::vector<model::Chat> list_chats(const ChatFilter& filter) = 0;
  // Ids only, ordered by id.
  virtual std::vector<model::ChatId> list_chat_ids(const ChatFilter& filter) = 0;
  // Every chat this chatter takes part in (has a participant row in), ordered by id, summed up
  // in one query rather than each chat's rows and messages read.
  virtual std::vector<ChatterChat> chatter_chats(model::ChatterType type, const std::string& chatter_id) = 0;
  // Deletes the chat and everything that belongs to it; false when there was no such chat.
  virtual bool delete_chat(model::ChatId id) = 0;
  // Deletes these chats and everything that belongs to them, in a few statements.
  virtual DeleteCounts delete_chats(const std::vector<model::ChatId>& ids) = 0;

  // Threads of a chat, ordered by id (the last one is the current thread).
  virtual model::ThreadId insert_thread(const model::Thread& thread) = 0;
  virtual void update_thread(const model::Thread& thread) = 0;
  virtual std::vector<model::Thread> list_threads(model::ChatId chat) = 0;

  // The chats `filter` selects (its limit bounds the page), each with everything that belongs to
  // it; messages for agents only are left out unless include_internal.
  virtual std::vector<Transcript> read_transcripts(const ChatFilter& filter, bool include_internal) = 0;
  // Writes transcripts with the ids they carry (chats, threads, messages; participants get new
  // ids), a few multi-row statements per table. A message's author must be one of its chat's
  // participants (else Error(data)). Must run inside a write transaction.
  virtual void insert_transcripts(const std::vector<Transcript>& transcripts) = 0;
  // After rows were written with explicit ids: moves id generators past them (PostgreSQL).
  virtual void sync_id_sequences() = 0;

  // Tunes the session for a bulk job (cleanup, import). On SQLite, commits then do not checkpoint
  // the WAL themselves; checkpoint() runs a passive checkpoint between transactions (at most a few
  // a second), which never blocks writers, so the write lock is held only for the transaction's
  // own work. No-ops on PostgreSQL.
  virtual void bulk_mode(bool on) = 0;
  virtual void checkpoint() = 0;
  // In bulk mode on SQLite: the WAL's length after this session's last commit, in bytes (it
  // drops when the log starts over). 0 otherwise.
  virtual std::int64_t wal_bytes() const = 0;

  // Runs a passive checkpoint now, without checkpoint()'s rate limit; never blocks writers. True
  // when every frame of SQLite's write-ahead log is now in the database file (then the next
  // writer starts the log over). True on PostgreSQL.
  virtual bool checkpoint_wal() = 0;

  // SQLite: this session alone uses the database, whose rows need not survive a crash (replay's
  // throwaway databases). It keeps its locks on it until it closes (locking_mode EXCLUSIVE), so
  // no other connection can use it meanwhile; its rollback journal is in memory and it never
  // syncs (journal_mode MEMORY, synchronous OFF). Transactions, savepoints and rollbacks work as
  // before. No-op on PostgreSQL.
  virtual void scratch_mode() = 0;

  // Makes the rows of this SQLite database those of the SQLite database at `template_path`, which
  // has the same schema: every table emptied and refilled, sequences included, in one write
  // transaction. The schema is untouched, so other connections' prepared statements stay valid.
  // For replay, which runs many fixtures on one database. Error(internal) on PostgreSQL.
  virtual void restore_rows(const std::string& template_path) = 0;

  // A lock no other process can hold at the same time, named `name`, or nullptr at once when
  // another holds it: a file lock beside an SQLite database, a session advisory lock on
  // PostgreSQL (so processes on different hosts exclude each other too).
  virtual std::unique_ptr<ProcessLock> try_process_lock(std::string_view name) = 0;

  // Participants, unique per (chat, chatter type, chatter id).
  virtual model::ParticipantId insert_participant(const model::Participant& participant) = 0;
  virtual void update_participant(const model::Participant& participant) = 0;
  virtual std::optional<model::Participant> find_participant(model::ChatId chat, model::ChatterType type,
                                                             std::string_view chatter_id) = 0;
  // Ordered by id.
  virtual std::vector<model::Participant> list_participants(model::ChatId chat) = 0;
  // Removes every participant (and their messages and invites) of a chat; returns how many.
  virtual std::size_t delete_participants(model::ChatId chat) = 0;

  virtual model::MessageId insert_message(const model::Message& message) = 0;
  // Writes a message's properties and payload (its RTM fields), nothing else.
  virtual void update_message(const model::Message& message) = 0;
  virtual std::optional<model::Message> find_message(model::MessageId id) = 0;
  // Ordered by id; reads fill the chatter fields from the participant.
  virtual std::vector<model::Message> list_messages(const MessageFilter& filter) = 0;

  // Sets a flag, replacing the (chat, key, user) one.
  virtual void set_flag(const model::Flag& flag) = 0;
  // Deletes the key's flags of a chat, for one user or (user unset) all; returns how many.
  virtual std::size_t delete_flags(model::ChatId chat, std::string_view key, const std::optional<std::string>& user) = 0;
  // Ordered by chat, key, user.
  virtual std::vector<model::Flag> list_flags(const FlagFilter& filter) = 0;

  // Invites, unique per (chat, invited agent).
  virtual void insert_invite(const model::Invite& invite) = 0;
  // The agent's invites, to `chat` when given, or through `invitation_chat` when given.
  virtual std::vector<model::Invite> list_invites(std::string_view chatter_id, std::optional<model::ChatId> chat,
                                                  std::optional<model::ChatId> invitation_chat) = 0;
  // Deletes what list_invites would return; returns how many.
  virtual std::size_t delete_invites(std::string_view chatter_id, std::optional<model::ChatId> chat,
                                     std::optional<model::ChatId> invitation_chat) = 0;

  // Webhooks, ordered by name. A duplicate name throws Error(data).
  virtual std::vector<model::Webhook> list_webhooks() = 0;
  virtual std::optional<model::Webhook> find_webhook(std::string_view name) = 0;
  virtual model::WebhookId insert_webhook(const model::Webhook& webhook) = 0;
  // Writes every field of the webhook with webhook.id.
  virtual void update_webhook(const model::Webhook& webhook) = 0;
  // Deletes the webhook and its queue; false when there was none.
  virtual bool delete_webhook(model::WebhookId id) = 0;
  // A webhook's queue of deliveries, ordered by seq: adding (an existing seq is kept as it is),
  // reading the first `limit` (with `heads_only`, of each chat's oldest only: what may go next,
  // however long the queue behind one chat whose receiver fails), recording an attempt, and
  // removing a delivered one.
  virtual void enqueue_deliveries(const std::vector<model::WebhookDelivery>& deliveries) = 0;
  virtual std::vector<model::WebhookDelivery> list_deliveries(model::WebhookId id, std::size_t limit,
                                                              bool heads_only = false) = 0;
  virtual void update_delivery(const model::WebhookDelivery& delivery) = 0;
  virtual void delete_delivery(model::WebhookId id, std::int64_t seq) = 0;

  // Appends to the event log; returns the sequence number. Must run inside a write transaction,
  // which it serialises with every other appender so readers never see a gap fill in later.
  virtual std::int64_t append_event(const EventRecord& event) = 0;
  // The same for many events in one statement, in order (for batch jobs).
  virtual void append_events(const std::vector<EventRecord>& events) = 0;
  // Committed events matching `filter`, oldest first. Every event with seq > filter.after that is
  // not returned by one call has a larger seq than all that were (no gaps fill in later).
  virtual std::vector<EventRecord> list_events(const EventFilter& filter) = 0;
  // The highest committed seq, 0 for an empty log.
  virtual std::int64_t last_event_seq() = 0;
};

// Commits on commit(), rolls back when destroyed without it (an exception unwound past it).
// Inside another write transaction it is a savepoint (see Store::begin_write).
class WriteTransaction {
 public:
  explicit WriteTransaction(Store& store) : store_(store) { store_.begin_write(); }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  ~WriteTransaction() {
    if (!done_) store_.rollback();
  }
  void commit() {
    store_.commit();
    done_ = true;
  }

 private:
  Store& store_;
  bool done_{false};
};

// Opens the database named by `address` (see dsn.hpp). `create_parent` makes the SQLite file's
// folder when missing (for the default location). Does not migrate.
struct OpenOptions {
  std::string address;
  std::int64_t busy_timeout_ms{5000};
  bool create_parent{false};
};
std::unique_ptr<Store> open_store(const OpenOptions& options);

}  // namespace chatctl::store
