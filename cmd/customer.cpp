// chatctl customer: add, list, show, update, availability, greet, seen.
#include <iostream>

#include "cli/records.hpp"
#include "commands.hpp"
#include "engines.hpp"
#include "core/error.hpp"
#include "engine/people.hpp"

namespace chatctl::cmd {
namespace {

cli::Record record(engine::People& p, const model::Customer& c) {
  return cli::customer_record(c, p.effective_availability(c));
}

void print_customer(Context& ctx, engine::People& p, const model::Customer& c, bool dry_run) {
  cli::print_one(ctx.out(), ctx.print_options("id"), record(p, c));
  if (dry_run) std::cerr << "dry run: nothing was written\n";
}

const std::initializer_list<std::string> kAvailability = {"offline", "away", "online", "0", "2", "3"};
const std::initializer_list<std::string> kKinds = {"customer", "public"};

}  // namespace

void register_customer(CLI::App& app, Context& ctx) {
  struct Options {
    std::string id;
    std::optional<std::string> new_id{};
    std::optional<std::string> name{};
    std::optional<std::string> email{};
    std::optional<std::string> kind{};
    std::optional<std::string> availability{};
    std::optional<bool> banned{};
    std::string agent;
    std::string text;
    std::int64_t greeting_id{1};
    std::string addon;
    bool online{false};
    bool dry_run{false};
  };
  const auto fields = [](const Options& o) {
    engine::CustomerFields f;
    f.id = o.new_id;
    f.name = o.name;
    f.email = o.email;
    if (o.kind) f.kind = model::parse_customer_kind(*o.kind);
    f.banned = o.banned;
    return f;
  };

  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("add", "Add a customer");
    cmd->add_option("id", o->new_id, "Customer id (default: a new UUID)");
    cmd->add_option("--name", o->name, "Name");
    cmd->add_option("--email", o->email, "Email address");
    cmd->add_option("--kind", o->kind, "customer (a customer user) or public (an anonymous user)")
        ->check(CLI::IsMember(kKinds));
    cmd->add_flag("--dry-run", o->dry_run, "Show what would be added; write nothing");
    cmd->callback([&ctx, o, fields] {
      auto p = people(ctx);
      print_customer(ctx, p, p.add_customer(fields(*o), o->dry_run), o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("list", "List customers");
    cmd->add_option("--kind", o->kind, "Only customers of this kind")->check(CLI::IsMember(kKinds));
    cmd->add_flag("--online", o->online, "Only customers on-line now");
    cmd->callback([&ctx, o] {
      auto p = people(ctx);
      std::optional<model::CustomerKind> kind;
      if (o->kind) kind = model::parse_customer_kind(*o->kind);
      const auto list = o->online ? p.online_customers(kind) : p.customers({.kind = kind});
      std::vector<cli::Record> records;
      for (const auto& c : list) records.push_back(record(p, c));
      cli::print_list(ctx.out(), ctx.print_options("id"), records, cli::customer_columns());
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("show", "Show one customer");
    cmd->add_option("id", o->id, "Customer id")->required();
    cmd->callback([&ctx, o] {
      auto p = people(ctx);
      print_customer(ctx, p, p.customer(o->id), false);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("update", "Change a customer");
    cmd->add_option("id", o->id, "Customer id")->required();
    cmd->add_option("--name", o->name, "Name");
    cmd->add_option("--email", o->email, "Email address");
    cmd->add_option("--kind", o->kind, "customer or public")->check(CLI::IsMember(kKinds));
    cmd->add_option("--banned", o->banned, "true bans the customer (chatd refuses and disconnects it), false lifts it")
        ->type_name("BOOL");
    cmd->add_flag("--dry-run", o->dry_run, "Show what would change; write nothing");
    cmd->callback([&ctx, o, fields] {
      const auto f = fields(*o);
      if (!f.name && !f.email && !f.kind && !f.banned) {
        throw core::Error(core::ErrorKind::usage, "nothing to change: give at least one option");
      }
      auto p = people(ctx);
      print_customer(ctx, p, p.update_customer(o->id, f, o->dry_run), o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("availability", "Show or set a customer's chat availability");
    cmd->add_option("id", o->id, "Customer id")->required();
    cmd->add_option("availability", o->availability, "New availability")->check(CLI::IsMember(kAvailability));
    cmd->add_flag("--dry-run", o->dry_run, "Show what would change; write nothing");
    cmd->callback([&ctx, o] {
      auto p = people(ctx);
      if (!o->availability) {
        const auto c = p.customer(o->id);
        const auto availability = std::string(model::to_string(p.effective_availability(c)));
        if (ctx.output_format() == cli::OutputFormat::table) {
          ctx.out() << availability << '\n';
        } else {
          cli::print_one(ctx.out(), ctx.print_options("id"), {{"id", c.id}, {"availability", availability}});
        }
        return;
      }
      const auto c =
          p.set_customer_availability(o->id, *model::parse_customer_availability(*o->availability), o->dry_run);
      print_customer(ctx, p, c, o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("greet", "Send a customer a greeting from an agent (RTM incoming_greeting)");
    cmd->add_option("id", o->id, "Customer id")->required();
    cmd->add_option("--agent", o->agent, "Login of the agent greeting")->required();
    cmd->add_option("--text", o->text, "The greeting's message")->required();
    cmd->add_option("--greeting-id", o->greeting_id, "Which configured greeting this is (RTM id)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--addon", o->addon, "The greeting's addon");
    cmd->add_flag("--dry-run", o->dry_run, "Check; write nothing");
    cmd->callback([&ctx, o] {
      auto p = people(ctx);
      const auto g = p.send_greeting(o->id, o->agent, o->text, o->greeting_id, o->addon, o->dry_run);
      cli::print_one(ctx.out(), ctx.print_options("unique_id"), cli::greeting_record(g));
      if (o->dry_run) std::cerr << "dry run: nothing was written\n";
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("seen", "Mark a customer as seen now");
    cmd->add_option("id", o->id, "Customer id")->required();
    cmd->add_flag("--dry-run", o->dry_run, "Check; write nothing");
    cmd->callback([&ctx, o] {
      auto p = people(ctx);
      print_customer(ctx, p, p.touch_customer(o->id, o->dry_run), o->dry_run);
    });
  }
}

}  // namespace chatctl::cmd
