#pragma once

// A Store wrapper that fails on purpose (cf. LevelDB's SpecialEnv): the Nth call of a chosen
// operation throws the chosen error, so tests can drive every error path of the engine.

#include <string>

#include "core/error.hpp"
#include "store/store.hpp"

namespace chatctl::test {

class FaultyStore final : public store::Store {
 public:
  explicit FaultyStore(store::Store& inner) : inner_(inner) {}

  // The `nth` (1-based) future call of `operation` throws Error(kind).
  void fail(std::string operation, int nth, core::ErrorKind kind) {
    operation_ = std::move(operation);
    countdown_ = nth;
    kind_ = kind;
  }

  store::Backend backend() const noexcept override { return inner_.backend(); }
  std::string address() const override { return inner_.address(); }
  void begin_write() override { maybe_fail("begin_write"), inner_.begin_write(); }
  void commit() override { maybe_fail("commit"), inner_.commit(); }
  void rollback() noexcept override { inner_.rollback(); }
  int write_depth() const noexcept override { return inner_.write_depth(); }
  void lock_in_transaction(std::int64_t key) override { inner_.lock_in_transaction(key); }
  std::vector<store::MigrationState> migration_status() override { return inner_.migration_status(); }
  int migrate() override { return maybe_fail("migrate"), inner_.migrate(); }
  std::optional<std::string> meta_get(std::string_view key) override { return inner_.meta_get(key); }
  void meta_set(std::string_view key, std::string_view value) override {
    maybe_fail("meta_set"), inner_.meta_set(key, value);
  }
  std::vector<model::Channel> list_channels(const store::ChannelFilter& f) override { return inner_.list_channels(f); }
  std::optional<model::Channel> find_channel(model::ChannelId id) override { return inner_.find_channel(id); }
  std::optional<model::Channel> find_channel_by_name(std::string_view name) override {
    return inner_.find_channel_by_name(name);
  }
  model::ChannelId insert_channel(const model::Channel& c) override {
    return maybe_fail("insert_channel"), inner_.insert_channel(c);
  }
  void update_channel(const model::Channel& c) override { maybe_fail("update_channel"), inner_.update_channel(c); }
  std::vector<model::Agent> list_agents(const store::AgentFilter& f) override { return inner_.list_agents(f); }
  std::optional<model::Agent> find_agent(std::string_view login) override { return inner_.find_agent(login); }
  model::AgentId insert_agent(const model::Agent& a) override { return maybe_fail("insert_agent"), inner_.insert_agent(a); }
  void update_agent(const model::Agent& a) override { maybe_fail("update_agent"), inner_.update_agent(a); }
  std::vector<model::Customer> list_customers(const store::CustomerFilter& f) override {
    return inner_.list_customers(f);
  }
  std::optional<model::Customer> find_customer(std::string_view id) override { return inner_.find_customer(id); }
  void insert_customer(const model::Customer& c) override { maybe_fail("insert_customer"), inner_.insert_customer(c); }
  void update_customer(const model::Customer& c) override { maybe_fail("update_customer"), inner_.update_customer(c); }
  std::int64_t insert_token(const model::CustomerToken& t) override { return maybe_fail("insert_token"), inner_.insert_token(t); }
  std::optional<model::CustomerToken> find_token(std::string_view h) override { return inner_.find_token(h); }
  std::vector<model::CustomerToken> list_tokens(const std::optional<std::string>& c) override {
    return inner_.list_tokens(c);
  }
  std::size_t revoke_tokens(std::int64_t id, const std::optional<std::string>& c) override {
    return maybe_fail("revoke_tokens"), inner_.revoke_tokens(id, c);
  }
  std::int64_t insert_greeting(const model::Greeting& g) override {
    return maybe_fail("insert_greeting"), inner_.insert_greeting(g);
  }
  std::optional<model::Greeting> find_greeting(std::string_view u) override { return inner_.find_greeting(u); }
  std::vector<model::Greeting> list_greetings(std::string_view c) override { return inner_.list_greetings(c); }
  void update_greeting(const model::Greeting& g) override { maybe_fail("update_greeting"), inner_.update_greeting(g); }
  model::ChatId insert_chat(const model::Chat& c) override { return maybe_fail("insert_chat"), inner_.insert_chat(c); }
  void update_chat(const model::Chat& c) override { maybe_fail("update_chat"), inner_.update_chat(c); }
  std::optional<model::Chat> find_chat(model::ChatId id) override { return inner_.find_chat(id); }
  std::vector<model::Chat> list_chats(const store::ChatFilter& f) override { return inner_.list_chats(f); }
  bool delete_chat(model::ChatId id) override { return maybe_fail("delete_chat"), inner_.delete_chat(id); }
  std::vector<model::ChatId> list_chat_ids(const store::ChatFilter& f) override { return inner_.list_chat_ids(f); }
  std::vector<store::ChatterChat> chatter_chats(model::ChatterType type, const std::string& id) override {
    return inner_.chatter_chats(type, id);
  }
  store::DeleteCounts delete_chats(const std::vector<model::ChatId>& ids) override {
    return maybe_fail("delete_chats"), inner_.delete_chats(ids);
  }
  model::ThreadId insert_thread(const model::Thread& t) override {
    return maybe_fail("insert_thread"), inner_.insert_thread(t);
  }
  void update_thread(const model::Thread& t) override { maybe_fail("update_thread"), inner_.update_thread(t); }
  std::vector<model::Thread> list_threads(model::ChatId chat) override { return inner_.list_threads(chat); }
  std::vector<store::Transcript> read_transcripts(const store::ChatFilter& f, bool include_internal) override {
    return maybe_fail("read_transcripts"), inner_.read_transcripts(f, include_internal);
  }
  void insert_transcripts(const std::vector<store::Transcript>& t) override {
    maybe_fail("insert_transcripts"), inner_.insert_transcripts(t);
  }
  void sync_id_sequences() override { maybe_fail("sync_id_sequences"), inner_.sync_id_sequences(); }
  void bulk_mode(bool on) override { inner_.bulk_mode(on); }
  void checkpoint() override { inner_.checkpoint(); }
  bool checkpoint_wal() override { return inner_.checkpoint_wal(); }
  std::int64_t wal_bytes() const override { return inner_.wal_bytes(); }
  void scratch_mode() override { inner_.scratch_mode(); }
  void restore_rows(const std::string& template_path) override { inner_.restore_rows(template_path); }
  std::unique_ptr<store::ProcessLock> try_process_lock(std::string_view name) override {
    return maybe_fail("try_process_lock"), inner_.try_process_lock(name);
  }
  model::ParticipantId insert_participant(const model::Participant& p) override {
    return maybe_fail("insert_participant"), inner_.insert_participant(p);
  }
  void update_participant(const model::Participant& p) override {
    maybe_fail("update_participant"), inner_.update_participant(p);
  }
  std::optional<model::Participant> find_participant(model::ChatId chat, model::ChatterType type,
                                                     std::string_view id) override {
    return inner_.find_participant(chat, type, id);
  }
  std::vector<model::Participant> list_participants(model::ChatId chat) override {
    return inner_.list_participants(chat);
  }
  std::size_t delete_participants(model::ChatId chat) override {
    return maybe_fail("delete_participants"), inner_.delete_participants(chat);
  }
  model::MessageId insert_message(const model::Message& m) override {
    return maybe_fail("insert_message"), inner_.insert_message(m);
  }
  void update_message(const model::Message& m) override { maybe_fail("update_message"), inner_.update_message(m); }
  std::optional<model::Message> find_message(model::MessageId id) override { return inner_.find_message(id); }
  std::vector<model::Message> list_messages(const store::MessageFilter& f) override { return inner_.list_messages(f); }
  void set_flag(const model::Flag& f) override { maybe_fail("set_flag"), inner_.set_flag(f); }
  std::size_t delete_flags(model::ChatId chat, std::string_view key, const std::optional<std::string>& user) override {
    return maybe_fail("delete_flags"), inner_.delete_flags(chat, key, user);
  }
  std::vector<model::Flag> list_flags(const store::FlagFilter& f) override { return inner_.list_flags(f); }
  void insert_invite(const model::Invite& i) override { maybe_fail("insert_invite"), inner_.insert_invite(i); }
  std::vector<model::Invite> list_invites(std::string_view who, std::optional<model::ChatId> chat,
                                          std::optional<model::ChatId> via) override {
    return inner_.list_invites(who, chat, via);
  }
  std::size_t delete_invites(std::string_view who, std::optional<model::ChatId> chat,
                             std::optional<model::ChatId> via) override {
    return maybe_fail("delete_invites"), inner_.delete_invites(who, chat, via);
  }
  std::vector<model::Webhook> list_webhooks() override { return inner_.list_webhooks(); }
  std::optional<model::Webhook> find_webhook(std::string_view name) override { return inner_.find_webhook(name); }
  model::WebhookId insert_webhook(const model::Webhook& w) override {
    return maybe_fail("insert_webhook"), inner_.insert_webhook(w);
  }
  void update_webhook(const model::Webhook& w) override { maybe_fail("update_webhook"), inner_.update_webhook(w); }
  bool delete_webhook(model::WebhookId id) override { return maybe_fail("delete_webhook"), inner_.delete_webhook(id); }
  void enqueue_deliveries(const std::vector<model::WebhookDelivery>& d) override {
    maybe_fail("enqueue_deliveries"), inner_.enqueue_deliveries(d);
  }
  std::vector<model::WebhookDelivery> list_deliveries(model::WebhookId id, std::size_t limit,
                                                      bool heads_only = false) override {
    return inner_.list_deliveries(id, limit, heads_only);
  }
  void update_delivery(const model::WebhookDelivery& d) override {
    maybe_fail("update_delivery"), inner_.update_delivery(d);
  }
  void delete_delivery(model::WebhookId id, std::int64_t seq) override {
    maybe_fail("delete_delivery"), inner_.delete_delivery(id, seq);
  }
  void append_events(const std::vector<store::EventRecord>& e) override {
    maybe_fail("append_events"), inner_.append_events(e);
  }
  std::int64_t append_event(const store::EventRecord& e) override {
    return maybe_fail("append_event"), inner_.append_event(e);
  }
  std::vector<store::EventRecord> list_events(const store::EventFilter& f) override { return inner_.list_events(f); }
  std::int64_t last_event_seq() override { return inner_.last_event_seq(); }

 private:
  int maybe_fail(const char* operation) {
    if (operation_ == operation && countdown_ > 0 && --countdown_ == 0) {
      throw core::Error(kind_, std::string("injected failure in ") + operation);
    }
    return 0;
  }

  store::Store& inner_;
  std::string operation_;
  int countdown_{0};
  core::ErrorKind kind_{core::ErrorKind::temporary};
};

}  // namespace chatctl::test
