#pragma once

#include <memory>
#include <optional>

#include "core/clock.hpp"
#include "core/settings.hpp"
#include "model/channel.hpp"
#include "store/store.hpp"

namespace chatctl::engine {

// Opens the configured database the way every engine command needs it: connected, migrated
// (when auto_migrate is on; otherwise a pending migration is Error(config) naming
// `chatctl db migrate`), and with the default channel in place when the chat engine is active.
std::unique_ptr<store::Store> open_database(const core::Settings& settings, const core::Clock& clock);

// Opens the configured database without migrating or touching data: for `db status`/`db migrate`.
std::unique_ptr<store::Store> connect_database(const core::Settings& settings);

// When ChatEngine::Active is on, makes sure the default channel (named by
// ChatEngine::DefaultChatChannel) exists: created once, and remembered by id, so renaming it or
// changing the setting later never creates a second one. Safe against concurrent processes.
// Returns the channel when this call created it.
std::optional<model::Channel> ensure_default_channel(store::Store& store, const core::Settings& settings,
                                                     const core::Clock& clock);

// The id of the default channel (RTM group 0), if it was created.
std::optional<model::ChannelId> default_channel_id(store::Store& store);

}  // namespace chatctl::engine
