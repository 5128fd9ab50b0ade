// chatctl flag: set, delete, get.
#include <iostream>

#include "cli/records.hpp"
#include "commands.hpp"
#include "engines.hpp"
#include "core/error.hpp"
#include "engine/chats.hpp"

namespace chatctl::cmd {
void register_flag(CLI::App& app, Context& ctx) {
  struct Options {
    model::ChatId chat{0};
    std::string key;
    std::string value;
    std::optional<std::string> user{};
    bool all_users{false};
    bool dry_run{false};
    std::optional<model::ChatId> filter_chat{};
    std::optional<std::string> filter_key{};
    std::optional<std::string> key_not{};
    std::optional<std::string> filter_value{};
    std::optional<std::string> value_not{};
    std::size_t limit{0};
    std::size_t offset{0};
  };

  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("set", "Set a user's flag on a chat, replacing it (ChatFlagSet)");
    cmd->add_option("chat", o->chat, "Chat id")->required();
    cmd->add_option("key", o->key, "Flag key, e.g. NotificationChatUpdateSeen")->required();
    cmd->add_option("value", o->value, "Flag value")->required();
    cmd->add_option("--user", o->user, "The user the flag belongs to")->required();
    cmd->add_flag("--dry-run", o->dry_run, "Check; write nothing");
    cmd->callback([&ctx, o] {
      const auto f = chats(ctx).set_flag(o->chat, o->key, o->value, *o->user, o->dry_run);
      auto options = ctx.print_options();
      options.name_key = "key";
      cli::print_one(ctx.out(), options, cli::flag_record(f));
      if (o->dry_run) std::cerr << "dry run: nothing was written\n";
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("delete", "Delete a flag of a chat for one user or all users (ChatFlagDelete)");
    cmd->add_option("chat", o->chat, "Chat id")->required();
    cmd->add_option("key", o->key, "Flag key")->required();
    auto* user = cmd->add_option("--user", o->user, "Only this user's flag");
    cmd->add_flag("--all-users", o->all_users, "Every user's flag")->excludes(user);
    cmd->add_flag("--dry-run", o->dry_run, "Count what would go; delete nothing");
    cmd->callback([&ctx, o] {
      if (!o->user && !o->all_users) throw core::Error(core::ErrorKind::usage, "give --user USER or --all-users");
      const auto n = chats(ctx).delete_flag(o->chat, o->key, o->user, o->dry_run);
      std::cerr << (o->dry_run ? "dry run: would delete " : "deleted ") << n << " flag(s)\n";
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("get", "List flags matching at least one filter (ChatFlagGet)");
    cmd->add_option("--chat", o->filter_chat, "Chat id");
    cmd->add_option("--key", o->filter_key, "Flag key");
    cmd->add_option("--key-not", o->key_not, "Any key but this");
    cmd->add_option("--user", o->user, "The user the flags belong to");
    cmd->add_option("--value", o->filter_value, "Flag value");
    cmd->add_option("--value-not", o->value_not, "Any value but this");
    cmd->add_option("--limit", o->limit, "At most this many (default: all)")->check(CLI::Range(0LL, 1'000'000'000LL));
    cmd->add_option("--offset", o->offset, "Skip this many first (for paging with --limit)")
        ->check(CLI::Range(0LL, 1'000'000'000LL));
    cmd->callback([&ctx, o] {
      store::FlagFilter f;
      f.chat_id = o->filter_chat;
      f.key = o->filter_key;
      f.key_not = o->key_not;
      f.user = o->user;
      f.value = o->filter_value;
      f.value_not = o->value_not;
      f.limit = o->limit;
      f.offset = o->offset;
      std::vector<cli::Record> records;
      for (const auto& flag : chats(ctx).flags(f)) records.push_back(cli::flag_record(flag));
      auto options = ctx.print_options();
      options.name_key = "key";
      cli::print_list(ctx.out(), options, records, cli::flag_columns());
    });
  }
}

}  // namespace chatctl::cmd
