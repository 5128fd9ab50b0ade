// chatctl chat: add, list, show, status, move, delete, customer-id, permission, agent-to-agent.
#include <iostream>

#include "cli/records.hpp"
#include "commands.hpp"
#include "engines.hpp"
#include "core/error.hpp"
#include "engine/channels.hpp"
#include "engine/chats.hpp"

namespace chatctl::cmd {
namespace {

void print_chat(Context& ctx, const model::Chat& c, bool dry_run) {
  cli::print_one(ctx.out(), ctx.print_options("id"), cli::chat_record(c));
  if (dry_run) std::cerr << "dry run: nothing was written\n";
}

const std::initializer_list<std::string> kChatterTypes = {"User", "Customer", "Public", "user", "customer", "public"};

}  // namespace

void register_chat(CLI::App& app, Context& ctx) {
  struct Options {
    model::ChatId id{0};
    std::string status{"request"};
    std::string requester_id;
    std::string requester_name;
    std::string requester_type{"Customer"};
    std::string target_type{"User"};
    std::string channel;
    std::int64_t ticket{0};
    std::optional<std::string> filter_status{};
    std::vector<std::string> requester_types{};
    std::optional<std::string> filter_target{};
    std::vector<std::string> channels{};
    bool outdated{false};
    std::optional<std::string> chatter_id{};
    std::optional<std::string> chatter_type{};
    std::optional<int> chatter_active{};
    bool invitation_pending{false};
    bool mask{false};
    std::size_t limit{0};
    std::string user;
    std::string agent;
    bool stop{false};
    bool yes{false};
    bool dry_run{false};
  };

  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("add", "Add a chat (a request, or an active chat)");
    cmd->add_option("--requester-id", o->requester_id, "Who asks: an agent login or a customer id")->required();
    cmd->add_option("--requester-name", o->requester_name, "The requester's visible name")->required();
    cmd->add_option("--requester-type", o->requester_type, "User, Customer or Public")->check(CLI::IsMember(kChatterTypes));
    cmd->add_option("--target-type", o->target_type, "User or Customer")->check(CLI::IsMember({"User", "Customer", "user", "customer"}));
    cmd->add_option("--channel", o->channel, "Channel name or id (default: the default channel)");
    cmd->add_option("--status", o->status, "request or active")->check(CLI::IsMember({"request", "active"}));
    cmd->add_option("--ticket", o->ticket, "Related ticket id")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--dry-run", o->dry_run, "Show what would be added; write nothing");
    cmd->callback([&ctx, o] {
      engine::NewChat n;
      n.status = *model::parse_chat_status(o->status);
      n.requester_id = o->requester_id;
      n.requester_name = o->requester_name;
      n.requester_type = *model::parse_chatter_type(o->requester_type);
      n.target_type = *model::parse_chatter_type(o->target_type);
      n.channel = o->channel;
      n.ticket_id = o->ticket;
      print_chat(ctx, chats(ctx).add_chat(n, o->dry_run), o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("list", "List chats (ChatList)");
    cmd->add_option("--status", o->filter_status, "request, active or closed")
        ->check(CLI::IsMember({"request", "active", "closed"}));
    cmd->add_option("--requester-type", o->requester_types, "User, Customer or Public (repeatable)")
        ->check(CLI::IsMember(kChatterTypes));
    cmd->add_option("--target-type", o->filter_target, "User or Customer")
        ->check(CLI::IsMember({"User", "Customer", "user", "customer"}));
    cmd->add_option("--channel", o->channels, "Channel name or id (repeatable)");
    cmd->add_flag("--outdated", o->outdated, "Only chats unchanged for ChatEngine::ChatDecayTime days");
    cmd->add_option("--chatter-id", o->chatter_id, "Only chats with this participant (needs --chatter-type)");
    cmd->add_option("--chatter-type", o->chatter_type, "The participant's type")->check(CLI::IsMember(kChatterTypes));
    cmd->add_option("--chatter-active", o->chatter_active, "Only where that participant is active (1) or not yet (0)")
        ->check(CLI::IsMember({0, 1}));
    cmd->add_flag("--invitation-pending", o->invitation_pending, "Only where that participant has a pending invitation");
    cmd->add_flag("--mask-agent-name", o->mask, "Show agents as ChatEngine::DefaultAgentName");
    cmd->add_option("--limit", o->limit, "At most this many chats")->check(CLI::Range(0LL, 1'000'000'000LL));
    cmd->callback([&ctx, o] {
      engine::ChatQuery q;
      if (o->filter_status) q.filter.status = model::parse_chat_status(*o->filter_status);
      for (const auto& t : o->requester_types) q.filter.requester_types.push_back(*model::parse_chatter_type(t));
      if (o->filter_target) q.filter.target_type = model::parse_chatter_type(*o->filter_target);
      auto channels = channel_admin(ctx);
      for (const auto& c : o->channels) q.filter.channel_ids.push_back(channels.get(c).id);
      q.outdated = o->outdated;
      q.filter.chatter_id = o->chatter_id;
      if (o->chatter_type) q.filter.chatter_type = model::parse_chatter_type(*o->chatter_type);
      if (o->chatter_active) q.filter.chatter_active = static_cast<model::ChatterActive>(*o->chatter_active);
      q.filter.invitation_pending = o->invitation_pending;
      q.mask_agent_name = o->mask;
      q.filter.limit = o->limit;
      std::vector<cli::Record> records;
      for (const auto& c : chats(ctx).chats(q)) records.push_back(cli::chat_record(c));
      cli::print_list(ctx.out(), ctx.print_options("id"), records, cli::chat_columns());
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("show", "Show one chat (ChatGet)");
    cmd->add_option("chat", o->id, "Chat id")->required();
    cmd->callback([&ctx, o] { print_chat(ctx, chats(ctx).chat(o->id), false); });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("status", "Set a chat's status (ChatUpdate)");
    cmd->add_option("chat", o->id, "Chat id")->required();
    cmd->add_option("status", o->status, "request, active or closed")
        ->required()
        ->check(CLI::IsMember({"request", "active", "closed"}));
    cmd->add_flag("--dry-run", o->dry_run, "Show what would change; write nothing");
    cmd->callback([&ctx, o] {
      print_chat(ctx, chats(ctx).set_status(o->id, *model::parse_chat_status(o->status), o->dry_run), o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("move", "Move a chat to another channel (ChatChannelUpdate)");
    cmd->add_option("chat", o->id, "Chat id")->required();
    cmd->add_option("channel", o->channel, "Channel name or id")->required();
    cmd->add_flag("--dry-run", o->dry_run, "Show what would change; write nothing");
    cmd->callback([&ctx, o] { print_chat(ctx, chats(ctx).move_chat(o->id, o->channel, o->dry_run), o->dry_run); });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("typing", "Tell a chat's customers an agent is typing (RTM incoming_typing_indicator)");
    cmd->add_option("chat", o->id, "Chat id")->required();
    cmd->add_option("--agent", o->agent, "Login of the agent typing")->required();
    cmd->add_flag("--stop", o->stop, "The agent stopped typing");
    cmd->callback([&ctx, o] { chats(ctx).typing(o->id, o->agent, !o->stop); });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("delete", "Delete a chat with its participants, messages and flags");
    cmd->add_option("chat", o->id, "Chat id")->required();
    cmd->add_flag("--yes", o->yes, "Do not ask for confirmation");
    cmd->add_flag("--dry-run", o->dry_run, "Check the chat exists; delete nothing");
    cmd->callback([&ctx, o] {
      if (!o->yes && !o->dry_run) {
        throw core::Error(core::ErrorKind::usage, "deleting a chat cannot be undone: add --yes to confirm");
      }
      chats(ctx).delete_chat(o->id, o->dry_run);
      std::cerr << (o->dry_run ? "dry run: would delete chat " : "deleted chat ") << o->id << '\n';
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("customer-id", "Print the customer of a chat (CustomerIDGet)");
    cmd->add_option("chat", o->id, "Chat id")->required();
    cmd->callback([&ctx, o] {
      const auto id = chats(ctx).customer_id(o->id);
      if (!id) throw core::Error(core::ErrorKind::not_found, "chat " + std::to_string(o->id) + " has no customer");
      ctx.out() << *id << '\n';
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("permission", "Print an agent's permission level in a chat");
    cmd->add_option("chat", o->id, "Chat id")->required();
    cmd->add_option("agent", o->user, "Agent login")->required();
    cmd->callback([&ctx, o] {
      const auto level = chats(ctx).permission_level(o->id, o->user);
      if (level == model::PermissionLevel::none) {
        throw core::Error(core::ErrorKind::not_found, o->user + " is not an active participant of chat " +
                                                          std::to_string(o->id));
      }
      ctx.out() << model::to_string(level) << '\n';
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("agent-to-agent", "Print yes for a chat between agents, no otherwise (IsChatAgentToAgent)");
    cmd->add_option("chat", o->id, "Chat id")->required();
    cmd->callback([&ctx, o] { ctx.out() << (chats(ctx).agent_to_agent(o->id) ? "yes" : "no") << '\n'; });
  }
}

}  // namespace chatctl::cmd
