// Settings resolution (lib/core/settings.hpp): defaults, the YAML config file, the environment and
// flags. The real environment is never read: every test injects getenv from a map, and config
// files live in a fresh mkdtemp folder.
#include "core/settings.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

#include "support/error_kind.hpp"
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.hpp"
#include "support/databases.hpp"

using namespace chatctl;
using core::ErrorKind;
using core::Origin;
using core::Settings;
using core::SettingsSources;
namespace keys = core::keys;

namespace {

using test::error_of;

// A test's world: a temporary folder for config files and a fake environment.
struct World {
  test::TempDir dir;
  std::map<std::string, std::string> env;
  std::vector<std::string> env_reads;

  std::string write(const std::string& name, const std::string& content) {
    const std::string path = dir.path() + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out << content;
    REQUIRE(out.good());
    return path;
  }

  SettingsSources sources() {
    SettingsSources s;
    s.getenv = [this](const char* name) -> const char* {
      env_reads.emplace_back(name);
      const auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    };
    return s;
  }

  Settings resolve(std::optional<std::string> config = std::nullopt,
                   std::vector<std::tuple<std::string, std::string, std::string>> flags = {}) {
    auto s = sources();
    s.config_path = std::move(config);
    s.flags = std::move(flags);
    return Settings::resolve(s);
  }

  core::Error resolve_error(std::optional<std::string> config = std::nullopt,
                            std::vector<std::tuple<std::string, std::string, std::string>> flags = {}) {
    return error_of([&] { (void)resolve(config, flags); });
  }
};

}  // namespace

TEST_CASE("settings: defaults", "[settings]") {
  const Settings s = Settings::defaults();
  CHECK(s.get_int(keys::kBusyTimeout) == 5000);
  CHECK(s.get_bool(keys::kAutoMigrate));
  CHECK(s.get_string(keys::kLogLevel) == "warn");
  CHECK(s.get_bool(keys::kEngineActive));
  CHECK(s.get_string(keys::kDefaultChannel) == "Chat Channel");
  CHECK(s.get_int(keys::kChatDecayTime) == 30);
  CHECK(s.get_int(keys::kChatTTL) == 24);
  CHECK(s.get_string(keys::kDefaultAgentName) == "Support Agent");
  CHECK(s.get_bool(keys::kDefaultAgentNameNumbers));
  CHECK(s.get_int(keys::kAgentOnlineThreshold) == 5);
  CHECK(s.get_int(keys::kCustomerOnlineThreshold) == 5);
  CHECK(s.get_string("ChatEngine::PermissionGroup::ChatReceivingAgents") == "users");
  CHECK(s.get_string("ChatEngine::PermissionGroup::ChatStartingAgents") == "users");
  CHECK(s.get_bool("ChatEngine::ChatDirection::PublicToAgent"));
  // Without HOME or XDG_DATA_HOME the database is in the working directory; without USER the
  // actor is "chatctl".
  CHECK(s.get_string(keys::kDatabase) == "chatctl.db");
  CHECK(s.get_string(keys::kActor) == "chatctl");
  CHECK_FALSE(s.config_file().has_value());
}

TEST_CASE("settings: every defined setting has a default value with default origin", "[settings]") {
  const Settings s = Settings::defaults();
  for (const auto& def : core::setting_defs()) {
    INFO(def.key);
    const auto& v = s.value(def.key);
    CHECK(v.origin == Origin::default_value);
    CHECK(v.source.empty());
    CHECK(core::find_setting(def.key) == &def);
    CHECK_FALSE(def.env.empty());
  }
  CHECK(core::find_setting("no_such_setting") == nullptr);
  CHECK(core::find_setting("ChatEngine") == nullptr);
}

TEST_CASE("settings: defaults() overrides count as flags", "[settings]") {
  const Settings s = Settings::defaults({{"busy_timeout_ms", "250"}, {"ChatEngine::Active", "no"}});
  CHECK(s.get_int(keys::kBusyTimeout) == 250);
  CHECK(s.value(keys::kBusyTimeout).origin == Origin::flag);
  CHECK_FALSE(s.get_bool(keys::kEngineActive));
  CHECK(s.value(keys::kEngineActive).text == "false");  // normalised
  CHECK(s.value(keys::kAutoMigrate).origin == Origin::default_value);
}

TEST_CASE("settings: asking for an unknown key is an internal error", "[settings]") {
  const Settings s = Settings::defaults();
  CHECK(error_of([&] { (void)s.value("nope"); }).kind() == ErrorKind::internal);
  CHECK(error_of([&] { (void)s.get_string("ChatEngine"); }).kind() == ErrorKind::internal);
}

TEST_CASE("settings: origin names", "[settings]") {
  CHECK(core::origin_name(Origin::default_value) == "default");
  CHECK(core::origin_name(Origin::file) == "file");
  CHECK(core::origin_name(Origin::environment) == "environment");
  CHECK(core::origin_name(Origin::flag) == "flag");
}

TEST_CASE("settings: precedence is flag > environment > file > default", "[settings]") {
  World w;
  const std::string path = w.write("config.yaml", "busy_timeout_ms: 100\nlog_level: info\nactor: file-actor\n");
  const std::vector<std::tuple<std::string, std::string, std::string>> flags = {
      {"busy_timeout_ms", "300", "--busy-timeout"}};

  SECTION("file over default") {
    const Settings s = w.resolve(path);
    CHECK(s.get_int(keys::kBusyTimeout) == 100);
    CHECK(s.value(keys::kBusyTimeout).origin == Origin::file);
    CHECK(s.value(keys::kBusyTimeout).source == path + ":1:18");
    CHECK(s.get_string(keys::kLogLevel) == "info");
    CHECK(s.value(keys::kLogLevel).source == path + ":2:12");
    CHECK(s.config_file() == std::optional<std::string>(path));
    // Untouched settings keep their defaults.
    CHECK(s.value(keys::kAutoMigrate).origin == Origin::default_value);
  }
  SECTION("environment over file") {
    w.env["CHATCTL_BUSY_TIMEOUT_MS"] = "200";
    const Settings s = w.resolve(path);
    CHECK(s.get_int(keys::kBusyTimeout) == 200);
    CHECK(s.value(keys::kBusyTimeout).origin == Origin::environment);
    CHECK(s.value(keys::kBusyTimeout).source == "CHATCTL_BUSY_TIMEOUT_MS");
    CHECK(s.value(keys::kLogLevel).origin == Origin::file);
  }
  SECTION("flag over environment and file") {
    w.env["CHATCTL_BUSY_TIMEOUT_MS"] = "200";
    const Settings s = w.resolve(path, flags);
    CHECK(s.get_int(keys::kBusyTimeout) == 300);
    CHECK(s.value(keys::kBusyTimeout).origin == Origin::flag);
    CHECK(s.value(keys::kBusyTimeout).source == "--busy-timeout");
  }
  SECTION("environment over default without a file") {
    w.env["CHATCTL_LOG_LEVEL"] = "error";
    const Settings s = w.resolve();
    CHECK(s.get_string(keys::kLogLevel) == "error");
    CHECK(s.value(keys::kLogLevel).origin == Origin::environment);
    CHECK(s.value(keys::kLogLevel).source == "CHATCTL_LOG_LEVEL");
  }
  SECTION("an empty environment variable does not count") {
    w.env["CHATCTL_BUSY_TIMEOUT_MS"] = "";
    const Settings s = w.resolve(path);
    CHECK(s.get_int(keys::kBusyTimeout) == 100);
    CHECK(s.value(keys::kBusyTimeout).origin == Origin::file);
  }
  SECTION("the last of repeated flags wins") {
    const Settings s = w.resolve(path, {{"log_level", "debug", "--set"}, {"log_level", "trace", "--log-level"}});
    CHECK(s.get_string(keys::kLogLevel) == "trace");
    CHECK(s.value(keys::kLogLevel).source == "--log-level");
  }
}

TEST_CASE("settings: values are normalised", "[settings]") {
  World w;
  w.env["CHATCTL_AUTO_MIGRATE"] = "OFF";
  w.env["CHATCTL_BUSY_TIMEOUT_MS"] = " 0042 ";
  const Settings s = w.resolve();
  CHECK(s.value(keys::kAutoMigrate).text == "false");
  CHECK_FALSE(s.get_bool(keys::kAutoMigrate));
  CHECK(s.value(keys::kBusyTimeout).text == "42");
  CHECK(s.get_int(keys::kBusyTimeout) == 42);
}

TEST_CASE("settings: the environment variable of every setting is read", "[settings]") {
  World w;
  (void)w.resolve();
  for (const auto& def : core::setting_defs()) {
    INFO(def.env);
    CHECK(std::find(w.env_reads.begin(), w.env_reads.end(), std::string(def.env)) != w.env_reads.end());
  }
}

TEST_CASE("settings: nested ChatEngine maps join with ::", "[settings]") {
  World w;
  SECTION("flow style") {
    const std::string path = w.write("c.yaml", "ChatEngine: {Active: false}\n");
    const Settings s = w.resolve(path);
    CHECK_FALSE(s.get_bool(keys::kEngineActive));
    CHECK(s.value(keys::kEngineActive).origin == Origin::file);
    CHECK(s.value(keys::kEngineActive).source == path + ":1:22");
  }
  SECTION("block style, several levels") {
    const std::string path = w.write("c.yaml",
                                     "ChatEngine:\n"
                                     "  Active: off\n"
                                     "  ChatTTL: 48\n"
                                     "  DefaultChatChannel: \"Sales\"\n"
                                     "  PermissionGroup:\n"
                                     "    ChatStartingAgents: admin\n"
                                     "  ChatDirection:\n"
                                     "    PublicToAgent: no\n");
    const Settings s = w.resolve(path);
    CHECK_FALSE(s.get_bool(keys::kEngineActive));
    CHECK(s.value(keys::kEngineActive).source == path + ":2:11");
    CHECK(s.get_int(keys::kChatTTL) == 48);
    CHECK(s.get_string(keys::kDefaultChannel) == "Sales");
    CHECK(s.get_string("ChatEngine::PermissionGroup::ChatStartingAgents") == "admin");
    CHECK(s.value("ChatEngine::PermissionGroup::ChatStartingAgents").source == path + ":6:25");
    CHECK_FALSE(s.get_bool("ChatEngine::ChatDirection::PublicToAgent"));
    CHECK(s.get_string("ChatEngine::PermissionGroup::ChatReceivingAgents") == "users");  // untouched
  }
  SECTION("the joined key written flat") {
    const std::string path = w.write("c.yaml", "ChatEngine::Active: false\n");
    CHECK_FALSE(w.resolve(path).get_bool(keys::kEngineActive));
  }
  SECTION("an environment variable overrides the nested file value") {
    const std::string path = w.write("c.yaml", "ChatEngine: {Active: false}\n");
    w.env["CHATCTL_CHATENGINE_ACTIVE"] = "true";
    const Settings s = w.resolve(path);
    CHECK(s.get_bool(keys::kEngineActive));
    CHECK(s.value(keys::kEngineActive).origin == Origin::environment);
  }
}

TEST_CASE("settings: empty config files are fine", "[settings]") {
  World w;
  for (const char* content : {"", "# just a comment\n", "---\n"}) {
    INFO('"' << content << '"');
    const std::string path = w.write("empty.yaml", content);
    const Settings s = w.resolve(path);
    CHECK(s.config_file() == std::optional<std::string>(path));
    CHECK(s.value(keys::kBusyTimeout).origin == Origin::default_value);
  }
}

TEST_CASE("settings: an unknown key in the file is a config error with its position", "[settings]") {
  World w;
  SECTION("top level") {
    const std::string path = w.write("c.yaml", "log_level: info\n\nbogus: 1\n");
    const auto e = w.resolve_error(path);
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::StartsWith(path + ":3:1:"));
    CHECK_THAT(e.what(), Catch::Contains("unknown setting \"bogus\""));
  }
  SECTION("nested") {
    const std::string path = w.write("c.yaml", "ChatEngine:\n  Bogus: 1\n");
    const auto e = w.resolve_error(path);
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::StartsWith(path + ":2:3:"));
    CHECK_THAT(e.what(), Catch::Contains("\"ChatEngine::Bogus\""));
  }
  SECTION("a wrongly cased key gets a suggestion") {
    const std::string path = w.write("c.yaml", "Busy_Timeout_MS: 10\n");
    const auto e = w.resolve_error(path);
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains(path + ":1:1:") && Catch::Contains("did you mean \"busy_timeout_ms\""));
  }
  SECTION("a scalar where a section is expected") {
    const std::string path = w.write("c.yaml", "ChatEngine: true\n");
    const auto e = w.resolve_error(path);
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains(path + ":1:1:") && Catch::Contains("ChatEngine"));
  }
}

TEST_CASE("settings: a wrong type in the file is a config error", "[settings]") {
  World w;
  SECTION("boolean") {
    const std::string path = w.write("c.yaml", "auto_migrate: maybe\n");
    const auto e = w.resolve_error(path);
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains(path + ":1:15:") && Catch::Contains("auto_migrate") &&
                             Catch::Contains("boolean") && Catch::Contains("\"maybe\""));
  }
  SECTION("integer") {
    const std::string path = w.write("c.yaml", "busy_timeout_ms: fast\n");
    const auto e = w.resolve_error(path);
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains(path + ":1:18:") && Catch::Contains("integer"));
  }
  SECTION("a fraction for an integer") {
    CHECK(w.resolve_error(w.write("c.yaml", "busy_timeout_ms: 1.5\n")).kind() == ErrorKind::config);
  }
  SECTION("a mapping or sequence for a value") {
    CHECK(w.resolve_error(w.write("c.yaml", "busy_timeout_ms: {a: 1}\n")).kind() == ErrorKind::config);
    CHECK(w.resolve_error(w.write("c.yaml", "log_level: [info]\n")).kind() == ErrorKind::config);
    CHECK(w.resolve_error(w.write("c.yaml", "ChatEngine: {Active: [true]}\n")).kind() == ErrorKind::config);
  }
  SECTION("invalid UTF-8 in a string") {
    CHECK(w.resolve_error(w.write("c.yaml",
                                  "actor: \"a\xFF"
                                  "b\"\n"))
              .kind() == ErrorKind::config);
  }
}

TEST_CASE("settings: out-of-range integers are config errors", "[settings]") {
  World w;
  for (const char* content :
       {"busy_timeout_ms: -1\n", "busy_timeout_ms: 3600001\n", "ChatEngine: {AgentOnlineThreshold: 0}\n",
        "ChatEngine: {CustomerOnlineThreshold: 1441}\n", "ChatEngine: {ChatDecayTime: -5}\n",
        "busy_timeout_ms: 99999999999999999999\n"}) {
    INFO(content);
    CHECK(w.resolve_error(w.write("c.yaml", content)).kind() == ErrorKind::config);
  }
  const auto e = w.resolve_error(w.write("c.yaml", "busy_timeout_ms: -1\n"));
  CHECK_THAT(e.what(), Catch::Contains("between 0 and 3600000"));
  // The bounds themselves are fine.
  CHECK(w.resolve(w.write("c.yaml", "busy_timeout_ms: 3600000\n")).get_int(keys::kBusyTimeout) == 3600000);
  CHECK(w.resolve(w.write("c.yaml", "ChatEngine: {AgentOnlineThreshold: 1}\n")).get_int(keys::kAgentOnlineThreshold) ==
        1);
  CHECK(w.resolve(w.write("c.yaml", "busy_timeout_ms: 0\n")).get_int(keys::kBusyTimeout) == 0);
}

TEST_CASE("settings: malformed YAML is a config error", "[settings]") {
  World w;
  for (const char* content : {"log_level: [info\n", "a: b: c\n", "key: \"unterminated\n", "\tlog_level: info\n"}) {
    INFO(content);
    const std::string path = w.write("bad.yaml", content);
    const auto e = w.resolve_error(path);
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::StartsWith(path));
  }
  const auto e = w.resolve_error(w.write("bad.yaml", "log_level: [info\n"));
  CHECK_THAT(e.what(), Catch::Contains("malformed YAML"));
}

TEST_CASE("settings: a config file that is not a mapping is a config error", "[settings]") {
  World w;
  for (const char* content : {"- a\n- b\n", "just a string\n", "42\n"}) {
    INFO(content);
    CHECK(w.resolve_error(w.write("c.yaml", content)).kind() == ErrorKind::config);
  }
}

TEST_CASE("settings: an explicitly named config file that is missing is no_input", "[settings]") {
  World w;
  const std::string missing = w.dir.path() + "/missing.yaml";
  SECTION("--config") {
    const auto e = w.resolve_error(missing);
    CHECK(e.kind() == ErrorKind::no_input);
    CHECK_THAT(e.what(), Catch::Contains(missing));
  }
  SECTION("CHATCTL_CONFIG") {
    w.env["CHATCTL_CONFIG"] = missing;
    CHECK(w.resolve_error().kind() == ErrorKind::no_input);
  }
}

TEST_CASE("settings: where the config file is found", "[settings]") {
  World w;
  SECTION("CHATCTL_CONFIG names it") {
    const std::string path = w.write("env.yaml", "log_level: debug\n");
    w.env["CHATCTL_CONFIG"] = path;
    const Settings s = w.resolve();
    CHECK(s.get_string(keys::kLogLevel) == "debug");
    CHECK(s.config_file() == std::optional<std::string>(path));
  }
  SECTION("--config wins over CHATCTL_CONFIG") {
    const std::string flag = w.write("flag.yaml", "log_level: error\n");
    w.env["CHATCTL_CONFIG"] = w.write("env.yaml", "log_level: debug\n");
    const Settings s = w.resolve(flag);
    CHECK(s.get_string(keys::kLogLevel) == "error");
    CHECK(s.config_file() == std::optional<std::string>(flag));
  }
  SECTION("the XDG default when it exists") {
    std::filesystem::create_directories(w.dir.path() + "/xdg/chatctl");
    const std::string path = w.write("xdg/chatctl/config.yaml", "log_level: trace\n");
    w.env["XDG_CONFIG_HOME"] = w.dir.path() + "/xdg";
    w.env["HOME"] = w.dir.path() + "/home";
    const Settings s = w.resolve();
    CHECK(s.get_string(keys::kLogLevel) == "trace");
    CHECK(s.config_file() == std::optional<std::string>(path));
  }
  SECTION("~/.config when XDG_CONFIG_HOME is not set") {
    std::filesystem::create_directories(w.dir.path() + "/home/.config/chatctl");
    const std::string path = w.write("home/.config/chatctl/config.yaml", "log_level: info\n");
    w.env["HOME"] = w.dir.path() + "/home";
    const Settings s = w.resolve();
    CHECK(s.get_string(keys::kLogLevel) == "info");
    CHECK(s.config_file() == std::optional<std::string>(path));
  }
  SECTION("a missing default is not an error") {
    w.env["XDG_CONFIG_HOME"] = w.dir.path() + "/nowhere";
    const Settings s = w.resolve();
    CHECK_FALSE(s.config_file().has_value());
    CHECK(s.get_string(keys::kLogLevel) == "warn");
  }
}

TEST_CASE("settings: a bad environment value is a config error naming the variable", "[settings]") {
  World w;
  SECTION("integer") {
    w.env["CHATCTL_BUSY_TIMEOUT_MS"] = "soon";
    const auto e = w.resolve_error();
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::StartsWith("CHATCTL_BUSY_TIMEOUT_MS:") && Catch::Contains("\"soon\""));
  }
  SECTION("boolean") {
    w.env["CHATCTL_CHATENGINE_ACTIVE"] = "sometimes";
    const auto e = w.resolve_error();
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains("CHATCTL_CHATENGINE_ACTIVE"));
  }
  SECTION("out of range") {
    w.env["CHATCTL_CHATENGINE_AGENTONLINETHRESHOLD"] = "0";
    const auto e = w.resolve_error();
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains("CHATCTL_CHATENGINE_AGENTONLINETHRESHOLD"));
  }
  SECTION("choice") {
    w.env["CHATCTL_LOG_LEVEL"] = "loud";
    const auto e = w.resolve_error();
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains("CHATCTL_LOG_LEVEL"));
  }
}

TEST_CASE("settings: flags", "[settings]") {
  World w;
  SECTION("an unknown --set key is a usage error") {
    const auto e = w.resolve_error(std::nullopt, {{"no_such_key", "1", "--set"}});
    CHECK(e.kind() == ErrorKind::usage);
    CHECK_THAT(e.what(), Catch::Contains("--set") && Catch::Contains("no_such_key"));
  }
  SECTION("a section name is not a key") {
    CHECK(w.resolve_error(std::nullopt, {{"ChatEngine", "x", "--set"}}).kind() == ErrorKind::usage);
  }
  SECTION("a wrongly cased key gets a suggestion") {
    const auto e = w.resolve_error(std::nullopt, {{"chatengine::active", "false", "--set"}});
    CHECK(e.kind() == ErrorKind::usage);
    CHECK_THAT(e.what(), Catch::Contains("did you mean \"ChatEngine::Active\""));
  }
  SECTION("a bad value on the command line is a usage error naming the flag") {
    const auto e = w.resolve_error(std::nullopt, {{"busy_timeout_ms", "x", "--busy-timeout"}});
    CHECK(e.kind() == ErrorKind::usage);
    CHECK_THAT(e.what(), Catch::StartsWith("--busy-timeout:"));
  }
  SECTION("Settings::defaults rejects unknown overrides too") {
    CHECK(error_of([] { (void)Settings::defaults({{"nope", "1"}}); }).kind() == ErrorKind::usage);
  }
}

TEST_CASE("settings: log_level must be one of its choices", "[settings]") {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "off"}) {
    INFO(level);
    CHECK(Settings::defaults({{"log_level", level}}).get_string(keys::kLogLevel) == level);
  }
  const auto def = core::find_setting(keys::kLogLevel);
  REQUIRE(def != nullptr);
  CHECK(def->choices.size() == 6);
  for (const char* level : {"verbose", "", "warning", "Info "}) {
    INFO('"' << level << '"');
    const auto e = error_of([&] { (void)Settings::defaults({{"log_level", level}}); });
    CHECK(e.kind() == ErrorKind::usage);  // defaults() passes overrides as flags
    CHECK_THAT(e.what(), Catch::Contains("must be one of trace, debug, info, warn, error, off"));
  }
}

TEST_CASE("settings: the default database follows XDG_DATA_HOME and HOME", "[settings]") {
  World w;
  SECTION("XDG_DATA_HOME") {
    w.env["XDG_DATA_HOME"] = "/data/xdg";
    w.env["HOME"] = "/home/alice";
    const Settings s = w.resolve();
    CHECK(s.get_string(keys::kDatabase) == "/data/xdg/chatctl/chatctl.db");
    CHECK(s.value(keys::kDatabase).origin == Origin::default_value);
  }
  SECTION("HOME") {
    w.env["HOME"] = "/home/alice";
    CHECK(w.resolve().get_string(keys::kDatabase) == "/home/alice/.local/share/chatctl/chatctl.db");
  }
  SECTION("an empty XDG_DATA_HOME falls back to HOME") {
    w.env["XDG_DATA_HOME"] = "";
    w.env["HOME"] = "/home/bob";
    CHECK(w.resolve().get_string(keys::kDatabase) == "/home/bob/.local/share/chatctl/chatctl.db");
  }
  SECTION("neither") {
    CHECK(w.resolve().get_string(keys::kDatabase) == "chatctl.db");
  }
  SECTION("an explicit database wins") {
    w.env["XDG_DATA_HOME"] = "/data/xdg";
    w.env["CHATCTL_DB"] = "/srv/chat.db";
    const Settings s = w.resolve();
    CHECK(s.get_string(keys::kDatabase) == "/srv/chat.db");
    CHECK(s.value(keys::kDatabase).origin == Origin::environment);
  }
}

TEST_CASE("settings: the default actor is USER", "[settings]") {
  World w;
  w.env["USER"] = "alice";
  CHECK(w.resolve().get_string(keys::kActor) == "alice");
  w.env["CHATCTL_ACTOR"] = "robot";
  CHECK(w.resolve().get_string(keys::kActor) == "robot");
}

TEST_CASE("settings: display() redacts the database password", "[settings]") {
  SECTION("URI") {
    const Settings s = Settings::defaults({{"database", "postgresql://alice:s3cret@db:5432/chat"}});
    CHECK(s.display(keys::kDatabase) == "postgresql://alice:***@db:5432/chat");
    CHECK(s.get_string(keys::kDatabase) == "postgresql://alice:s3cret@db:5432/chat");  // the real value is kept
  }
  SECTION("keyword/value") {
    const Settings s = Settings::defaults({{"database", "host=db password=s3cret dbname=chat"}});
    CHECK(s.display(keys::kDatabase) == "host=db password=*** dbname=chat");
  }
  SECTION("from the environment") {
    World w;
    w.env["CHATCTL_DB"] = "postgres://u:hunter2@h/db?sslmode=require";
    const Settings s = w.resolve();
    CHECK_THAT(s.display(keys::kDatabase), !Catch::Contains("hunter2"));
  }
  SECTION("non-secret settings are shown as they are") {
    const Settings s = Settings::defaults({{"ChatEngine::DefaultAgentName", "password=visible"}});
    CHECK(s.display(keys::kDefaultAgentName) == "password=visible");
    CHECK(s.display(keys::kBusyTimeout) == "5000");
  }
}
