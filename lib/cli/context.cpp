#include "cli/context.hpp"

#include "core/error.hpp"
#include "core/logging.hpp"
#include "engine/engine.hpp"

namespace chatctl::cli {

Context::Context(std::ostream& out, std::istream& in, Getenv getenv)
    : out_(out), in_(in), getenv_(std::move(getenv)), clock_(std::make_unique<core::SystemClock>()) {}

Context::~Context() = default;

const core::Settings& Context::settings() {
  if (needs_ == Needs::nothing) throw core::Error(core::ErrorKind::internal, "this command declared it needs no settings");
  if (settings_) return *settings_;
  core::SettingsSources src;
  src.config_path = options.config_path;
  src.getenv = getenv_;
  if (options.database) src.flags.emplace_back(std::string(core::keys::kDatabase), *options.database, "--db");
  if (options.verbose > 0) {
    src.flags.emplace_back(std::string(core::keys::kLogLevel), options.verbose > 1 ? "debug" : "info", "-v");
  }
  if (options.log_level) src.flags.emplace_back(std::string(core::keys::kLogLevel), *options.log_level, "--log-level");
  for (const auto& kv : options.set) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw core::Error(core::ErrorKind::usage, "--set expects KEY=VALUE, got \"" + kv + "\"");
    }
    src.flags.emplace_back(kv.substr(0, eq), kv.substr(eq + 1), "--set " + kv.substr(0, eq));
  }
  settings_ = core::Settings::resolve(src);
  core::init_logging(settings_->get_string(core::keys::kLogLevel));
  return *settings_;
}

store::Store& Context::store() {
  if (needs_ != Needs::store) throw core::Error(core::ErrorKind::internal, "this command declared it needs no database");
  if (store_ready_) return *store_;
  store_ = engine::open_database(settings(), *clock_);
  store_ready_ = true;
  return *store_;
}

store::Store& Context::raw_store() {
  if (needs_ != Needs::store) throw core::Error(core::ErrorKind::internal, "this command declared it needs no database");
  if (!store_) store_ = engine::connect_database(settings());
  return *store_;
}

OutputFormat Context::output_format() const { return parse_output_format(options.output).value_or(OutputFormat::table); }

PrintOptions Context::print_options() const { return PrintOptions{output_format(), options.no_headers}; }

PrintOptions Context::print_options(std::string name_key) const {
  return PrintOptions{output_format(), options.no_headers, std::move(name_key)};
}

}  // namespace chatctl::cli
