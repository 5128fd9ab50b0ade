// chatctl config: show.
#include "cli/records.hpp"
#include "commands.hpp"

namespace chatctl::cmd {

void register_config(CLI::App& app, Context& ctx) {
  auto origin = std::make_shared<bool>(false);
  auto* show = app.add_subcommand("show", "Print the effective settings (secrets redacted)");
  show->add_flag("--origin", *origin, "Also print where each value came from (flag, environment, file, default)");
  show->callback([&ctx, origin] {
    const auto& settings = ctx.settings();
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
