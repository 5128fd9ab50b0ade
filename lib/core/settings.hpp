#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatctl::core {

enum class SettingType { boolean, integer, string };

// Where an effective value came from, in increasing precedence.
enum class Origin { default_value, file, environment, flag };
std::string_view origin_name(Origin origin);

// One setting chatctl knows. Keys are the names users write: nested YAML maps join with "::"
// (`ChatEngine: {Active: true}` is `ChatEngine::Active`).
struct SettingDef {
  std::string_view key;
  SettingType type{SettingType::string};
  std::string_view default_value;  // as text; "" for an empty string
  std::string_view env;            // environment variable that sets it
  std::string_view help;
  bool secret{false};              // printed redacted
  std::int64_t min{0};
  std::int64_t max{INT64_MAX};
  std::vector<std::string_view> choices{};  // allowed values for strings, when not empty
};

// Every setting, in the order `config show` prints them.
const std::vector<SettingDef>& setting_defs();
const SettingDef* find_setting(std::string_view key);

namespace keys {
inline constexpr std::string_view kDatabase = "database";
inline constexpr std::string_view kBusyTimeout = "busy_timeout_ms";
inline constexpr std::string_view kAutoMigrate = "auto_migrate";
inline constexpr std::string_view kLogLevel = "log_level";
inline constexpr std::string_view kActor = "actor";
inline constexpr std::string_view kWebhookTimeout = "webhook_timeout_ms";
inline constexpr std::string_view kWebhookRequeue = "webhook_requeue_s";
inline constexpr std::string_view kWebhookPoll = "webhook_poll_ms";
inline constexpr std::string_view kChatdListen = "chatd_listen";
inline constexpr std::string_view kChatdThreads = "chatd_threads";
inline constexpr std::string_view kChatdTlsCert = "chatd_tls_cert";
inline constexpr std::string_view kChatdTlsKey = "chatd_tls_key";
inline constexpr std::string_view kChatdLicenseId = "chatd_license_id";
inline constexpr std::string_view kChatdLoginTimeout = "chatd_login_timeout_ms";
inline constexpr std::string_view kChatdPingTimeout = "chatd_ping_timeout_ms";
inline constexpr std::string_view kChatdRequestTimeout = "chatd_request_timeout_ms";
inline constexpr std::string_view kChatdPendingRequests = "chatd_pending_requests";
inline constexpr std::string_view kChatdConnectionsPerCustomer = "chatd_connections_per_customer";
inline constexpr std::string_view kChatdOnlineCustomers = "chatd_online_customers";
inline constexpr std::string_view kChatdActiveChats = "chatd_active_chats_per_customer";
inline constexpr std::string_view kChatdMaxFrame = "chatd_max_frame_bytes";
inline constexpr std::string_view kChatdMaxQueued = "chatd_max_queued_bytes";
inline constexpr std::string_view kChatdQueueBytes = "chatd_queue_bytes";
inline constexpr std::string_view kChatdPoll = "chatd_poll_ms";
inline constexpr std::string_view kChatdWalBytes = "chatd_wal_bytes";
inline constexpr std::string_view kChatdTokenTtl = "chatd_token_ttl_s";
inline constexpr std::string_view kEngineActive = "ChatEngine::Active";
inline constexpr std::string_view kDefaultChannel = "ChatEngine::DefaultChatChannel";
inline constexpr std::string_view kChatDecayTime = "ChatEngine::ChatDecayTime";
inline constexpr std::string_view kChatTTL = "ChatEngine::ChatTTL";
inline constexpr std::string_view kDefaultAgentName = "ChatEngine::DefaultAgentName";
inline constexpr std::string_view kDefaultAgentNameNumbers = "ChatEngine::DefaultAgentNameNumbers";
inline constexpr std::string_view kAgentOnlineThreshold = "ChatEngine::AgentOnlineThreshold";
inline constexpr std::string_view kCustomerOnlineThreshold = "ChatEngine::CustomerOnlineThreshold";
}  // namespace keys

struct SettingValue {
  std::string text;  // normalised: booleans "true"/"false", integers in decimal
  Origin origin{Origin::default_value};
  std::string source;  // "config.yaml:3:5", "CHATCTL_DB", "--db"; empty for defaults
};

// The inputs of resolution. Flags are (key, value, flag spelling) in command-line order.
struct SettingsSources {
  std::optional<std::string> config_path;  // --config
  std::vector<std::tuple<std::string, std::string, std::string>> flags;
  std::function<const char*(const char*)> getenv;  // defaults to std::getenv
};

// The effective settings: flags > environment > YAML config file > defaults. Immutable once
// resolved; safe to share between threads.
class Settings {
 public:
  // Throws Error(config) for an unknown key, a wrong type or an out-of-range value, with the file
  // position or variable name; Error(no_input) when an explicitly named config file is missing.
  static Settings resolve(const SettingsSources& sources);
  // Defaults only (plus `overrides`, origin flag): for tests.
  static Settings defaults(const std::vector<std::pair<std::string, std::string>>& overrides = {});

  bool get_bool(std::string_view key) const;
  std::int64_t get_int(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  const SettingValue& value(std::string_view key) const;
  // The value as `config show` prints it: secrets redacted.
  std::string display(std::string_view key) const;
  // The config file that was read, if any.
  const std::optional<std::string>& config_file() const { return config_file_; }

 private:
  void set(const SettingDef& def, std::string_view raw, Origin origin, std::string source);
  std::map<std::string, SettingValue, std::less<>> values_;
  std::optional<std::string> config_file_;
};

}  // namespace chatctl::core
