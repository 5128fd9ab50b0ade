// chatctl version.
#include "commands.hpp"
#include "core/version.hpp"
#include "store/backends.hpp"

namespace chatctl::cmd {

void register_version(CLI::App& app, Context& ctx) {
  app.callback([&ctx] {
    cli::Record r;
    r["name"] = "chatctl";
    r["version"] = core::kVersion;
    cli::Record backends = cli::Record::array();
    for (const auto& b : store::compiled_backends()) backends.push_back({{"name", b.name}, {"library", b.library}});
    r["backends"] = backends;
    const auto format = ctx.output_format();
    if (format == cli::OutputFormat::table) {
      ctx.out() << "chatctl " << core::kVersion << "\nbackends:";
      for (const auto& b : store::compiled_backends()) ctx.out() << ' ' << b.name << " (" << b.library << ")";
      ctx.out() << '\n';
    } else {
      cli::print_one(ctx.out(), ctx.print_options(), r);
    }
  });
}

}  // namespace chatctl::cmd
