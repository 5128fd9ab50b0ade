// chatctl events: list, follow.
#include <chrono>

#include <spdlog/spdlog.h>

#include "cli/records.hpp"
#include "commands.hpp"
#include "core/clock.hpp"
#include "core/interrupt.hpp"
#include "engine/events.hpp"

namespace chatctl::cmd {
namespace {

struct EventOptions {
  std::int64_t after{0};
  std::size_t limit{1000};
  std::optional<std::string> type{};
  std::optional<std::int64_t> chat{};
  std::optional<std::int64_t> channel{};
  bool from_start{false};
  int interval_ms{200};
};

void add_filter_options(CLI::App& cmd, EventOptions& o) {
  cmd.add_option("--type", o.type, "Only events of this type (ChannelAdd, ChatMessageAdd, ...)");
  cmd.add_option("--chat", o.chat, "Only events of this chat id");
  cmd.add_option("--channel", o.channel, "Only events of this channel id");
}

store::EventFilter to_filter(const EventOptions& o) {
  return store::EventFilter{o.after, o.limit, o.type, o.chat, o.channel};
}

}  // namespace

void register_events(CLI::App& app, Context& ctx) {
  auto lo = std::make_shared<EventOptions>();
  auto* list = app.add_subcommand("list", "List events of the event log, oldest first");
  list->add_option("--after", lo->after, "Only events with a sequence number above this");
  list->add_option("--limit", lo->limit, "At most this many events")->check(CLI::Range(1, 1000000));
  add_filter_options(*list, *lo);
  list->callback([&ctx, lo] {
    std::vector<cli::Record> records;
    for (const auto& e : ctx.store().list_events(to_filter(*lo))) records.push_back(cli::event_record(e));
    auto options = ctx.print_options();
    options.name_key = "seq";
    cli::print_list(ctx.out(), options, records, cli::event_columns());
  });

  auto fo = std::make_shared<EventOptions>();
  auto* follow = app.add_subcommand("follow", "Print events as they are committed, until interrupted");
  auto* after = follow->add_option("--after", fo->after, "Start after this sequence number (default: the end of the log)");
  follow->add_flag("--from-start", fo->from_start, "Start at the beginning of the log")->excludes(after);
  follow->add_option("--interval", fo->interval_ms, "Milliseconds between polls while idle")->check(CLI::Range(10, 60000));
  add_filter_options(*follow, *fo);
  follow->callback([&ctx, fo, after] {
    auto& store = ctx.store();
    auto filter = to_filter(*fo);
    if (!fo->from_start && after->count() == 0) filter.after = store.last_event_seq();
    core::install_interrupt_handlers();
    spdlog::info("following the event log after seq {}", filter.after);
    auto options = ctx.print_options();
    if (options.format == cli::OutputFormat::json) options.format = cli::OutputFormat::jsonl;  // a stream
    options.no_headers = true;
    options.name_key = "seq";
    engine::follow_events(
        store, filter, std::chrono::milliseconds(fo->interval_ms),
        [&](const store::EventRecord& e) {
          cli::print_list(ctx.out(), options, {cli::event_record(e)}, cli::event_columns());
          ctx.out().flush();
        },
        [] { return core::interrupted(); });
  });
}

}  // namespace chatctl::cmd
