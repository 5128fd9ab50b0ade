// chatctl participant: add, update, permission, remove, list, check, contributors, customer-present, number.
#include <iostream>

#include "cli/records.hpp"
#include "commands.hpp"
#include "engines.hpp"
#include "core/error.hpp"
#include "engine/chats.hpp"

namespace chatctl::cmd {
namespace {

void print_participant(Context& ctx, const model::Participant& p, bool dry_run) {
  cli::print_one(ctx.out(), ctx.print_options("chatter_id"), cli::participant_record(p));
  if (dry_run) std::cerr << "dry run: nothing was written\n";
}

const std::initializer_list<std::string> kTypes = {"User", "Customer", "Public", "user", "customer", "public"};
const std::initializer_list<std::string> kLevels = {"Owner", "Participant", "Observer"};

}  // namespace

void register_participant(CLI::App& app, Context& ctx) {
  struct Options {
    model::ChatId chat{0};
    std::string chatter;
    std::string name;
    std::string type{"User"};
    std::optional<std::string> permission{};
    bool inactive{false};
    bool invitation{false};
    std::optional<int> monitoring{};
    std::optional<int> active{};
    std::optional<std::string> as{};
    bool all{false};
    bool yes{false};
    bool include_inactive{false};
    bool active_only{false};
    bool dry_run{false};
  };
  const auto chat_and_chatter = [](CLI::App* cmd, Options& o) {
    cmd->add_option("chat", o.chat, "Chat id")->required();
    cmd->add_option("chatter", o.chatter, "Agent login or customer id")->required();
    cmd->add_option("--type", o.type, "User (an agent), Customer or Public")->check(CLI::IsMember(kTypes));
  };

  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("add", "Add a participant, or update one already there (ChatParticipantAdd)");
    chat_and_chatter(cmd, *o);
    cmd->add_option("--name", o->name, "Name shown in the chat")->required();
    cmd->add_option("--permission", o->permission, "Owner, Participant or Observer (required for agents)")
        ->check(CLI::IsMember(kLevels));
    cmd->add_flag("--inactive", o->inactive, "Add as not yet active (a request to join)");
    cmd->add_flag("--invitation", o->invitation, "The participant is invited");
    cmd->add_option("--monitoring", o->monitoring, "0 none, 1 customer activity, 2 all activity")
        ->check(CLI::IsMember({0, 1, 2}));
    cmd->add_flag("--dry-run", o->dry_run, "Show what would change; write nothing");
    cmd->callback([&ctx, o] {
      engine::ParticipantSpec s;
      s.chatter_id = o->chatter;
      s.chatter_name = o->name;
      s.chatter_type = *model::parse_chatter_type(o->type);
      s.active = o->inactive ? model::ChatterActive::inactive : model::ChatterActive::active;
      if (o->permission) s.permission = *model::parse_permission_level(*o->permission);
      s.invitation = o->invitation;
      if (o->monitoring) s.monitoring = static_cast<model::Monitoring>(*o->monitoring);
      print_participant(ctx, chats(ctx).add_participant(o->chat, s, o->dry_run), o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("update", "Change a participant (ChatParticipantUpdate)");
    chat_and_chatter(cmd, *o);
    cmd->add_option("--active", o->active, "-1 left, 0 inactive, 1 active")->check(CLI::IsMember({-1, 0, 1}));
    cmd->add_option("--monitoring", o->monitoring, "0 none, 1 customer activity, 2 all activity")
        ->check(CLI::IsMember({0, 1, 2}));
    cmd->add_option("--permission", o->permission, "Owner, Participant or Observer")->check(CLI::IsMember(kLevels));
    cmd->add_flag("--dry-run", o->dry_run, "Show what would change; write nothing");
    cmd->callback([&ctx, o] {
      engine::ParticipantChange c;
      if (o->active) c.active = static_cast<model::ChatterActive>(*o->active);
      if (o->monitoring) c.monitoring = static_cast<model::Monitoring>(*o->monitoring);
      if (o->permission) c.permission = model::parse_permission_level(*o->permission);
      if (!c.active && !c.monitoring && !c.permission) {
        throw core::Error(core::ErrorKind::usage, "nothing to change: give --active, --monitoring or --permission");
      }
      const auto type = *model::parse_chatter_type(o->type);
      print_participant(ctx, chats(ctx).update_participant(o->chat, type, o->chatter, c, o->dry_run), o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("permission", "Make an agent Participant or Observer (AgentPermissionsUpdate)");
    cmd->add_option("chat", o->chat, "Chat id")->required();
    cmd->add_option("agent", o->chatter, "Agent login")->required();
    cmd->add_option("level", o->permission, "Participant or Observer")
        ->required()
        ->check(CLI::IsMember({"Participant", "Observer"}));
    cmd->add_option("--as", o->as, "Act as this agent, who must be the chat's Owner");
    cmd->add_flag("--dry-run", o->dry_run, "Show what would change; write nothing");
    cmd->callback([&ctx, o] {
      const auto level = *model::parse_permission_level(*o->permission);
      print_participant(ctx, chats(ctx).set_agent_permission(o->chat, o->chatter, level, o->as, o->dry_run), o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("remove", "Mark a participant as left, or remove all (ChatParticipantRemove)");
    cmd->add_option("chat", o->chat, "Chat id")->required();
    auto* who = cmd->add_option("chatter", o->chatter, "Agent login or customer id");
    cmd->add_option("--type", o->type, "User (an agent), Customer or Public")->check(CLI::IsMember(kTypes));
    cmd->add_flag("--all", o->all, "Remove every participant and their messages for good")->excludes(who);
    cmd->add_flag("--yes", o->yes, "Confirm --all");
    cmd->add_flag("--dry-run", o->dry_run, "Show what would change; write nothing");
    cmd->callback([&ctx, o] {
      if (o->all) {
        if (!o->yes && !o->dry_run) {
          throw core::Error(core::ErrorKind::usage, "removing every participant deletes their messages: add --yes");
        }
        const auto n = chats(ctx).remove_all_participants(o->chat, o->dry_run);
        std::cerr << (o->dry_run ? "dry run: would remove " : "removed ") << n << " participant(s)\n";
        return;
      }
      if (o->chatter.empty()) throw core::Error(core::ErrorKind::usage, "give a chatter or --all");
      const auto type = *model::parse_chatter_type(o->type);
      print_participant(ctx, chats(ctx).remove_participant(o->chat, type, o->chatter, o->dry_run), o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("list", "List a chat's participants (ChatParticipantList)");
    cmd->add_option("chat", o->chat, "Chat id")->required();
    cmd->callback([&ctx, o] {
      std::vector<cli::Record> records;
      for (const auto& p : chats(ctx).participants(o->chat)) records.push_back(cli::participant_record(p));
      cli::print_list(ctx.out(), ctx.print_options("chatter_id"), records, cli::participant_columns());
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("check", "Exit 0 when a chatter has access to a chat, 1 when not (ChatParticipantCheck)");
    chat_and_chatter(cmd, *o);
    cmd->add_flag("--include-inactive", o->include_inactive, "Count participants who have not accepted yet");
    cmd->callback([&ctx, o] {
      const auto type = *model::parse_chatter_type(o->type);
      const auto p = chats(ctx).check_participant(o->chat, type, o->chatter, o->include_inactive);
      if (!p) {
        throw core::Error(core::ErrorKind::not_found,
                          o->chatter + " has no access to chat " + std::to_string(o->chat));
      }
      print_participant(ctx, *p, false);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("contributors", "Count active agents who are not observers (ContributorsCount)");
    cmd->add_option("chat", o->chat, "Chat id")->required();
    cmd->callback([&ctx, o] { ctx.out() << chats(ctx).contributors(o->chat) << '\n'; });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("customer-present", "Print yes when a customer takes part (CustomerPresent)");
    cmd->add_option("chat", o->chat, "Chat id")->required();
    cmd->add_flag("--active", o->active_only, "Only an active customer counts");
    cmd->callback([&ctx, o] { ctx.out() << (chats(ctx).customer_present(o->chat, o->active_only) ? "yes" : "no") << '\n'; });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("number", "Print an agent's number among the chat's agents (ChatParticipantNumberGet)");
    cmd->add_option("chat", o->chat, "Chat id")->required();
    cmd->add_option("name", o->name, "The agent's name in the chat")->required();
    cmd->callback([&ctx, o] { ctx.out() << chats(ctx).participant_number(o->chat, o->name) << '\n'; });
  }
}

}  // namespace chatctl::cmd
