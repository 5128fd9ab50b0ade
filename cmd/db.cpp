// chatctl db: migrate, status.
#include <iostream>

#include "commands.hpp"
#include "core/clock.hpp"

namespace chatctl::cmd {
namespace {

cli::Record migration_record(const store::MigrationState& m) {
  cli::Record r;
  r["version"] = m.version;
  r["name"] = m.name;
  r["state"] = !m.known ? "unknown (newer chatctl)" : (m.applied_at ? "applied" : "pending");
  r["applied_at"] = m.applied_at ? cli::Record(core::format_rfc3339(*m.applied_at)) : cli::Record(nullptr);
  return r;
}

const std::vector<cli::Column> kColumns = {
    {"VERSION", "version"}, {"NAME", "name"}, {"STATE", "state"}, {"APPLIED_AT", "applied_at"}};

}  // namespace

void register_db(CLI::App& app, Context& ctx) {

  auto dry_run = std::make_shared<bool>(false);
  auto* migrate = app.add_subcommand("migrate", "Apply pending schema migrations");
  migrate->add_flag("--dry-run", *dry_run, "List pending migrations; apply nothing");
  migrate->callback([&ctx, dry_run] {
    auto& store = ctx.raw_store();
    if (*dry_run) {
      std::vector<cli::Record> pending;
      for (const auto& m : store.migration_status()) {
        if (!m.applied_at) pending.push_back(migration_record(m));
      }
      cli::print_list(ctx.out(), ctx.print_options(), pending, kColumns);
      std::cerr << "dry run: " << pending.size() << " migration(s) pending, nothing applied\n";
      return;
    }
    const int applied = store.migrate();
    std::cerr << "applied " << applied << " migration(s) to " << store.address() << '\n';
  });

  auto* status = app.add_subcommand("status", "List schema migrations and whether each is applied");
  status->callback([&ctx] {
    std::vector<cli::Record> records;
    for (const auto& m : ctx.raw_store().migration_status()) records.push_back(migration_record(m));
    cli::print_list(ctx.out(), ctx.print_options(), records, kColumns);
  });
}

}  // namespace chatctl::cmd
