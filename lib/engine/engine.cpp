#include "engine/engine.hpp"

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/text.hpp"
#include "engine/channels.hpp"
#include "store/dsn.hpp"

namespace chatctl::engine {
namespace {

constexpr std::string_view kDefaultChannelKey = "default_channel_id";
constexpr std::int64_t kDefaultChannelLock = 0x63686174'00000003LL;

bool is_default_location(const core::Settings& settings) {
  return settings.value(core::keys::kDatabase).origin == core::Origin::default_value;
}

}  // namespace

std::unique_ptr<store::Store> connect_database(const core::Settings& settings) {
  store::OpenOptions options;
  options.address = settings.get_string(core::keys::kDatabase);
  options.busy_timeout_ms = settings.get_int(core::keys::kBusyTimeout);
  options.create_parent = is_default_location(settings);
  return store::open_store(options);
}

std::unique_ptr<store::Store> open_database(const core::Settings& settings, const core::Clock& clock) {
  auto store = connect_database(settings);
  if (settings.get_bool(core::keys::kAutoMigrate)) {
    if (const int n = store->migrate(); n > 0) spdlog::info("applied {} migration(s) to {}", n, store->address());
  } else {
    for (const auto& m : store->migration_status()) {
      if (!m.applied_at) {
        throw core::Error(core::ErrorKind::config, "the database " + store->address() +
                                                       " needs schema migrations; run `chatctl db migrate`");
      }
    }
  }
  ensure_default_channel(*store, settings, clock);
  return store;
}

std::optional<model::ChannelId> default_channel_id(store::Store& store) {
  const auto v = store.meta_get(kDefaultChannelKey);
  if (!v) return std::nullopt;
  return core::parse_int(*v);
}

std::optional<model::Channel> ensure_default_channel(store::Store& store, const core::Settings& settings,
                                                     const core::Clock& clock) {
  if (!settings.get_bool(core::keys::kEngineActive)) return std::nullopt;
  if (store.meta_get(kDefaultChannelKey)) return std::nullopt;  // the common case: no write lock

  const std::string& name = settings.get_string(core::keys::kDefaultChannel);
  ChannelFields fields;
  fields.name = name;
  fields.group = settings.get_string("ChatEngine::PermissionGroup::ChatReceivingAgents");
  fields.customer_users = true;
  fields.public_users = true;
  fields.comment = "Default channel, created when the chat engine was activated.";
  try {
    validate_channel_fields(fields, true);
  } catch (const core::Error& e) {
    throw core::Error(core::ErrorKind::config, std::string(core::keys::kDefaultChannel) + ": " + e.what());
  }

  store::WriteTransaction tx(store);
  store.lock_in_transaction(kDefaultChannelLock);
  if (store.meta_get(kDefaultChannelKey)) return std::nullopt;  // another process was first
  std::optional<model::Channel> created;
  model::ChannelId id = 0;
  if (const auto existing = store.find_channel_by_name(name)) {
    id = existing->id;  // adopt a channel an administrator made before activating the engine
  } else {
    ChannelAdmin admin(store, clock, settings.get_string(core::keys::kActor));
    const model::Channel c = admin.insert(fields);
    id = c.id;
    created = c;
  }
  store.meta_set(kDefaultChannelKey, std::to_string(id));
  tx.commit();
  if (created) spdlog::info("created the default channel {}", core::quoted(name));
  return created;
}

}  // namespace chatctl::engine
