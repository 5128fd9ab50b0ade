#include <algorithm>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/output.hpp"
#include "commands.hpp"
#include "core/error.hpp"

namespace chatctl::cmd {

namespace {

// A command with subcommands needs one. CLI11's own check runs before it reports unknown words,
// so "chatctl bogus" would only say "a subcommand is required"; this check runs after, and the
// unknown word is reported by name.
void require_command(CLI::App& app) {
  if (app.get_subcommands({}).empty()) return;
  app.require_subcommand(0, 1);
  app.callback([&app] {
    if (app.get_subcommands().empty()) {
      std::string names;
      for (const CLI::App* s : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + s->get_name();
      const std::string name = app.get_parent() ? "chatctl " + app.get_name() : "chatctl";
      throw CLI::ValidationError("'" + name + "' needs a command: " + names);
    }
  });
  for (CLI::App* sub : app.get_subcommands({})) require_command(*sub);
}

// CLI11 lets a list option take every word that follows, so "channel show --set actor=x Sales"
// lost "Sales" to --set. Each pair gets its own --set instead: after --set (with its first pair,
// or --set=PAIR), the words right after it that hold a '=' (and are no option), as chatctl(1)
// describes. Nothing after "--" is touched. Returned reversed, as CLI::App::parse takes a vector.
std::vector<std::string> split_set_pairs(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view word = argv[i];
    args.emplace_back(word);
    if (word == "--") {
      for (++i; i < argc; ++i) args.emplace_back(argv[i]);
      break;
    }
    if (word == "--set" && i + 1 < argc) {
      args.emplace_back(argv[++i]);
    } else if (word.rfind("--set=", 0) != 0) {
      continue;
    }
    while (i + 1 < argc) {
      const std::string_view next = argv[i + 1];
      if (next.empty() || next.front() == '-' || next.find('=') == std::string_view::npos) break;
      args.emplace_back("--set");
      args.emplace_back(next);
      ++i;
    }
  }
  std::reverse(args.begin(), args.end());
  return args;
}

}  // namespace

void build_app(CLI::App& app, Context& ctx) {
  app.fallthrough();  // global options may follow the subcommand
  app.set_help_all_flag("--help-all", "Show help for every command");
  auto& o = ctx.options;
  app.add_option("--config", o.config_path, "YAML config file (default: $XDG_CONFIG_HOME/chatctl/config.yaml)")
      ->type_name("FILE");
  app.add_option("--db", o.database, "Database: a SQLite path or postgresql://user@host/db (env CHATCTL_DB)");
  app.add_option("-o,--output", o.output, "Output format")
      ->check(CLI::IsMember({"table", "json", "jsonl", "yaml", "name"}));
  app.add_flag("--no-headers", o.no_headers, "Omit table headers");
  app.add_option("--set", o.set, "Override a setting: KEY=VALUE (repeatable)")
      ->type_name("KEY=VALUE")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--log-level", o.log_level, "Diagnostics level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_flag("-v,--verbose", o.verbose, "More diagnostics on stderr (-vv for debug)");

  for (const auto& group : kCommandGroups) {
    CLI::App* sub = app.add_subcommand(group.name, group.description);
    const Needs needs = group.needs;
    sub->preparse_callback([&ctx, needs](std::size_t) { ctx.set_needs(needs); });
    group.setup(*sub, ctx);
  }
  require_command(app);
}

int run(int argc, char** argv) {
  Context ctx(std::cout, std::cin, [](const char* name) -> const char* { return std::getenv(name); });
  CLI::App app{"chatctl: administration and batch toolkit for customer chat", "chatctl"};
  try {
    build_app(app, ctx);
    app.parse(split_set_pairs(argc, argv));
    std::cout.flush();
    if (!std::cout) throw core::Error(core::ErrorKind::io, "cannot write to standard output");
    return ctx.exit_code;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --help-all
    // One line, as every error: the pointer to --help goes on it.
    std::string message = e.what();
    if (ctx.output_format() == cli::OutputFormat::table) message += " (see chatctl --help)";
    std::cerr << cli::format_error(ctx.output_format(), message, 64) << '\n';
    return 64;
  } catch (const core::Error& e) {
    std::cerr << cli::format_error(ctx.output_format(), e.what(), e.exit_code()) << '\n';
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << cli::format_error(ctx.output_format(), std::string("internal error: ") + e.what(), 70) << '\n';
    return 70;
  }
}

}  // namespace chatctl::cmd

int main(int argc, char** argv) { return chatctl::cmd::run(argc, argv); }
