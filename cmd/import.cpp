// chatctl import: re-creates chats from what export wrote.
#include <fstream>
#include <iostream>

#include "cli/progress.hpp"
#include "commands.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "transcript/import.hpp"

namespace chatctl::cmd {

void register_import(CLI::App& app, Context& ctx) {
  struct Options {
    std::string source;
    bool dry_run{false};
    std::size_t batch_size{200};
  };
  auto o = std::make_shared<Options>();
  app.add_option("source", o->source, "An export file (JSON array or JSON lines), or - for stdin")
      ->required()
      ->type_name("FILE|-");
  app.add_flag("--dry-run", o->dry_run, "Check and count what would be imported; write nothing");
  app.add_option("--batch-size", o->batch_size, "Chats per transaction")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
  app.callback([&ctx, o] {
    transcript::ImportOptions opts;
    opts.source_name = o->source;
    opts.dry_run = o->dry_run;
    opts.batch_size = o->batch_size;
    const auto format = ctx.output_format();
    std::ifstream file;
    if (o->source != "-") {
      file.open(o->source, std::ios::binary);
      if (!file) {
        throw core::Error(core::ErrorKind::no_input, "cannot read " + o->source + ": " + std::strerror(errno));
      }
    }
    std::istream& in = o->source == "-" ? ctx.in() : file;
    cli::Progress progress(o->dry_run ? "import (dry run)" : "import", format == cli::OutputFormat::table);
    opts.progress = [&progress](std::size_t n) { progress.update(n, n); };
    const auto r = transcript::import_chats(ctx.store(), ctx.clock(), ctx.actor(), opts, in);
    progress.finish();
    if (format != cli::OutputFormat::table || ctx.options.verbose > 0 || o->dry_run) {
      cli::Record s;
      s["dry_run"] = r.dry_run;
      s["read"] = r.read;
      s["imported"] = r.imported;
      s["skipped"] = r.skipped;
      s["threads"] = r.threads;
      s["messages"] = r.messages;
      s["participants"] = r.participants;
      s["flags"] = r.flags;
      s["invites"] = r.invites;
      cli::print_one(ctx.out(), ctx.print_options(), s);
    }
  });
}

}  // namespace chatctl::cmd
