// chatctl agent: add, list, show, update, availability, seen, online, available.
#include <iostream>

#include "cli/records.hpp"
#include "commands.hpp"
#include "engines.hpp"
#include "core/error.hpp"
#include "cli/output.hpp"
#include "engine/people.hpp"

namespace chatctl::cmd {
namespace {

cli::Record record(engine::People& p, const model::Agent& a) { return cli::agent_record(a, p.effective_availability(a)); }

void print_agent(Context& ctx, engine::People& p, const model::Agent& a, bool dry_run) {
  cli::print_one(ctx.out(), ctx.print_options("login"), record(p, a));
  if (dry_run) std::cerr << "dry run: nothing was written\n";
}

void print_agents(Context& ctx, engine::People& p, const std::vector<model::Agent>& agents) {
  std::vector<cli::Record> records;
  for (const auto& a : agents) records.push_back(record(p, a));
  cli::print_list(ctx.out(), ctx.print_options("login"), records, cli::agent_columns());
}

const std::initializer_list<std::string> kAvailability = {"offline", "unavailable", "away", "online",
                                                          "0",       "1",           "2",    "3"};

}  // namespace

void register_agent(CLI::App& app, Context& ctx) {
  struct Options {
    std::string login;
    std::optional<std::string> new_login{};
    std::optional<std::string> name{};
    std::optional<std::string> email{};
    std::vector<std::string> groups{};
    std::vector<std::string> remove_groups{};
    std::vector<std::string> channels{};
    bool all_channels{false};
    std::optional<std::string> availability{};
    std::optional<std::string> group{};
    bool online{false};
    bool dry_run{false};
  };

  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("add", "Add an agent");
    cmd->add_option("login", o->login, "Login (unique, no spaces)")->required();
    cmd->add_option("--name", o->name, "Name shown in chats")->required();
    cmd->add_option("--email", o->email, "Email address");
    cmd->add_option("--group", o->groups, "Group the agent belongs to (repeatable)");
    cmd->add_option("--channel", o->channels, "Channel to receive chats from (repeatable; default: all permitted)");
    cmd->add_flag("--dry-run", o->dry_run, "Show what would be added; write nothing");
    cmd->callback([&ctx, o] {
      engine::AgentFields f;
      f.login = o->login;
      f.name = o->name;
      f.email = o->email;
      f.add_groups = o->groups;
      if (!o->channels.empty()) f.channels = o->channels;
      auto p = people(ctx);
      print_agent(ctx, p, p.add_agent(f, o->dry_run), o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("list", "List agents");
    cmd->add_option("--group", o->group, "Only members of this group");
    cmd->add_flag("--online", o->online, "Only agents on-line now (OnlineUserList)");
    cmd->callback([&ctx, o] {
      auto p = people(ctx);
      print_agents(ctx, p, o->online ? p.online_agents(o->group) : p.agents({.group = o->group}));
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("show", "Show one agent");
    cmd->add_option("login", o->login, "Login")->required();
    cmd->callback([&ctx, o] {
      auto p = people(ctx);
      print_agent(ctx, p, p.agent(o->login), false);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("update", "Change an agent");
    cmd->add_option("login", o->login, "Login")->required();
    cmd->add_option("--login", o->new_login, "New login");
    cmd->add_option("--name", o->name, "Name shown in chats");
    cmd->add_option("--email", o->email, "Email address");
    cmd->add_option("--add-group", o->groups, "Add to this group (repeatable)");
    cmd->add_option("--remove-group", o->remove_groups, "Remove from this group (repeatable)");
    auto* ch = cmd->add_option("--channel", o->channels, "Receive chats only from these channels (repeatable)");
    cmd->add_flag("--all-channels", o->all_channels, "Receive chats from every permitted channel")->excludes(ch);
    cmd->add_flag("--dry-run", o->dry_run, "Show what would change; write nothing");
    cmd->callback([&ctx, o] {
      engine::AgentFields f;
      f.login = o->new_login;
      f.name = o->name;
      f.email = o->email;
      f.add_groups = o->groups;
      f.remove_groups = o->remove_groups;
      if (!o->channels.empty()) f.channels = o->channels;
      if (o->all_channels) f.channels = std::vector<std::string>{};
      if (!f.login && !f.name && !f.email && f.add_groups.empty() && f.remove_groups.empty() && !f.channels) {
        throw core::Error(core::ErrorKind::usage, "nothing to change: give at least one option");
      }
      auto p = people(ctx);
      print_agent(ctx, p, p.update_agent(o->login, f, o->dry_run), o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("availability", "Show or set an agent's chat availability");
    cmd->add_option("login", o->login, "Login")->required();
    cmd->add_option("availability", o->availability, "New availability")->check(CLI::IsMember(kAvailability));
    cmd->add_flag("--dry-run", o->dry_run, "Show what would change; write nothing");
    cmd->callback([&ctx, o] {
      auto p = people(ctx);
      if (!o->availability) {
        const auto a = p.agent(o->login);
        const auto availability = std::string(model::to_string(p.effective_availability(a)));
        if (ctx.output_format() == cli::OutputFormat::table) {
          ctx.out() << availability << '\n';
        } else {
          cli::print_one(ctx.out(), ctx.print_options("login"), {{"login", a.login}, {"availability", availability}});
        }
        return;
      }
      const auto a = p.set_agent_availability(o->login, *model::parse_agent_availability(*o->availability), o->dry_run);
      print_agent(ctx, p, a, o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("seen", "Mark an agent as seen now (its client is alive)");
    cmd->add_option("login", o->login, "Login")->required();
    cmd->add_flag("--dry-run", o->dry_run, "Check; write nothing");
    cmd->callback([&ctx, o] {
      auto p = people(ctx);
      print_agent(ctx, p, p.touch_agent(o->login, o->dry_run), o->dry_run);
    });
  }
  {
    auto* cmd = app.add_subcommand("available", "On-line agents and the channels each can receive chats from");
    cmd->callback([&ctx] {
      auto p = people(ctx);
      std::vector<cli::Record> records;
      for (const auto& [login, channels] : p.available_agents()) {
        records.push_back({{"login", login}, {"channels", channels}});
      }
      cli::print_list(ctx.out(), ctx.print_options("login"), records, {{"LOGIN", "login"}, {"CHANNELS", "channels"}});
    });
  }
}

}  // namespace chatctl::cmd
