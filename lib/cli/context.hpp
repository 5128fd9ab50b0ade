#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/output.hpp"
#include "core/clock.hpp"
#include "core/settings.hpp"
#include "store/store.hpp"

namespace chatctl::cli {

// How much of chatctl a command needs loaded (cf. ninja's tool table). The context refuses to
// open what a command did not declare, so `chatctl version` can never touch a database.
enum class Needs { nothing, config, store };

// Options every command accepts (defined on the root; given before or after the subcommand).
struct GlobalOptions {
  std::optional<std::string> config_path{};
  std::optional<std::string> database{};
  std::optional<std::string> log_level{};
  std::vector<std::string> set{};  // KEY=VALUE overrides
  std::string output{"table"};
  bool no_headers{false};
  int verbose{0};
};

// What a command callback works with: resolved settings, the database and the output streams,
// each made on first use. Not thread-safe; one per process.
class Context {
 public:
  using Getenv = std::function<const char*(const char*)>;
  Context(std::ostream& out, std::istream& in, Getenv getenv);
  ~Context();

  GlobalOptions options;
  // What main returns when the command finishes without an error (diff: 1 when different).
  int exit_code{0};

  // Declared by main for the command that runs.
  void set_needs(Needs needs) { needs_ = needs; }

  // Throws Error(config/usage/no_input) for bad settings.
  const core::Settings& settings();
  // The database, connected, migrated and with the default channel in place.
  store::Store& store();
  // The database connected but untouched (no migration): for `db status` and `db migrate`.
  store::Store& raw_store();
  const core::Clock& clock() const { return *clock_; }
  std::string actor() { return settings().get_string(core::keys::kActor); }

  PrintOptions print_options() const;
  // The same, with -o name printing `name_key` (a login, an id, ...) instead of "name".
  PrintOptions print_options(std::string name_key) const;
  OutputFormat output_format() const;
  std::ostream& out() { return out_; }
  std::istream& in() { return in_; }

 private:
  std::ostream& out_;
  std::istream& in_;
  Getenv getenv_;
  Needs needs_{Needs::store};
  std::optional<core::Settings> settings_;
  std::unique_ptr<store::Store> store_;
  bool store_ready_{false};
  std::unique_ptr<core::Clock> clock_;
};

}  // namespace chatctl::cli
