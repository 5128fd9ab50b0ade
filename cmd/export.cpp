// chatctl export: chats as RTM v3.2 Chat JSON, for migrations, archives and scripts.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "cli/progress.hpp"
#include "commands.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "engines.hpp"
#include "transcript/export.hpp"

namespace chatctl::cmd {
namespace {

using core::Error;
using core::ErrorKind;

model::ChatId parse_chat_ref(const std::string& ref) {
  if (const auto id = core::parse_int(ref); id && *id > 0) return *id;
  if (const auto id = model::parse_rtm_chat_id(ref)) return *id;
  throw Error(ErrorKind::usage, core::quoted(ref) + " is not a chat id (a number, or an RTM id such as C0000000A1)");
}

core::Micros parse_time(const std::string& flag, const std::string& value) {
  const auto t = core::parse_rfc3339(value);
  if (!t) {
    throw Error(ErrorKind::usage, flag + " " + core::quoted(value) +
                                      " is not a time such as 2026-11-01 or 2026-11-01T08:00:00Z");
  }
  return *t;
}

// Writes to a temporary file beside `path` and renames it into place on success, so a failed or
// interrupted export never leaves a truncated file under the final name. A link is followed (the
// file it names is replaced, the link stays), a file replaced keeps its permissions, and the
// temporary file is private until then (transcripts hold what customers wrote). A path that is
// no regular file (a device such as /dev/stdout, a FIFO) is written directly, as `>` would.
class AtomicFile {
 public:
  explicit AtomicFile(const std::filesystem::path& path) : path_(path), target_(path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    // Each link in turn, relative to its own folder; a dangling one names the file to create.
    for (int hops = 0; fs::is_symlink(fs::symlink_status(target_, ec)); ++hops) {
      const auto next = fs::read_symlink(target_, ec);
      if (ec || hops == 40) throw Error(ErrorKind::cant_create, "cannot follow the link " + path_.string());
      target_ = next.is_absolute() ? next : target_.parent_path() / next;
    }
    const auto st = fs::status(target_, ec);
    if (fs::exists(st) && !fs::is_regular_file(st)) {
      direct_ = true;
      out_.open(target_, std::ios::binary);
      if (!out_) throw Error(ErrorKind::cant_create, "cannot write " + path_.string() + ": " + std::strerror(errno));
      return;
    }
    if (fs::exists(st)) mode_ = st.permissions();
    tmp_ = target_;
    tmp_ += ".tmp-" + std::to_string(::getpid());
    ::unlink(tmp_.c_str());  // a leftover of an earlier run with this pid: made anew, private
    const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) throw Error(ErrorKind::cant_create, "cannot create " + path_.string() + ": " + std::strerror(errno));
    ::close(fd);
    out_.open(tmp_, std::ios::binary | std::ios::trunc);
    if (!out_) throw Error(ErrorKind::cant_create, "cannot create " + path_.string() + ": " + std::strerror(errno));
  }
  ~AtomicFile() {
    if (committed_ || direct_) return;
    out_.close();
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  std::ostream& stream() { return out_; }
  void commit() {
    out_.close();
    if (!out_) throw Error(ErrorKind::io, "cannot write " + path_.string());
    if (direct_) return;
    std::error_code ec;
    if (!mode_) {  // a new file: as the umask has it
      const mode_t mask = ::umask(0);
      ::umask(mask);
      mode_ = static_cast<std::filesystem::perms>(0666 & ~mask);
    }
    std::filesystem::permissions(tmp_, *mode_, ec);
    std::filesystem::rename(tmp_, target_, ec);
    if (ec) throw Error(ErrorKind::cant_create, "cannot rename the export into " + path_.string() + ": " + ec.message());
    committed_ = true;
  }

 private:
  std::filesystem::path path_;
  std::filesystem::path target_;  // path_, or the file a link at path_ names
  std::filesystem::path tmp_;
  std::optional<std::filesystem::perms> mode_;  // of the file replaced
  std::ofstream out_;
  bool direct_{false};
  bool committed_{false};
};

}  // namespace

void register_export(CLI::App& app, Context& ctx) {
  struct Options {
    std::vector<std::string> chats;
    std::vector<std::string> channels;
    std::optional<std::string> status{};
    std::optional<std::string> since{};
    std::optional<std::string> until{};
    bool include_internal{false};
    std::optional<std::string> file{};
  };
  auto o = std::make_shared<Options>();
  app.add_option("chats", o->chats, "Chat ids (numbers or RTM ids); default: every chat the filters select")
      ->type_name("CHAT");
  app.add_option("--channel", o->channels, "Only chats of this channel, by name or id (repeatable)");
  app.add_option("--status", o->status, "Only chats with this status")
      ->check(CLI::IsMember({"request", "active", "closed"}));
  app.add_option("--since", o->since, "Only chats created at or after this time (2026-11-01, RFC 3339)")
      ->type_name("TIME");
  app.add_option("--until", o->until, "Only chats created before this time")->type_name("TIME");
  app.add_flag("--include-internal", o->include_internal, "Include messages for agents only");
  app.add_option("--file", o->file, "Write to this file (replaced only when the export succeeds); default: stdout")
      ->type_name("PATH");
  app.callback([&ctx, o] {
    const auto format = ctx.output_format();
    if (format != cli::OutputFormat::table && format != cli::OutputFormat::json &&
        format != cli::OutputFormat::jsonl) {
      throw Error(ErrorKind::usage, "export writes json (the default) or jsonl");
    }
    transcript::ExportOptions opts;
    opts.json_lines = format == cli::OutputFormat::jsonl;
    opts.include_internal = o->include_internal;
    for (const auto& ref : o->chats) opts.filter.ids.push_back(parse_chat_ref(ref));
    if (o->status) opts.filter.status = model::parse_chat_status(*o->status);
    if (o->since) opts.filter.created_since = parse_time("--since", *o->since);
    if (o->until) opts.filter.created_before = parse_time("--until", *o->until);
    for (const auto& ref : o->channels) opts.filter.channel_ids.push_back(channel_admin(ctx).get(ref).id);

    auto& store = ctx.store();
    cli::Progress progress("export", o->file.has_value());
    std::size_t total = 0;
    if (o->file && ::isatty(STDERR_FILENO)) total = store.list_chat_ids(opts.filter).size();
    opts.progress = [&](std::size_t done) { progress.update(done, std::max(done, total)); };
    if (o->file) {
      AtomicFile file(*o->file);
      transcript::export_chats(store, opts, file.stream());
      file.commit();
    } else {
      transcript::export_chats(store, opts, ctx.out());
    }
    progress.finish();
    for (const auto id : opts.filter.ids) {
      if (!store.find_chat(id)) throw Error(ErrorKind::not_found, "no chat " + std::to_string(id));
    }
  });
}

}  // namespace chatctl::cmd
