// chatctl chatd: the Customer Chat RTM API v3.2 over websocket.
#include <cstdint>

#include <spdlog/spdlog.h>

#include <thread>

#include "commands.hpp"
#include "core/interrupt.hpp"
#include "core/settings.hpp"
#include "core/thread_name.hpp"
#include "rtm/service.hpp"
#include "server/server.hpp"
#include "transcript/record.hpp"
#include "webhook/deliver.hpp"

namespace chatctl::cmd {

void register_chatd(CLI::App& app, Context& ctx) {
  struct Options {
    std::optional<std::string> listen{};
    std::optional<int> threads{};
    std::optional<std::string> tls_cert{};
    std::optional<std::string> tls_key{};
    std::optional<std::int64_t> license_id{};
    std::optional<std::string> port_file{};
    bool no_webhooks{false};
    std::optional<std::string> record{};
  };
  auto o = std::make_shared<Options>();
  app.add_option("--listen", o->listen, "Address and port to serve on; port 0 picks a free one (setting chatd_listen)")
      ->type_name("ADDR:PORT");
  app.add_option("--threads", o->threads, "Network I/O threads (setting chatd_threads)")->check(CLI::Range(1, 64));
  app.add_option("--tls-cert", o->tls_cert, "PEM certificate chain: serve wss:// and https:// (setting chatd_tls_cert)")
      ->type_name("FILE");
  app.add_option("--tls-key", o->tls_key, "PEM private key of --tls-cert (setting chatd_tls_key)")->type_name("FILE");
  app.add_option("--license-id", o->license_id, "The license_id clients must connect with (setting chatd_license_id)")
      ->check(CLI::PositiveNumber);
  app.add_option("--port-file", o->port_file, "Write the bound port to FILE once listening")->type_name("FILE");
  app.add_option("--record", o->record,
                 "Write every connection's conversation to DIR as a fixture for chatctl replay")
      ->type_name("DIR");
  app.add_flag("--no-webhooks", o->no_webhooks,
               "Do not deliver webhooks in this process (another chatd or `webhook deliver --follow` does)");
  app.callback([&ctx, o] {
    // Given as settings overrides, so the service reads them too and `--set` rules (type, range,
    // origin) apply; they come after any --set, so the flag wins.
    const auto flag = [&ctx](std::string_view key, const std::string& value) {
      ctx.options.set.push_back(std::string(key) + "=" + value);
    };
    if (o->listen) flag(core::keys::kChatdListen, *o->listen);
    if (o->threads) flag(core::keys::kChatdThreads, std::to_string(*o->threads));
    if (o->tls_cert) flag(core::keys::kChatdTlsCert, *o->tls_cert);
    if (o->tls_key) flag(core::keys::kChatdTlsKey, *o->tls_key);
    if (o->license_id) flag(core::keys::kChatdLicenseId, std::to_string(*o->license_id));
    const core::Settings& settings = ctx.settings();
    ctx.store();  // migrated, with the default channel, before the service opens its own sessions

    server::ServerOptions options;
    options.listen = settings.get_string(core::keys::kChatdListen);
    options.threads = static_cast<int>(settings.get_int(core::keys::kChatdThreads));
    options.tls_cert = settings.get_string(core::keys::kChatdTlsCert);
    options.tls_key = settings.get_string(core::keys::kChatdTlsKey);
    options.port_file = o->port_file;
    rtm::Service service(settings, ctx.clock());
    if (o->record) service.observe(std::make_shared<transcript::ConversationRecorder>(*o->record));
    // Webhooks go out from here while chatd runs (a lock per webhook keeps other deliverers off).
    std::thread webhooks;
    if (!o->no_webhooks) {
      webhooks = std::thread([&settings] {
        core::name_this_thread("chatd-webhooks");
        try {
          webhook::deliver(settings, {.names = {}, .follow = true});
        } catch (const std::exception& e) {
          spdlog::error("chatd: webhook delivery stopped: {}", e.what());
        }
      });
    }
    int code = 0;
    try {
      code = server::run_server(service, options);
    } catch (...) {
      core::request_interrupt();
      if (webhooks.joinable()) webhooks.join();
      throw;
    }
    core::request_interrupt();
    if (webhooks.joinable()) webhooks.join();
    ctx.exit_code = code;
  });
}

}  // namespace chatctl::cmd
