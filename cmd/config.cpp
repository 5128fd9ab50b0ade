// chatctl config: show.
#include "cli/records.hpp"
#include "commands.hpp"
#include "store/dsn.hpp"

namespace chatctl::cmd {

void register_config(CLI::App& app, Context& ctx) {
  auto origin = std::make_shared<bool>(false);
  auto* show = app.add_subcommand("show", "Print the effective settings (secrets redacted)");
  show->add_flag("--origin", *origin, "Also print where each value came from (flag, environment, file, default)");
  show->callback([&ctx, origin] {
    const auto& settings = ctx.settings();
    // The address is checked as every command that opens the database checks it (status 78).
    store::parse_database_address(settings.get_string(core::keys::kDatabase));
    std::vector<cli::Record> records;
    for (const auto& def : core::setting_defs()) records.push_back(cli::setting_record(def, settings, *origin));
    std::vector<cli::Column> columns = {{"KEY", "name"}, {"VALUE", "value"}};
    if (*origin) {
      columns.push_back({"ORIGIN", "origin"});
      columns.push_back({"SOURCE", "source"});
    }
    cli::print_list(ctx.out(), ctx.print_options(), records, columns);
  });
}

}  // namespace chatctl::cmd
