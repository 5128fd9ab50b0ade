// chatctl message: add, show, list.
#include <iostream>
#include <iterator>

#include "cli/records.hpp"
#include "commands.hpp"
#include "engines.hpp"
#include "core/error.hpp"
#include "engine/chats.hpp"

namespace chatctl::cmd {
void register_message(CLI::App& app, Context& ctx) {
  struct Options {
    model::ChatId chat{0};
    model::MessageId id{0};
    std::string from;
    std::string type{"User"};
    std::string text;
    bool internal{false};
    bool customer_only{false};
    bool system{false};
    bool dry_run{false};
    std::optional<model::MessageId> after{};
    bool exclude_internal{false};
    bool exclude_customer{false};
    bool first{false};
    bool last{false};
    bool mask{false};
  };

  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("add", "Post a message to a chat (ChatMessageAdd)");
    cmd->add_option("chat", o->chat, "Chat id")->required();
    cmd->add_option("text", o->text, "The message (at most 3800 characters); - reads standard input")->required();
    cmd->add_option("--from", o->from, "Sender: an active participant's login or customer id")->required();
    cmd->add_option("--type", o->type, "The sender's type: User (an agent), Customer or Public")
        ->check(CLI::IsMember({"User", "Customer", "Public", "user", "customer", "public"}));
    auto* internal = cmd->add_flag("--internal", o->internal, "Only agents see it (an internal note)");
    cmd->add_flag("--customer-only", o->customer_only, "Only the customer sees it")->excludes(internal);
    cmd->add_flag("--system", o->system, "A system-generated message (joined, left, ...)");
    cmd->add_flag("--dry-run", o->dry_run, "Check the message could be posted; write nothing");
    cmd->callback([&ctx, o] {
      engine::NewMessage m;
      m.chatter_id = o->from;
      m.chatter_type = *model::parse_chatter_type(o->type);
      if (o->text == "-") {
        m.text.assign(std::istreambuf_iterator<char>(ctx.in()), std::istreambuf_iterator<char>());
        if (m.text.ends_with('\n')) m.text.pop_back();
      } else {
        m.text = o->text;
      }
      m.system_generated = o->system;
      if (o->internal) m.audience = model::Audience::agents;
      if (o->customer_only) m.audience = model::Audience::customer;
      cli::print_one(ctx.out(), ctx.print_options("id"), cli::message_record(chats(ctx).add_message(o->chat, m, o->dry_run)));
      if (o->dry_run) std::cerr << "dry run: nothing was written\n";
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("show", "Show one message (ChatMessageGet)");
    cmd->add_option("message", o->id, "Message id")->required();
    cmd->callback([&ctx, o] {
      cli::print_one(ctx.out(), ctx.print_options("id"), cli::message_record(chats(ctx).message(o->id)));
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("list", "List a chat's messages (ChatMessageList)");
    cmd->add_option("chat", o->chat, "Chat id")->required();
    cmd->add_option("--after", o->after, "Only messages after this id (LastKnownChatMessageID)");
    cmd->add_flag("--exclude-internal", o->exclude_internal, "Leave out internal notes (what a customer sees)");
    cmd->add_flag("--exclude-customer", o->exclude_customer, "Leave out customer-only messages (what agents see)");
    auto* first = cmd->add_flag("--first", o->first, "Only the first text message");
    cmd->add_flag("--last", o->last, "Only the last text message")->excludes(first);
    cmd->add_flag("--mask-agent-name", o->mask, "Show agents as ChatEngine::DefaultAgentName");
    cmd->callback([&ctx, o] {
      engine::MessageQuery q;
      q.filter.after = o->after;
      q.filter.exclude_internal = o->exclude_internal;
      q.filter.exclude_customer = o->exclude_customer;
      q.filter.first = o->first;
      q.filter.last = o->last;
      q.mask_agent_name = o->mask;
      std::vector<cli::Record> records;
      for (const auto& m : chats(ctx).messages(o->chat, q)) records.push_back(cli::message_record(m));
      cli::print_list(ctx.out(), ctx.print_options("id"), records, cli::message_columns());
    });
  }
}

}  // namespace chatctl::cmd
