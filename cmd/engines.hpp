#pragma once

// The engine objects command callbacks work with, made from the context in one place.

#include "cli/context.hpp"
#include "engine/channels.hpp"
#include "engine/chats.hpp"
#include "engine/people.hpp"

namespace chatctl::cmd {

inline engine::ChannelAdmin channel_admin(cli::Context& ctx) {
  return engine::ChannelAdmin(ctx.store(), ctx.clock(), ctx.actor());
}

inline engine::People people(cli::Context& ctx) {
  return engine::People(ctx.store(), ctx.settings(), ctx.clock(), ctx.actor());
}

inline engine::ChatEngine chats(cli::Context& ctx) {
  return engine::ChatEngine(ctx.store(), ctx.settings(), ctx.clock(), ctx.actor());
}

}  // namespace chatctl::cmd
