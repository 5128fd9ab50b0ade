// chatctl cleanup: ChatCleanup for cron and systemd timers.
#include <iostream>

#include "cli/progress.hpp"
#include "cli/records.hpp"
#include "commands.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/text.hpp"
#include "engine/cleanup.hpp"

namespace chatctl::cmd {
namespace {

cli::Record summary_record(const engine::CleanupReport& r) {
  cli::Record s;
  s["dry_run"] = r.dry_run;
  s["modes"] = r.modes;
  cli::Record cutoffs = cli::Record::object();
  for (const auto& [mode, t] : r.cutoffs) cutoffs[mode] = core::format_rfc3339(t);
  s["cutoffs"] = cutoffs;
  s["chats"] = r.removed.chats;
  s["threads"] = r.removed.threads;
  s["messages"] = r.removed.messages;
  s["participants"] = r.removed.participants;
  s["invites"] = r.removed.invites;
  s["flags"] = r.removed.flags;
  s["rows"] = r.removed.rows();
  s["batches"] = r.batches;
  s["elapsed_ms"] = r.elapsed_ms;
  s["max_transaction_ms"] = r.max_transaction_ms;
  s["interrupted"] = r.interrupted;
  if (r.dry_run) {
    cli::Record ids = cli::Record::array();
    for (const auto& c : r.chats) ids.push_back(c.id);
    s["chat_ids"] = ids;
  }
  return s;
}

std::string counts_line(const engine::CleanupReport& r) {
  const auto& n = r.removed;
  return std::to_string(n.chats) + " chats (" + std::to_string(n.messages) + " messages, " +
         std::to_string(n.participants) + " participants, " + std::to_string(n.threads) + " threads, " +
         std::to_string(n.invites) + " invites, " + std::to_string(n.flags) + " flags)";
}

}  // namespace

void register_cleanup(CLI::App& app, Context& ctx) {
  struct Options {
    bool closed{false};
    bool old{false};
    std::optional<std::string> older_than{};
    std::size_t batch_size{2048};
    bool dry_run{false};
  };
  auto o = std::make_shared<Options>();
  app.add_flag("--closed", o->closed, "Remove closed chats unchanged for ChatEngine::ChatTTL hours");
  app.add_flag("--old", o->old, "Remove chats of any status unchanged for ChatEngine::ChatDecayTime days");
  app.add_option("--older-than", o->older_than, "Age for this run instead of the settings: 90m, 36h, 7d, 2w")
      ->type_name("DURATION");
  app.add_option("--batch-size", o->batch_size, "At most this many chats per transaction")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
  app.add_flag("--dry-run", o->dry_run, "List and count what would be removed; remove nothing");
  app.callback([&ctx, o] {
    engine::CleanupOptions opts;
    opts.closed = o->closed;
    opts.old = o->old;
    if (o->older_than) {
      opts.older_than = core::parse_duration(*o->older_than);
      if (!opts.older_than) {
        throw core::Error(core::ErrorKind::usage, "--older-than " + core::quoted(*o->older_than) +
                                                      " is not a duration such as 90m, 36h, 7d or 2w");
      }
    }
    opts.max_batch = o->batch_size;
    opts.dry_run = o->dry_run;
    const auto format = ctx.output_format();
    cli::Progress progress(o->dry_run ? "cleanup (dry run)" : "cleanup", format == cli::OutputFormat::table);
    opts.progress = [&progress](std::size_t done, std::size_t total) { progress.update(done, total); };
    core::install_interrupt_handlers();

    const auto report = engine::Cleanup(ctx.store(), ctx.settings(), ctx.clock(), ctx.actor()).run(opts);
    progress.finish();
    if (o->dry_run && (format == cli::OutputFormat::table || format == cli::OutputFormat::name)) {
      std::vector<cli::Record> rows;
      for (const auto& c : report.chats) rows.push_back(cli::chat_record(c));
      cli::print_list(ctx.out(), ctx.print_options("id"), rows, cli::chat_columns());
      if (format == cli::OutputFormat::table) ctx.out() << "dry run: " << counts_line(report) << " would be removed\n";
    } else if (format != cli::OutputFormat::table || ctx.options.verbose > 0) {
      cli::print_one(ctx.out(), ctx.print_options(), summary_record(report));
    }
    if (report.interrupted) {
      throw core::Error(core::ErrorKind::interrupted,
                        "interrupted: " + counts_line(report) + " removed; run cleanup again to finish");
    }
  });
}

}  // namespace chatctl::cmd
