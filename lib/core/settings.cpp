#include "core/settings.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "core/text.hpp"

namespace chatctl::core {
namespace {

using enum SettingType;

const std::vector<SettingDef> kDefs = {
    {.key = keys::kDatabase, .type = string, .default_value = "", .env = "CHATCTL_DB",
     .help = "database: a SQLite file path or sqlite:PATH, or postgresql://user@host/db "
             "(default: $XDG_DATA_HOME/chatctl/chatctl.db)",
     .secret = true},
    {.key = keys::kBusyTimeout, .type = integer, .default_value = "5000", .env = "CHATCTL_BUSY_TIMEOUT_MS",
     .help = "how long to wait for a locked SQLite database or a PostgreSQL lock, in milliseconds",
     .min = 0, .max = 3600000},
    {.key = keys::kAutoMigrate, .type = boolean, .default_value = "true", .env = "CHATCTL_AUTO_MIGRATE",
     .help = "apply pending schema migrations when a command opens the database"},
    {.key = keys::kLogLevel, .type = string, .default_value = "warn", .env = "CHATCTL_LOG_LEVEL",
     .help = "diagnostics on stderr", .choices = {"trace", "debug", "info", "warn", "error", "off"}},
    {.key = keys::kActor, .type = string, .default_value = "", .env = "CHATCTL_ACTOR",
     .help = "name recorded as creator/changer of what chatctl writes (default: $USER)"},
    {.key = keys::kWebhookTimeout, .type = integer, .default_value = "10000", .env = "CHATCTL_WEBHOOK_TIMEOUT_MS",
     .help = "how long a webhook receiver may take to accept a connection, and then to answer, in milliseconds",
     .min = 100, .max = 600000},
    {.key = keys::kWebhookRequeue, .type = integer, .default_value = "30", .env = "CHATCTL_WEBHOOK_REQUEUE_S",
     .help = "seconds a delivery waits at the back of the queue after three failed attempts", .min = 1,
     .max = 86400},
    {.key = keys::kWebhookPoll, .type = integer, .default_value = "500", .env = "CHATCTL_WEBHOOK_POLL_MS",
     .help = "how often `webhook deliver --follow` looks for new events, in milliseconds", .min = 10,
     .max = 60000},
    {.key = keys::kChatdListen, .type = string, .default_value = "127.0.0.1:8780", .env = "CHATCTL_CHATD_LISTEN",
     .help = "address and port chatd listens on (port 0: any free port)"},
    {.key = keys::kChatdThreads, .type = integer, .default_value = "1", .env = "CHATCTL_CHATD_THREADS",
     .help = "chatd network I/O threads", .min = 1, .max = 64},
    {.key = keys::kChatdTlsCert, .type = string, .default_value = "", .env = "CHATCTL_CHATD_TLS_CERT",
     .help = "PEM certificate chain: chatd serves wss:// and https:// when set (with chatd_tls_key)"},
    {.key = keys::kChatdTlsKey, .type = string, .default_value = "", .env = "CHATCTL_CHATD_TLS_KEY",
     .help = "PEM private key for chatd_tls_cert"},
    {.key = keys::kChatdLicenseId, .type = integer, .default_value = "1", .env = "CHATCTL_CHATD_LICENSE_ID",
     .help = "the license_id clients must connect with", .min = 1},
    {.key = keys::kChatdLoginTimeout, .type = integer, .default_value = "30000", .env = "CHATCTL_CHATD_LOGIN_TIMEOUT_MS",
     .help = "a connection must log in within this many milliseconds", .min = 100, .max = 3600000},
    {.key = keys::kChatdPingTimeout, .type = integer, .default_value = "30000", .env = "CHATCTL_CHATD_PING_TIMEOUT_MS",
     .help = "a logged-in connection silent this long is closed (connection_timeout)", .min = 100, .max = 3600000},
    {.key = keys::kChatdRequestTimeout, .type = integer, .default_value = "15000",
     .env = "CHATCTL_CHATD_REQUEST_TIMEOUT_MS", .help = "a request not answered in this many milliseconds gets request_timeout",
     .min = 10, .max = 600000},
    {.key = keys::kChatdPendingRequests, .type = integer, .default_value = "10", .env = "CHATCTL_CHATD_PENDING_REQUESTS",
     .help = "requests a connection may have pending (pending_requests_limit_reached beyond)", .min = 1, .max = 1000},
    {.key = keys::kChatdConnectionsPerCustomer, .type = integer, .default_value = "16",
     .env = "CHATCTL_CHATD_CONNECTIONS_PER_CUSTOMER", .help = "connections one customer may have (too_many_connections beyond)",
     .min = 1, .max = 10000},
    {.key = keys::kChatdOnlineCustomers, .type = integer, .default_value = "0", .env = "CHATCTL_CHATD_ONLINE_CUSTOMERS",
     .help = "customers one chatd may have logged in at once (users_limit_reached beyond; 0: no limit)", .min = 0,
     .max = 100000000},
    {.key = keys::kChatdActiveChats, .type = integer, .default_value = "100",
     .env = "CHATCTL_CHATD_ACTIVE_CHATS_PER_CUSTOMER",
     .help = "active chats one customer may have (limit_reached beyond; 0: no limit)", .min = 0, .max = 100000},
    {.key = keys::kChatdMaxFrame, .type = integer, .default_value = "262144", .env = "CHATCTL_CHATD_MAX_FRAME_BYTES",
     .help = "largest websocket message chatd reads; a larger one closes the connection (1009)", .min = 1024,
     .max = 67108864},
    {.key = keys::kChatdMaxQueued, .type = integer, .default_value = "4194304", .env = "CHATCTL_CHATD_MAX_QUEUED_BYTES",
     .help = "bytes queued for a client that does not read before chatd drops it", .min = 65536, .max = 1073741824},
    {.key = keys::kChatdQueueBytes, .type = integer, .default_value = "16777216", .env = "CHATCTL_CHATD_QUEUE_BYTES",
     .help = "bytes of requests waiting for the database, all connections together (service_unavailable beyond)",
     .min = 65536, .max = 4294967296},
    {.key = keys::kChatdPoll, .type = integer, .default_value = "20", .env = "CHATCTL_CHATD_POLL_MS",
     .help = "how often chatd reads the event log for other processes' events, in milliseconds", .min = 1,
     .max = 10000},
    {.key = keys::kChatdWalBytes, .type = integer, .default_value = "67108864", .env = "CHATCTL_CHATD_WAL_BYTES",
     .help = "SQLite: size of the write-ahead log at which chatd holds writes for a moment to restart it", .min = 1048576,
     .max = 17179869184},
    {.key = keys::kChatdTokenTtl, .type = integer, .default_value = "86400", .env = "CHATCTL_CHATD_TOKEN_TTL_S",
     .help = "default lifetime of `token issue` tokens, in seconds", .min = 1, .max = 315360000},
    {.key = keys::kEngineActive, .type = boolean, .default_value = "true", .env = "CHATCTL_CHATENGINE_ACTIVE",
     .help = "the chat engine is enabled; when it is, the default channel exists"},
    {.key = keys::kDefaultChannel, .type = string, .default_value = "Chat Channel",
     .env = "CHATCTL_CHATENGINE_DEFAULTCHATCHANNEL", .help = "name of the channel created when the engine is activated"},
    {.key = keys::kChatDecayTime, .type = integer, .default_value = "30", .env = "CHATCTL_CHATENGINE_CHATDECAYTIME",
     .help = "days after its last change when a chat of any status counts as outdated and is removed",
     .max = 36500},
    {.key = keys::kChatTTL, .type = integer, .default_value = "24", .env = "CHATCTL_CHATENGINE_CHATTTL",
     .help = "hours after its last change when a closed chat is removed", .max = 876000},
    {.key = keys::kDefaultAgentName, .type = string, .default_value = "Support Agent",
     .env = "CHATCTL_CHATENGINE_DEFAULTAGENTNAME", .help = "name shown to customers instead of agent names"},
    {.key = keys::kDefaultAgentNameNumbers, .type = boolean, .default_value = "true",
     .env = "CHATCTL_CHATENGINE_DEFAULTAGENTNAMENUMBERS", .help = "number masked agent names (Support Agent 1, 2, ...)"},
    {.key = keys::kAgentOnlineThreshold, .type = integer, .default_value = "5",
     .env = "CHATCTL_CHATENGINE_AGENTONLINETHRESHOLD", .help = "minutes since last seen for an agent to count as online",
     .min = 1, .max = 1440},
    {.key = keys::kCustomerOnlineThreshold, .type = integer, .default_value = "5",
     .env = "CHATCTL_CHATENGINE_CUSTOMERONLINETHRESHOLD",
     .help = "minutes since last seen for a customer to count as online", .min = 1, .max = 1440},
    {.key = "ChatEngine::PermissionGroup::ChatReceivingAgents", .type = string, .default_value = "users",
     .env = "CHATCTL_CHATENGINE_PERMISSIONGROUP_CHATRECEIVINGAGENTS", .help = "group of agents that may receive chats"},
    {.key = "ChatEngine::PermissionGroup::ChatStartingAgents", .type = string, .default_value = "users",
     .env = "CHATCTL_CHATENGINE_PERMISSIONGROUP_CHATSTARTINGAGENTS", .help = "group of agents that may start chats"},
    {.key = "ChatEngine::ChatDirection::AgentToAgent", .type = boolean, .default_value = "true",
     .env = "CHATCTL_CHATENGINE_CHATDIRECTION_AGENTTOAGENT", .help = "agents may start chats with agents"},
    {.key = "ChatEngine::ChatDirection::AgentToCustomer", .type = boolean, .default_value = "true",
     .env = "CHATCTL_CHATENGINE_CHATDIRECTION_AGENTTOCUSTOMER", .help = "agents may start chats with customers"},
    {.key = "ChatEngine::ChatDirection::CustomerToAgent", .type = boolean, .default_value = "true",
     .env = "CHATCTL_CHATENGINE_CHATDIRECTION_CUSTOMERTOAGENT", .help = "customer users may start chats"},
    {.key = "ChatEngine::ChatDirection::PublicToAgent", .type = boolean, .default_value = "true",
     .env = "CHATCTL_CHATENGINE_CHATDIRECTION_PUBLICTOAGENT", .help = "public users may start chats"},
};

std::string type_name(SettingType t) {
  switch (t) {
    case boolean: return "a boolean (true/false)";
    case integer: return "an integer";
    case string: return "a string";
  }
  return "a value";
}

// Validates and normalises `raw` for `def`; returns the problem on failure.
std::optional<std::string> normalise(const SettingDef& def, std::string_view raw, std::string& out) {
  switch (def.type) {
    case boolean: {
      const auto b = parse_bool(raw);
      if (!b) return "expected " + type_name(def.type) + ", got " + quoted(raw);
      out = *b ? "true" : "false";
      return std::nullopt;
    }
    case integer: {
      const auto v = parse_int(raw);
      if (!v) return "expected " + type_name(def.type) + ", got " + quoted(raw);
      if (*v < def.min || *v > def.max) {
        return "must be between " + std::to_string(def.min) + " and " + std::to_string(def.max) + ", got " +
               std::to_string(*v);
      }
      out = std::to_string(*v);
      return std::nullopt;
    }
    case string: {
      if (!utf8_length(raw)) return "is not valid UTF-8";
      if (!def.choices.empty()) {
        bool ok = false;
        std::string list;
        for (const auto c : def.choices) {
          ok = ok || c == raw;
          list += (list.empty() ? "" : ", ") + std::string(c);
        }
        if (!ok) return "must be one of " + list + ", got " + quoted(raw);
      }
      out = std::string(raw);
      return std::nullopt;
    }
  }
  return "unsupported type";
}

std::string env_or(const SettingsSources& s, const char* name) {
  const char* v = s.getenv ? s.getenv(name) : std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string yaml_pos(const std::string& file, const YAML::Mark& m) {
  if (m.is_null()) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

bool is_prefix_of_some_key(const std::string& prefix) {
  const std::string p = prefix + "::";
  for (const auto& d : kDefs) {
    if (std::string_view(d.key).starts_with(p)) return true;
  }
  return false;
}

std::string suggest(const std::string& key) {
  // The closest known key by a cheap measure: same name ignoring case.
  for (const auto& d : kDefs) {
    if (to_lower(d.key) == to_lower(key)) return " (did you mean \"" + std::string(d.key) + "\"?)";
  }
  return "";
}

}  // namespace

std::string_view origin_name(Origin origin) {
  switch (origin) {
    case Origin::default_value: return "default";
    case Origin::file: return "file";
    case Origin::environment: return "environment";
    case Origin::flag: return "flag";
  }
  return "default";
}

const std::vector<SettingDef>& setting_defs() { return kDefs; }

const SettingDef* find_setting(std::string_view key) {
  for (const auto& d : kDefs) {
    if (d.key == key) return &d;
  }
  return nullptr;
}

void Settings::set(const SettingDef& def, std::string_view raw, Origin origin, std::string source) {
  std::string text;
  if (const auto problem = normalise(def, raw, text)) {
    const std::string where = source.empty() ? std::string(def.key) : source;
    // A bad value typed on the command line is a usage error; one in a file or variable is config.
    throw Error(origin == Origin::flag ? ErrorKind::usage : ErrorKind::config,
                where + ": " + std::string(def.key) + " " + *problem);
  }
  values_[std::string(def.key)] = SettingValue{std::move(text), origin, std::move(source)};
}

namespace {

void load_file(const std::string& path, const std::function<void(const SettingDef&, const YAML::Node&, std::string)>& put) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(ErrorKind::no_input, "config file " + path + " is a folder");
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::no_input, "cannot read config file " + path);
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::Exception& e) {
    throw Error(ErrorKind::config, yaml_pos(path, e.mark) + ": malformed YAML: " + e.msg);
  } catch (const std::exception& e) {
    throw Error(ErrorKind::io, "cannot read config file " + path);
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) throw Error(ErrorKind::config, yaml_pos(path, root.Mark()) + ": the config file must be a mapping");

  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& map, const std::string& prefix) {
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) {
        throw Error(ErrorKind::config, yaml_pos(path, kv.first.Mark()) + ": keys must be plain names");
      }
      const std::string key = prefix + kv.first.Scalar();
      const YAML::Node& value = kv.second;
      if (const SettingDef* def = find_setting(key)) {
        if (!value.IsScalar()) {
          throw Error(ErrorKind::config, yaml_pos(path, value.Mark()) + ": " + key + " expected " + type_name(def->type));
        }
        put(*def, value, yaml_pos(path, value.Mark()));
      } else if (value.IsMap() && is_prefix_of_some_key(key)) {
        walk(value, key + "::");
      } else {
        throw Error(ErrorKind::config, yaml_pos(path, kv.first.Mark()) + ": unknown setting \"" + key + "\"" + suggest(key));
      }
    }
  };
  walk(root, "");
}

std::string default_config_path(const SettingsSources& s) {
  const std::string xdg = env_or(s, "XDG_CONFIG_HOME");
  if (!xdg.empty()) return xdg + "/chatctl/config.yaml";
  const std::string home = env_or(s, "HOME");
  if (!home.empty()) return home + "/.config/chatctl/config.yaml";
  return {};
}

std::string default_database_path(const SettingsSources& s) {
  const std::string xdg = env_or(s, "XDG_DATA_HOME");
  if (!xdg.empty()) return xdg + "/chatctl/chatctl.db";
  const std::string home = env_or(s, "HOME");
  if (!home.empty()) return home + "/.local/share/chatctl/chatctl.db";
  return "chatctl.db";
}

}  // namespace

Settings Settings::resolve(const SettingsSources& sources) {
  Settings s;
  for (const auto& def : kDefs) s.set(def, def.default_value, Origin::default_value, "");

  // The config file: --config, then CHATCTL_CONFIG, then the XDG default if it exists.
  std::optional<std::string> path = sources.config_path;
  if (!path) {
    const std::string env = env_or(sources, "CHATCTL_CONFIG");
    if (!env.empty()) path = env;
  }
  if (path) {
    std::error_code ec;
    if (!std::filesystem::exists(*path, ec)) throw Error(ErrorKind::no_input, "config file " + *path + " does not exist");
  } else {
    const std::string def = default_config_path(sources);
    std::error_code ec;
    if (!def.empty() && std::filesystem::exists(def, ec)) path = def;
  }
  if (path) {
    load_file(*path, [&](const SettingDef& def, const YAML::Node& node, std::string where) {
      s.set(def, node.Scalar(), Origin::file, std::move(where));
    });
    s.config_file_ = path;
  }

  for (const auto& def : kDefs) {
    if (def.env.empty()) continue;
    const std::string name(def.env);
    const char* v = sources.getenv ? sources.getenv(name.c_str()) : std::getenv(name.c_str());
    if (v != nullptr && *v != '\0') s.set(def, v, Origin::environment, name);
  }

  for (const auto& [key, value, flag] : sources.flags) {
    const SettingDef* def = find_setting(key);
    if (def == nullptr) throw Error(ErrorKind::usage, flag + ": unknown setting \"" + key + "\"" + suggest(key));
    s.set(*def, value, Origin::flag, flag);
  }

  // Computed defaults that depend on the environment.
  auto& db = s.values_[std::string(keys::kDatabase)];
  if (db.text.empty()) db = SettingValue{default_database_path(sources), Origin::default_value, ""};
  auto& actor = s.values_[std::string(keys::kActor)];
  if (actor.text.empty()) {
    const std::string user = env_or(sources, "USER");
    actor.text = user.empty() ? "chatctl" : user;
  }
  return s;
}

Settings Settings::defaults(const std::vector<std::pair<std::string, std::string>>& overrides) {
  SettingsSources src;
  src.getenv = [](const char*) -> const char* { return nullptr; };
  for (const auto& [k, v] : overrides) src.flags.emplace_back(k, v, "--set");
  return resolve(src);
}

bool Settings::get_bool(std::string_view key) const { return value(key).text == "true"; }

std::int64_t Settings::get_int(std::string_view key) const { return parse_int(value(key).text).value_or(0); }

const std::string& Settings::get_string(std::string_view key) const { return value(key).text; }

const SettingValue& Settings::value(std::string_view key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) throw Error(ErrorKind::internal, "unknown setting " + std::string(key));
  return it->second;
}

std::string Settings::display(std::string_view key) const {
  const SettingDef* def = find_setting(key);
  const std::string& text = value(key).text;
  return def != nullptr && def->secret ? redact_dsn(text) : text;
}

}  // namespace chatctl::core
