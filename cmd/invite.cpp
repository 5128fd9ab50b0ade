// chatctl invite: add, check, decline, remove.
#include <iostream>

#include "cli/records.hpp"
#include "commands.hpp"
#include "engines.hpp"
#include "core/error.hpp"
#include "engine/chats.hpp"

namespace chatctl::cmd {
void register_invite(CLI::App& app, Context& ctx) {
  struct Options {
    model::ChatId chat{0};
    std::string agent;
    std::string by;
    model::ChatId through{0};
    std::optional<model::ChatId> filter_chat{};
    std::optional<model::ChatId> filter_through{};
    std::string message;
    bool dry_run{false};
  };

  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("add", "Invite an agent into a chat (ChatInvite)");
    cmd->add_option("chat", o->chat, "Chat id")->required();
    cmd->add_option("agent", o->agent, "Login of the agent to invite")->required();
    cmd->add_option("--by", o->by, "Login of the inviting agent, an active participant")->required();
    cmd->add_option("--through", o->through, "Id of the chat through which the invitation goes");
    cmd->add_flag("--dry-run", o->dry_run, "Check; write nothing");
    cmd->callback([&ctx, o] {
      const auto inv = chats(ctx).invite(o->chat, o->agent, o->by, o->through, o->dry_run);
      cli::print_one(ctx.out(), ctx.print_options("chat_id"), cli::invite_record(inv));
      if (o->dry_run) std::cerr << "dry run: nothing was written\n";
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("check", "List an agent's pending invites; exit 1 when there are none (ChatInvitesGet)");
    cmd->add_option("agent", o->agent, "Agent login")->required();
    auto* chat = cmd->add_option("--chat", o->filter_chat, "Only invites to this chat");
    cmd->add_option("--through", o->filter_through, "Only invites through this chat")->excludes(chat);
    cmd->callback([&ctx, o] {
      const auto found = chats(ctx).invites(o->agent, o->filter_chat, o->filter_through);
      std::vector<cli::Record> records;
      for (const auto& i : found) records.push_back(cli::invite_record(i));
      cli::print_list(ctx.out(), ctx.print_options("chat_id"), records, cli::invite_columns());
      if (found.empty()) ctx.exit_code = 1;
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("decline", "Decline an invitation while it is pending (ChatDecline)");
    cmd->add_option("chat", o->chat, "Chat id")->required();
    cmd->add_option("agent", o->agent, "Login of the invited agent")->required();
    cmd->add_option("--message", o->message, "Internal system message to leave in the chat");
    cmd->add_flag("--dry-run", o->dry_run, "Check; write nothing");
    cmd->callback([&ctx, o] {
      const std::string text = o->message.empty() ? o->agent + " has declined the chat request." : o->message;
      chats(ctx).decline(o->chat, o->agent, text, o->dry_run);
      std::cerr << (o->dry_run ? "dry run: would decline" : "declined") << '\n';
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("remove", "Remove an agent's invite (ChatInviteRemove)");
    cmd->add_option("agent", o->agent, "Agent login")->required();
    auto* chat = cmd->add_option("--chat", o->filter_chat, "The invite to this chat");
    cmd->add_option("--through", o->filter_through, "The invites through this chat")->excludes(chat);
    cmd->add_flag("--dry-run", o->dry_run, "Count what would go; remove nothing");
    cmd->callback([&ctx, o] {
      const auto n = chats(ctx).remove_invite(o->agent, o->filter_chat, o->filter_through, o->dry_run);
      std::cerr << (o->dry_run ? "dry run: would remove " : "removed ") << n << " invite(s)\n";
    });
  }
}

}  // namespace chatctl::cmd
