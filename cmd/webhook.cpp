// chatctl webhook: add, list, show, update, remove, test, reset, queue, deliver.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/records.hpp"
#include "commands.hpp"
#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/interrupt.hpp"
#include "core/text.hpp"
#include "webhook/deliver.hpp"
#include "webhook/http.hpp"
#include "webhook/payload.hpp"
#include "webhook/webhooks.hpp"

namespace chatctl::cmd {
namespace {

using core::Error;
using core::ErrorKind;

// The secret from a file (or - for stdin), never from the command line where `ps` shows it. One
// trailing line break is dropped.
std::string read_secret(Context& ctx, const std::string& source) {
  std::string secret;
  if (source == "-") {
    std::getline(ctx.in(), secret);
  } else {
    std::ifstream in(source, std::ios::binary);
    if (!in) throw Error(ErrorKind::no_input, "cannot read " + source + ": " + std::strerror(errno));
    std::ostringstream all;
    all << in.rdbuf();
    secret = all.str();
    if (!secret.empty() && secret.back() == '\n') secret.pop_back();
    if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  }
  if (secret.empty()) throw Error(ErrorKind::data, "the secret is empty");
  return secret;
}

webhook::WebhookAdmin admin(Context& ctx) { return webhook::WebhookAdmin(ctx.store(), ctx.clock()); }

void print_webhook(Context& ctx, const model::Webhook& w, bool dry_run) {
  const auto queued = w.id ? ctx.store().list_deliveries(w.id, 0).size() : 0;
  cli::print_one(ctx.out(), ctx.print_options(), cli::webhook_record(w, queued));
  if (dry_run) std::cerr << "dry run: nothing was written\n";
}

const std::initializer_list<std::string> kEvents = {"chatsession.created", "chatsession.message",
                                                    "chatsession.changed"};

}  // namespace

void register_webhook(CLI::App& app, Context& ctx) {
  struct Options {
    std::string name;
    std::vector<std::string> names;
    std::optional<std::string> url{};
    std::vector<std::string> events;
    std::optional<std::string> secret_file{};
    bool no_secret{false};
    bool stopped{false};
    std::optional<std::string> state{};
    std::size_t limit{100};
    bool follow{false};
    bool yes{false};
    bool dry_run{false};
  };
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("add", "Add a webhook (it receives events from now on)");
    cmd->add_option("name", o->name, "A name of your choice (WebhookName in payloads)")->required();
    cmd->add_option("--url", o->url, "Where to POST: http:// or https://")->required();
    cmd->add_option("--event", o->events, "chatsession.created, .message or .changed (repeatable; default: all)")
        ->check(CLI::IsMember(kEvents));
    cmd->add_option("--secret-file", o->secret_file, "Sign deliveries with the secret in FILE (- reads stdin)")
        ->type_name("FILE");
    cmd->add_flag("--stopped", o->stopped, "Add it Stopped (set Active with update --state Active)");
    cmd->add_flag("--dry-run", o->dry_run, "Check; write nothing");
    cmd->callback([&ctx, o] {
      webhook::NewWebhook n;
      n.name = o->name;
      n.url = *o->url;
      n.events = o->events;
      if (o->secret_file) n.secret = read_secret(ctx, *o->secret_file);
      n.stopped = o->stopped;
      print_webhook(ctx, admin(ctx).add(n, o->dry_run), o->dry_run);
    });
  }
  {
    auto* cmd = app.add_subcommand("list", "List webhooks with their state and queue");
    cmd->callback([&ctx] {
      std::vector<cli::Record> rows;
      for (const auto& w : admin(ctx).list()) {
        rows.push_back(cli::webhook_record(w, ctx.store().list_deliveries(w.id, 0).size()));
      }
      cli::print_list(ctx.out(), ctx.print_options(), rows, cli::webhook_columns());
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("show", "Show one webhook");
    cmd->add_option("name", o->name, "Webhook name")->required();
    cmd->callback([&ctx, o] { print_webhook(ctx, admin(ctx).get(o->name), false); });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("update", "Change a webhook's URL, events, secret or state");
    cmd->add_option("name", o->name, "Webhook name")->required();
    cmd->add_option("--url", o->url, "New URL");
    cmd->add_option("--event", o->events, "The events it wants (repeatable; replaces the list)")
        ->check(CLI::IsMember(kEvents));
    auto* secret = cmd->add_option("--secret-file", o->secret_file, "New secret from FILE (- reads stdin)")
                       ->type_name("FILE");
    cmd->add_flag("--no-secret", o->no_secret, "Stop signing deliveries")->excludes(secret);
    cmd->add_option("--state", o->state, "Active or Stopped")->check(CLI::IsMember({"Active", "Stopped"}));
    cmd->add_flag("--dry-run", o->dry_run, "Show the result; write nothing");
    cmd->callback([&ctx, o] {
      webhook::WebhookChange c;
      c.url = o->url;
      if (!o->events.empty()) c.events = o->events;
      if (o->secret_file) c.secret = read_secret(ctx, *o->secret_file);
      if (o->no_secret) c.secret = std::string();
      if (o->state) c.state = model::parse_webhook_state(*o->state);
      print_webhook(ctx, admin(ctx).update(o->name, c, o->dry_run), o->dry_run);
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("remove", "Remove a webhook and its queue");
    cmd->add_option("name", o->name, "Webhook name")->required();
    cmd->add_flag("--yes", o->yes, "Confirm: queued deliveries are dropped");
    cmd->add_flag("--dry-run", o->dry_run, "Check; write nothing");
    cmd->callback([&ctx, o] {
      if (!o->yes && !o->dry_run) {
        throw Error(ErrorKind::usage, "removing a webhook drops its queued deliveries: add --yes to confirm");
      }
      admin(ctx).remove(o->name, o->dry_run);
      if (o->dry_run) std::cerr << "dry run: nothing was written\n";
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("reset", "Set a webhook Active again (after TooManyErrors); its queue resumes");
    cmd->add_option("name", o->name, "Webhook name")->required();
    cmd->add_flag("--dry-run", o->dry_run, "Show the result; write nothing");
    cmd->callback([&ctx, o] { print_webhook(ctx, admin(ctx).reset(o->name, o->dry_run), o->dry_run); });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("queue", "Show the deliveries a webhook has waiting");
    cmd->add_option("name", o->name, "Webhook name")->required();
    cmd->add_option("--limit", o->limit, "At most this many")->check(CLI::PositiveNumber);
    cmd->callback([&ctx, o] {
      std::vector<cli::Record> rows;
      for (const auto& d : admin(ctx).queue(o->name, o->limit)) rows.push_back(cli::delivery_record(d));
      cli::print_list(ctx.out(), ctx.print_options("event_id"), rows, cli::delivery_columns());
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("test", "POST a test delivery (Event \"test\") and report the answer");
    cmd->add_option("name", o->name, "Webhook name")->required();
    cmd->callback([&ctx, o] {
      const auto w = admin(ctx).get(o->name);
      const auto event_id = core::new_uuid();
      const auto body = webhook::test_body(event_id, w.name, ctx.clock().now());
      std::vector<std::pair<std::string, std::string>> headers = {
          {"Content-Type", "application/json; charset=utf-8"},
          {"X-SuperOffice-Event", "test"},
          {"X-SuperOffice-EventId", event_id},
          {"X-SuperOffice-Retry", "0"}};
      if (!w.secret.empty()) headers.emplace_back("X-SuperOffice-Signature", webhook::signature(w.secret, body));
      webhook::HttpClient client(std::chrono::milliseconds(ctx.settings().get_int(core::keys::kWebhookTimeout)));
      const auto r = client.post(webhook::parse_url(w.url), headers, body);
      cli::Record rec;
      rec["name"] = w.name;
      rec["url"] = w.url;
      rec["event_id"] = event_id;
      rec["status"] = r.status ? cli::Record(r.status) : cli::Record();
      rec["error"] = r.error;
      rec["ms"] = r.ms;
      rec["ok"] = r.status == 200;
      cli::print_one(ctx.out(), ctx.print_options(), rec);
      if (r.status != 200) {
        throw Error(ErrorKind::unavailable,
                    "webhook " + core::quoted(w.name) + ": " + (r.status ? "HTTP " + std::to_string(r.status) : r.error));
      }
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("deliver", "Deliver what is due (for cron), or keep delivering with --follow");
    cmd->add_option("names", o->names, "Only these webhooks (default: every Active one)")->type_name("NAME");
    cmd->add_flag("--follow", o->follow, "Keep delivering new events until SIGINT or SIGTERM");
    cmd->callback([&ctx, o] {
      core::install_interrupt_handlers();
      ctx.store();  // migrated, so the workers find the tables
      webhook::DeliverOptions opts;
      opts.names = o->names;
      opts.follow = o->follow;
      const auto r = webhook::deliver(ctx.settings(), opts);
      if (ctx.output_format() != cli::OutputFormat::table || ctx.options.verbose > 0) {
        cli::Record rec;
        rec["delivered"] = r.delivered;
        rec["failed_attempts"] = r.failed_attempts;
        rec["waiting"] = r.waiting;
        rec["busy"] = r.busy;
        rec["too_many_errors"] = r.stopped;
        cli::print_one(ctx.out(), ctx.print_options(), rec);
      }
    });
  }
}

}  // namespace chatctl::cmd
