#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.hpp"

namespace chatctl::cmd {

using cli::Context;
using cli::Needs;

void register_channel(CLI::App& app, Context& ctx);
void register_chat(CLI::App& app, Context& ctx);
void register_participant(CLI::App& app, Context& ctx);
void register_message(CLI::App& app, Context& ctx);
void register_flag(CLI::App& app, Context& ctx);
void register_invite(CLI::App& app, Context& ctx);
void register_agent(CLI::App& app, Context& ctx);
void register_customer(CLI::App& app, Context& ctx);
void register_cleanup(CLI::App& app, Context& ctx);
void register_export(CLI::App& app, Context& ctx);
void register_import(CLI::App& app, Context& ctx);
void register_chatd(CLI::App& app, Context& ctx);
void register_webhook(CLI::App& app, Context& ctx);
void register_token(CLI::App& app, Context& ctx);
void register_replay(CLI::App& app, Context& ctx);
void register_db(CLI::App& app, Context& ctx);
void register_events(CLI::App& app, Context& ctx);
void register_config(CLI::App& app, Context& ctx);
void register_completion(CLI::App& app, Context& ctx);
void register_version(CLI::App& app, Context& ctx);

// Every command group, in the order `chatctl --help` lists them, with what it needs loaded.
struct CommandGroup {
  const char* name;
  const char* description;
  void (*setup)(CLI::App&, Context&);
  Needs needs;
};

inline constexpr CommandGroup kCommandGroups[] = {
    {"channel", "Administer chat channels", register_channel, Needs::store},
    {"chat", "Chats: requests, status, channels", register_chat, Needs::store},
    {"participant", "Who takes part in a chat, and with which permission", register_participant, Needs::store},
    {"message", "Messages of a chat", register_message, Needs::store},
    {"invite", "Invite agents into chats; decline and remove invites", register_invite, Needs::store},
    {"flag", "Per-user flags on chats (seen, unseen)", register_flag, Needs::store},
    {"agent", "Administer agents and their availability", register_agent, Needs::store},
    {"customer", "Administer customers and their availability", register_customer, Needs::store},
    {"cleanup", "Remove closed and old chats (for cron)", register_cleanup, Needs::store},
    {"export", "Write chats as RTM Chat JSON", register_export, Needs::store},
    {"import", "Re-create chats from an export", register_import, Needs::store},
    {"token", "Customers' access tokens for chatd", register_token, Needs::store},
    {"replay", "Replay RTM protocol fixtures against chatd (for CI)", register_replay, Needs::store},
    {"chatd", "Serve the Customer Chat RTM API v3.2 over websocket", register_chatd, Needs::store},
    {"webhook", "Signed chatsession.* webhooks, delivered at least once", register_webhook, Needs::store},
    {"events", "Show and follow the event log", register_events, Needs::store},
    {"db", "Manage the database schema", register_db, Needs::store},
    {"config", "Show the effective configuration", register_config, Needs::config},
    {"completion", "Print a shell completion script", register_completion, Needs::nothing},
    {"version", "Print the version and compiled-in backends", register_version, Needs::nothing},
};

// Builds the whole command tree on `app` (also used to generate completions).
void build_app(CLI::App& app, Context& ctx);

}  // namespace chatctl::cmd
