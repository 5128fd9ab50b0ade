// chatctl channel: add, list, show, update, activate, deactivate, apply, diff (and delete, refused).
#include <iostream>

#include "cli/records.hpp"
#include "commands.hpp"
#include "engines.hpp"
#include "core/error.hpp"
#include "engine/channel_file.hpp"
#include "engine/channels.hpp"

namespace chatctl::cmd {
namespace {

struct FieldOptions {
  std::optional<std::string> name{};
  std::optional<std::string> group{};
  bool customer_users{false};
  bool no_customer_users{false};
  bool public_users{false};
  bool no_public_users{false};
  std::optional<std::string> validity{};
  std::optional<std::string> comment{};
  bool dry_run{false};
};

void add_field_options(CLI::App& cmd, FieldOptions& o) {
  cmd.add_option("--group", o.group, "Agent group that can access the channel");
  auto* cu = cmd.add_flag("--customer-users", o.customer_users, "Available to customer users");
  cmd.add_flag("--no-customer-users", o.no_customer_users, "Not available to customer users")->excludes(cu);
  auto* pu = cmd.add_flag("--public-users", o.public_users, "Available to public users");
  cmd.add_flag("--no-public-users", o.no_public_users, "Not available to public users")->excludes(pu);
  cmd.add_option("--validity", o.validity, "Validity")
      ->check(CLI::IsMember({"valid", "invalid", "invalid-temporarily"}));
  cmd.add_option("--comment", o.comment, "Comment shown in the overview");
  cmd.add_flag("--dry-run", o.dry_run, "Show what would change; write nothing");
}

engine::ChannelFields to_fields(const FieldOptions& o) {
  engine::ChannelFields f;
  f.name = o.name;
  f.group = o.group;
  if (o.customer_users) f.customer_users = true;
  if (o.no_customer_users) f.customer_users = false;
  if (o.public_users) f.public_users = true;
  if (o.no_public_users) f.public_users = false;
  if (o.validity) f.validity = model::parse_validity(*o.validity);
  f.comment = o.comment;
  return f;
}

void print_plan(Context& ctx, const engine::ApplyResult& result, bool dry_run) {
  std::vector<cli::Record> records;
  for (const auto& e : result.entries) records.push_back(cli::plan_record(e));
  cli::print_list(ctx.out(), ctx.print_options(), records, cli::plan_columns());
  if (dry_run) std::cerr << "dry run: nothing was written\n";
}

void print_update(Context& ctx, const engine::PlanEntry& entry, bool dry_run) {
  cli::print_one(ctx.out(), ctx.print_options(), cli::channel_record(entry.channel));
  if (entry.action == engine::PlanAction::unchanged) std::cerr << "unchanged: the channel already had these settings\n";
  if (dry_run) std::cerr << "dry run: nothing was written\n";
}


}  // namespace

void register_channel(CLI::App& app, Context& ctx) {

  {
    auto o = std::make_shared<FieldOptions>();
    auto* cmd = app.add_subcommand("add", "Add a chat channel");
    cmd->add_option("name", o->name, "Channel name (1-200 characters, unique)")->required();
    add_field_options(*cmd, *o);
    cmd->get_option("--group")->required();
    cmd->callback([&ctx, o] {
      auto f = to_fields(*o);
      if (!f.customer_users) f.customer_users = true;
      if (!f.public_users) f.public_users = false;
      const auto c = channel_admin(ctx).add(f, o->dry_run);
      cli::print_one(ctx.out(), ctx.print_options(), cli::channel_record(c));
      if (o->dry_run) std::cerr << "dry run: nothing was written\n";
    });
  }

  {
    struct ListOptions {
      bool valid_only{false};
      bool customer_users{false};
      bool public_users{false};
    };
    auto o = std::make_shared<ListOptions>();
    auto* cmd = app.add_subcommand("list", "List chat channels");
    cmd->add_flag("--valid-only", o->valid_only, "Only valid channels");
    cmd->add_flag("--customer-users", o->customer_users, "Only channels available to customer users");
    cmd->add_flag("--public-users", o->public_users, "Only channels available to public users");
    cmd->callback([&ctx, o] {
      store::ChannelFilter filter;
      filter.valid_only = o->valid_only;
      if (o->customer_users) filter.customer_users = true;
      if (o->public_users) filter.public_users = true;
      std::vector<cli::Record> records;
      for (const auto& c : channel_admin(ctx).list(filter)) records.push_back(cli::channel_record(c));
      cli::print_list(ctx.out(), ctx.print_options(), records, cli::channel_columns());
    });
  }

  {
    auto ref = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("show", "Show one chat channel");
    cmd->add_option("channel", *ref, "Channel name or id")->required();
    cmd->callback([&ctx, ref] {
      cli::print_one(ctx.out(), ctx.print_options(), cli::channel_record(channel_admin(ctx).get(*ref)));
    });
  }

  {
    auto ref = std::make_shared<std::string>();
    auto o = std::make_shared<FieldOptions>();
    auto* cmd = app.add_subcommand("update", "Change settings of a chat channel");
    cmd->add_option("channel", *ref, "Channel name or id")->required();
    cmd->add_option("--name", o->name, "New name");
    add_field_options(*cmd, *o);
    cmd->callback([&ctx, ref, o] {
      const auto f = to_fields(*o);
      if (f.empty()) throw core::Error(core::ErrorKind::usage, "nothing to change: give at least one field option");
      print_update(ctx, channel_admin(ctx).update(*ref, f, o->dry_run), o->dry_run);
    });
  }

  {
    struct ValidityOptions {
      std::string ref;
      bool temporarily{false};
      bool dry_run{false};
    };
    auto d = std::make_shared<ValidityOptions>();
    auto* deactivate = app.add_subcommand("deactivate", "Make a chat channel invalid (channels are never deleted)");
    deactivate->add_option("channel", d->ref, "Channel name or id")->required();
    deactivate->add_flag("--temporarily", d->temporarily, "Set invalid-temporarily instead of invalid");
    deactivate->add_flag("--dry-run", d->dry_run, "Show what would change; write nothing");
    deactivate->callback([&ctx, d] {
      engine::ChannelFields f;
      f.validity = d->temporarily ? model::Validity::invalid_temporarily : model::Validity::invalid;
      print_update(ctx, channel_admin(ctx).update(d->ref, f, d->dry_run), d->dry_run);
    });

    auto a = std::make_shared<ValidityOptions>();
    auto* activate = app.add_subcommand("activate", "Make a chat channel valid again");
    activate->add_option("channel", a->ref, "Channel name or id")->required();
    activate->add_flag("--dry-run", a->dry_run, "Show what would change; write nothing");
    activate->callback([&ctx, a] {
      engine::ChannelFields f;
      f.validity = model::Validity::valid;
      print_update(ctx, channel_admin(ctx).update(a->ref, f, a->dry_run), a->dry_run);
    });
  }

  {
    auto ref = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("delete", "Refused: chat channels are deactivated, never deleted");
    cmd->add_option("channel", *ref, "Channel name or id")->required();
    cmd->callback([ref] {
      throw core::Error(core::ErrorKind::usage,
                        "chat channels cannot be deleted, only deactivated; nothing was changed. To deactivate it: "
                        "chatctl channel deactivate " + cli::shell_quote(*ref));
    });
  }

  struct FileOptions {
    std::vector<std::string> files;
    bool dry_run{false};
  };
  {
    auto o = std::make_shared<FileOptions>();
    auto* cmd = app.add_subcommand("apply", "Create or update channels from YAML files, all or nothing");
    cmd->add_option("-f,--file", o->files, "File, folder of *.yaml files, or - for stdin")->required()->type_name("FILE");
    cmd->add_flag("--dry-run", o->dry_run, "Print the plan; write nothing");
    cmd->callback([&ctx, o] {
      const auto specs = engine::load_channel_files(o->files, ctx.in());
      print_plan(ctx, channel_admin(ctx).apply(specs, o->dry_run), o->dry_run);
    });
  }
  {
    auto o = std::make_shared<FileOptions>();
    auto* cmd = app.add_subcommand("diff", "Compare YAML files with the database: exit 0 when equal, 1 when not");
    cmd->add_option("-f,--file", o->files, "File, folder of *.yaml files, or - for stdin")->required()->type_name("FILE");
    cmd->callback([&ctx, o] {
      const auto specs = engine::load_channel_files(o->files, ctx.in());
      const auto result = channel_admin(ctx).diff(specs);
      print_plan(ctx, result, false);
      ctx.exit_code = result.changed() ? 1 : 0;
    });
  }
}

}  // namespace chatctl::cmd
