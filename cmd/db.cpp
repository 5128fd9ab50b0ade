// chatctl db: migrate, status.
#include <iostream>

#include "cli/records.hpp"
#include "commands.hpp"
#include "store/store.hpp"

namespace chatctl::cmd {
void register_db(CLI::App& app, Context& ctx) {

  auto dry_run = std::make_shared<bool>(false);
  auto* migrate = app.add_subcommand("migrate", "Apply pending schema migrations");
  migrate->add_flag("--dry-run", *dry_run, "List pending migrations; apply nothing");
  migrate->callback([&ctx, dry_run] {
    auto& store = ctx.raw_store();
    if (*dry_run) {
      const auto states = store.migration_status();
      store::refuse_newer_schema(states);  // as the real run would (69)
      std::vector<cli::Record> pending;
      for (const auto& m : states) {
        if (!m.applied_at) pending.push_back(cli::migration_record(m));
      }
      cli::print_list(ctx.out(), ctx.print_options(), pending, cli::migration_columns());
      std::cerr << "dry run: " << pending.size() << " migration(s) pending, nothing applied\n";
      return;
    }
    const int applied = store.migrate();
    std::cerr << "applied " << applied << " migration(s) to " << store.address() << '\n';
  });

  auto* status = app.add_subcommand("status", "List schema migrations and whether each is applied");
  status->callback([&ctx] {
    std::vector<cli::Record> records;
    for (const auto& m : ctx.raw_store().migration_status()) records.push_back(cli::migration_record(m));
    cli::print_list(ctx.out(), ctx.print_options(), records, cli::migration_columns());
  });
}

}  // namespace chatctl::cmd
