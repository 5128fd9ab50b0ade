#include "transcript/import.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/text.hpp"
#include "engine/engine.hpp"
#include "engine/validate.hpp"

namespace chatctl::transcript {
namespace {

using core::Error;
using core::ErrorKind;
using Json = nlohmann::ordered_json;

[[noreturn]] void bad(const std::string& what) { throw Error(ErrorKind::data, what); }

constexpr std::size_t kMaxEventTextBytes = 16 * 1024;  // an RTM event's text (chatd's clients)

const Json& member(const Json& obj, const char* name, const std::string& where) {
  const auto it = obj.find(name);
  if (it == obj.end()) bad(where + ": \"" + name + "\" is missing");
  return *it;
}

std::string str(const Json& v, const std::string& what) {
  if (!v.is_string()) bad(what + " must be a string");
  auto s = v.get<std::string>();
  if (s.find('\0') != std::string::npos) bad(what + " contains a NUL character");
  return s;
}

std::string str_member(const Json& obj, const char* name, const std::string& where) {
  return str(member(obj, name, where), where + "." + name);
}

std::int64_t int_member(const Json& obj, const char* name, const std::string& where) {
  const auto& v = member(obj, name, where);
  if (!v.is_number_integer()) bad(where + "." + name + " must be an integer");
  return v.get<std::int64_t>();
}

bool bool_member(const Json& obj, const char* name, const std::string& where) {
  const auto& v = member(obj, name, where);
  if (!v.is_boolean()) bad(where + "." + name + " must be true or false");
  return v.get<bool>();
}

core::Micros time_member(const Json& obj, const char* name, const std::string& where) {
  const auto s = str_member(obj, name, where);
  const auto t = core::parse_rfc3339(s);
  if (!t) bad(where + "." + name + " is not an RFC 3339 time: " + core::quoted(s));
  return *t;
}

const Json& array_member(const Json& obj, const char* name, const std::string& where) {
  const auto& v = member(obj, name, where);
  if (!v.is_array()) bad(where + "." + name + " must be an array");
  return v;
}

// Properties: an object, stored compact; absent is {}.
std::string object_text(const Json& obj, const char* name, const std::string& where) {
  const auto it = obj.find(name);
  if (it == obj.end()) return "{}";
  if (!it->is_object()) bad(where + "." + name + " must be an object");
  return it->dump();
}

model::ChatterType chatter_type(const std::string& s, const std::string& what) {
  const auto t = model::parse_chatter_type(s);
  if (!t || (s != "User" && s != "Customer" && s != "Public")) bad(what + " must be User, Customer or Public");
  return *t;
}

// Event members that are not the type's own fields (which go to the payload).
bool common_event_member(const std::string& k) {
  return k == "id" || k == "created_at" || k == "type" || k == "author_id" || k == "custom_id" || k == "text" ||
         k == "properties" || k == "chatctl";
}

// The RTM event types' own fields (the payload); anything else is refused rather than carried.
bool type_field(const std::string& k) {
  static const char* const kFields[] = {"postback",  "url",         "name",     "content_type", "size",
                                        "width",     "height",      "thumbnail_url", "thumbnail2x_url",
                                        "form_id",   "fields",      "template_id",   "elements",
                                        "content",   "system_message_type", "text_vars"};
  for (const char* f : kFields) {
    if (k == f) return true;
  }
  return false;
}

}  // namespace

store::Transcript parse_chat(const std::string& record, model::ChannelId default_channel) {
  Json j;
  try {
    j = Json::parse(record);
  } catch (const Json::parse_error& e) {
    // nlohmann's text names a byte position; keep its reason only.
    std::string what = e.what();
    if (const auto p = what.find("parse error"); p != std::string::npos) what = what.substr(p);
    bad("not valid JSON (" + what + ")");
  }
  if (!j.is_object()) bad("a record must be a JSON object (an exported chat)");
  store::Transcript t;
  const std::string rtm_id = str_member(j, "id", "chat");
  const auto id = model::parse_rtm_chat_id(rtm_id);
  if (!id) bad("chat id " + core::quoted(rtm_id) + " is not a chatctl chat id (C followed by 9 base-36 digits)");
  const std::string where = "chat " + rtm_id;
  auto& c = t.chat;
  c.id = *id;

  const auto& access = member(j, "access", where);
  const std::string aw = where + ".access";
  if (!access.is_object()) bad(aw + " must be an object");
  const auto& groups = array_member(access, "group_ids", aw);
  if (groups.size() != 1 || !groups[0].is_number_integer() || groups[0].get<std::int64_t>() < 0) {
    bad(aw + ".group_ids must hold one group id (0: the default channel)");
  }
  const auto group = groups[0].get<std::int64_t>();
  c.channel_id = group == 0 ? default_channel : group;
  c.properties = object_text(j, "properties", where);

  const auto& ext = member(j, "chatctl", where);
  const std::string ew = where + ".chatctl";
  if (!ext.is_object()) bad(ew + " must be an object");
  if (int_member(ext, "chat_id", ew) != c.id) bad(ew + ".chat_id does not match the chat id " + rtm_id);
  const auto status = str_member(ext, "status", ew);
  const auto parsed_status = model::parse_chat_status(status);
  if (!parsed_status) bad(ew + ".status must be request, active or closed");
  c.status = *parsed_status;
  const auto& requester = member(ext, "requester", ew);
  if (!requester.is_object()) bad(ew + ".requester must be an object");
  c.requester_id = str_member(requester, "id", ew + ".requester");
  c.requester_name = str_member(requester, "name", ew + ".requester");
  c.requester_type = chatter_type(str_member(requester, "type", ew + ".requester"), ew + ".requester.type");
  c.target_type = chatter_type(str_member(ext, "target_type", ew), ew + ".target_type");
  // What the engine refuses from the shell is refused here too (chatctl-export(1) has the ranges).
  engine::check_text("id", c.requester_id, {200}, ew + ".requester");
  engine::check_text("name", c.requester_name, {200}, ew + ".requester");
  if (c.target_type == model::ChatterType::public_user) bad(ew + ".target_type must be User or Customer");
  c.ticket_id = int_member(ext, "ticket_id", ew);
  if (c.ticket_id < 0) bad(ew + ".ticket_id must not be negative");
  c.create_time = time_member(ext, "created_at", ew);
  c.change_time = time_member(ext, "changed_at", ew);

  std::map<std::string, model::ChatterType> author_types;
  const auto& participants = array_member(ext, "participants", ew);
  for (std::size_t k = 0; k < participants.size(); ++k) {
    const auto& p = participants[k];
    const std::string pw = ew + ".participants[" + std::to_string(k) + "]";
    if (!p.is_object()) bad(pw + " must be an object");
    model::Participant x;
    x.chat_id = c.id;
    x.chatter_id = str_member(p, "id", pw);
    x.chatter_name = str_member(p, "name", pw);
    x.chatter_type = chatter_type(str_member(p, "type", pw), pw + ".type");
    const auto active = int_member(p, "active", pw);
    if (active < -1 || active > 1) bad(pw + ".active must be -1, 0 or 1");
    x.active = static_cast<model::ChatterActive>(active);
    x.invitation = bool_member(p, "invitation", pw);
    const auto monitoring = int_member(p, "monitoring", pw);
    if (monitoring < 0 || monitoring > 2) bad(pw + ".monitoring must be 0, 1 or 2");
    x.monitoring = static_cast<model::Monitoring>(monitoring);
    const auto permission = str_member(p, "permission", pw);
    const auto level = model::parse_permission_level(permission);
    if (!level) bad(pw + ".permission must be Owner, Participant, Observer or empty");
    x.permission = *level;
    engine::check_text("id", x.chatter_id, {200}, pw);
    engine::check_text("name", x.chatter_name, {200}, pw);
    if ((x.chatter_type == model::ChatterType::user) != (x.permission != model::PermissionLevel::none)) {
      bad(pw + ".permission must be Owner, Participant or Observer for an agent, and empty for a customer");
    }
    x.create_time = time_member(p, "created_at", pw);
    author_types.emplace(x.chatter_id, x.chatter_type);
    t.participants.push_back(std::move(x));
  }

  const auto& threads = array_member(j, "threads", where);
  for (std::size_t k = 0; k < threads.size(); ++k) {
    const auto& th = threads[k];
    const std::string tw = where + ".threads[" + std::to_string(k) + "]";
    if (!th.is_object()) bad(tw + " must be an object");
    model::Thread x;
    const auto thread_rtm = str_member(th, "id", tw);
    const auto thread_id = model::parse_rtm_thread_id(thread_rtm);
    if (!thread_id) bad(tw + ".id " + core::quoted(thread_rtm) + " is not a chatctl thread id");
    x.id = *thread_id;
    x.chat_id = c.id;
    x.create_time = time_member(th, "created_at", tw);
    x.active = bool_member(th, "active", tw);
    if (!x.active) x.close_time = c.change_time;
    x.properties = object_text(th, "properties", tw);
    const auto& events = array_member(th, "events", tw);
    for (std::size_t e = 0; e < events.size(); ++e) {
      const auto& ev = events[e];
      const std::string vw = tw + ".events[" + std::to_string(e) + "]";
      if (!ev.is_object()) bad(vw + " must be an object");
      model::Message m;
      const auto event_rtm = str_member(ev, "id", vw);
      const auto message_id = model::parse_rtm_event_id(event_rtm, x.id);
      if (!message_id) bad(vw + ".id " + core::quoted(event_rtm) + " is not an event id of thread " + thread_rtm);
      m.id = *message_id;
      m.chat_id = c.id;
      m.thread_id = x.id;
      m.create_time = time_member(ev, "created_at", vw);
      const auto type = str_member(ev, "type", vw);
      const auto event_type = model::parse_event_type(type);
      if (!event_type) bad(vw + ".type " + core::quoted(type) + " is not an RTM event type");
      m.type = *event_type;
      m.system_generated = m.type == model::EventType::system_message;
      m.chatter_id = str_member(ev, "author_id", vw);
      const auto author = author_types.find(m.chatter_id);
      if (author == author_types.end()) bad(vw + ".author_id " + core::quoted(m.chatter_id) + " is not a participant");
      m.chatter_type = author->second;
      if (ev.contains("custom_id")) m.custom_id = str_member(ev, "custom_id", vw);
      if (ev.contains("text")) {
        m.text = str_member(ev, "text", vw);
      } else if (m.type == model::EventType::message) {
        bad(vw + ": a message needs \"text\"");
      }
      if (m.type == model::EventType::message && core::trim(m.text).empty()) bad(vw + ": a message's text is empty");
      // 3800 characters from the shell, 16 KiB from chatd's clients: an export holds either.
      if (const auto chars = core::utf8_length(m.text);
          !chars || (*chars > model::kMaxMessageLength && m.text.size() > kMaxEventTextBytes)) {
        bad(vw + ".text must be valid UTF-8, at most 3800 characters or 16 KiB");
      }
      m.properties = object_text(ev, "properties", vw);
      if (ev.contains("chatctl")) {
        const auto& x_ev = ev["chatctl"];
        if (!x_ev.is_object()) bad(vw + ".chatctl must be an object");
        const auto audience = str_member(x_ev, "audience", vw + ".chatctl");
        if (audience == "agents") {
          m.audience = model::Audience::agents;
        } else if (audience == "customer") {
          m.audience = model::Audience::customer;
        } else if (audience != "everyone") {
          bad(vw + ".chatctl.audience must be everyone, agents or customer");
        }
      }
      Json payload = Json::object();
      for (const auto& [k2, v] : ev.items()) {
        if (common_event_member(k2)) continue;
        if (!type_field(k2)) bad(vw + ": unknown event member " + core::quoted(k2));
        payload[k2] = v;
      }
      if (m.type == model::EventType::system_message && !payload.contains("system_message_type")) {
        bad(vw + ": a system message needs \"system_message_type\"");
      }
      m.payload = payload.dump();
      t.messages.push_back(std::move(m));
    }
    t.threads.push_back(std::move(x));
  }

  const auto& flags = array_member(ext, "flags", ew);
  for (std::size_t k = 0; k < flags.size(); ++k) {
    const std::string fw = ew + ".flags[" + std::to_string(k) + "]";
    if (!flags[k].is_object()) bad(fw + " must be an object");
    t.flags.push_back({c.id, str_member(flags[k], "key", fw), str_member(flags[k], "value", fw),
                       str_member(flags[k], "user", fw), time_member(flags[k], "created_at", fw)});
  }
  const auto& invites = array_member(ext, "invites", ew);
  for (std::size_t k = 0; k < invites.size(); ++k) {
    const std::string iw = ew + ".invites[" + std::to_string(k) + "]";
    if (!invites[k].is_object()) bad(iw + " must be an object");
    model::Invite i;
    i.chat_id = c.id;
    i.chatter_id = str_member(invites[k], "user", iw);
    i.inviter_id = str_member(invites[k], "inviter", iw);
    i.invitation_chat_id = int_member(invites[k], "through", iw);
    i.create_time = time_member(invites[k], "created_at", iw);
    t.invites.push_back(std::move(i));
  }
  return t;
}

namespace {

struct Pending {
  std::string location;
  store::Transcript transcript;
};

class Importer {
 public:
  Importer(store::Store& store, const core::Clock& clock, const std::string& actor, const ImportOptions& o)
      : store_(store), clock_(clock), actor_(actor), o_(o) {
    report_.dry_run = o.dry_run;
    default_channel_ = engine::default_channel_id(store).value_or(0);
  }

  void add(std::string location, const std::string& record) {
    ++report_.read;
    try {
      pending_.push_back({location, parse_chat(record, default_channel_)});
    } catch (const Error& e) {
      throw Error(e.kind(), location + ": " + e.what());
    }
    if (pending_.size() >= o_.batch_size) flush();
  }

  // Writes the pending chats in one transaction: all of them or, on an error, none.
  void flush() {
    if (pending_.empty()) return;
    store::WriteTransaction tx(store_);
    store::ChatFilter existing_filter;
    for (const auto& p : pending_) existing_filter.ids.push_back(p.transcript.chat.id);
    const auto existing_ids = store_.list_chat_ids(existing_filter);
    std::set<model::ChatId> taken(existing_ids.begin(), existing_ids.end());
    // A dry run's earlier batches were rolled back: what they would have written counts here.
    taken.insert(dry_run_chats_.begin(), dry_run_chats_.end());
    ImportReport batch;
    std::vector<store::Transcript> fresh;
    std::vector<store::EventRecord> events;
    const core::Micros now = clock_.now();
    for (auto& p : pending_) {
      auto& t = p.transcript;
      if (!taken.insert(t.chat.id).second) {  // in the database, or earlier in this batch
        ++batch.skipped;
        continue;
      }
      if (!channel_exists(t.chat.channel_id)) {
        throw Error(ErrorKind::data, p.location + ": group " + std::to_string(t.chat.channel_id) +
                                         " is not a channel of this database (create it first, e.g. with channel apply)");
      }
      // Ids one record shares with an earlier one: told by line, in a dry run as in a real one.
      for (const auto& th : t.threads) {
        if (!threads_.insert(th.id).second) {
          throw Error(ErrorKind::data, p.location + ": thread " + model::rtm_thread_id(th.id) +
                                           " is also in an earlier chat of the input");
        }
      }

      store::EventRecord e;
      e.type = "ChatImport";
      e.time = now;
      e.actor = actor_;
      e.chat_id = t.chat.id;
      e.channel_id = t.chat.channel_id;
      e.payload = nlohmann::json{{"id", t.chat.id}, {"status", model::to_string(t.chat.status)}}.dump();
      events.push_back(std::move(e));
      ++batch.imported;
      batch.threads += t.threads.size();
      batch.messages += t.messages.size();
      batch.participants += t.participants.size();
      batch.flags += t.flags.size();
      batch.invites += t.invites.size();
      fresh.push_back(std::move(t));
    }
    try {
      store_.insert_transcripts(fresh);
    } catch (const Error& e) {
      throw Error(e.kind(), pending_.front().location + " to " + pending_.back().location + ": " + e.what());
    }
    store_.append_events(events);
    store_.sync_id_sequences();
    if (!o_.dry_run) tx.commit();  // a dry run rolls back: its counts are what would be written
    if (o_.dry_run) {
      for (const auto& t : fresh) dry_run_chats_.insert(t.chat.id);
    }
    report_.imported += batch.imported;
    report_.skipped += batch.skipped;
    report_.threads += batch.threads;
    report_.messages += batch.messages;
    report_.participants += batch.participants;
    report_.flags += batch.flags;
    report_.invites += batch.invites;
    pending_.clear();
    if (o_.progress) o_.progress(report_.read);
  }

  const ImportReport& report() const { return report_; }

 private:
  bool channel_exists(model::ChannelId id) {
    if (channels_.count(id)) return true;
    if (!store_.find_channel(id)) return false;
    channels_.insert(id);
    return true;
  }

  store::Store& store_;
  const core::Clock& clock_;
  const std::string& actor_;
  const ImportOptions& o_;
  model::ChannelId default_channel_{0};
  std::vector<Pending> pending_;
  std::set<model::ChannelId> channels_;
  // Of the chats imported so far (threads: a few per chat; events are left to the database).
  std::unordered_set<model::ThreadId> threads_;
  std::unordered_set<model::ChatId> dry_run_chats_;  // a dry run's, which its rollbacks took back
  ImportReport report_;
};

std::string_view trim_record(std::string_view line) {
  line = core::trim(line);
  if (!line.empty() && line.back() == ',') line.remove_suffix(1);
  return line;
}

}  // namespace

ImportReport import_chats(store::Store& store, const core::Clock& clock, const std::string& actor,
                          const ImportOptions& o, std::istream& in) {
  if (o.batch_size == 0) throw Error(ErrorKind::usage, "the batch size must be at least 1");
  Importer importer(store, clock, actor, o);
  const std::string source = o.source_name == "-" ? "stdin" : o.source_name;
  std::string line;
  std::size_t line_no = 0;
  // The first non-blank line tells the layout: "[" alone is export's array (a chat per line),
  // another "[..." is a free-form JSON array, anything else is JSON lines.
  while (std::getline(in, line)) {
    ++line_no;
    if (!core::trim(line).empty()) break;
  }
  const std::string first(core::trim(line));
  if (first.empty()) {
    if (in.bad()) throw Error(ErrorKind::io, "cannot read " + source);
    return importer.report();
  }
  // Export's array has a whole record per line; another tool's array may spread one over many.
  std::string pending;  // lines read while telling the two apart
  bool free_form = first.front() == '[' && first != "[" && first != "[]";
  if (first == "[") {
    while (std::getline(in, line)) {
      ++line_no;
      pending += line + '\n';
      const auto record = trim_record(line);
      if (record.empty()) continue;
      free_form = record != "]" && !(record.front() == '{' && record.back() == '}');
      break;
    }
  }
  if (!free_form && (first == "[" || first == "[]")) {
    bool closed = first == "[]";
    bool replay = !pending.empty();
    while (!closed && (replay || std::getline(in, line))) {
      if (replay) {
        replay = false;
        line = pending.substr(0, pending.size() - 1);
      } else {
        ++line_no;
      }
      const auto record = trim_record(line);
      if (record.empty()) continue;
      if (record == "]") {
        closed = true;
        break;
      }
      importer.add(source + ":" + std::to_string(line_no), std::string(record));
    }
    if (!closed) throw Error(ErrorKind::data, source + ":" + std::to_string(line_no) + ": the JSON array is not closed");
    while (std::getline(in, line)) {
      ++line_no;
      if (!core::trim(line).empty()) {
        throw Error(ErrorKind::data, source + ":" + std::to_string(line_no) + ": text after the end of the array");
      }
    }
  } else if (free_form) {
    std::string all = first + '\n' + pending;
    std::string rest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    all += rest;
    Json doc;
    try {
      doc = Json::parse(all);
    } catch (const Json::parse_error& e) {
      std::string what = e.what();
      if (const auto p = what.find("parse error"); p != std::string::npos) what = what.substr(p);
      throw Error(ErrorKind::data, source + ": not valid JSON (" + what + ")");
    }
    for (std::size_t i = 0; i < doc.size(); ++i) importer.add(source + ": record " + std::to_string(i + 1), doc[i].dump());
  } else {
    importer.add(source + ":" + std::to_string(line_no), line);
    while (std::getline(in, line)) {
      ++line_no;
      if (core::trim(line).empty()) continue;
      importer.add(source + ":" + std::to_string(line_no), line);
    }
  }
  if (in.bad()) throw Error(ErrorKind::io, "cannot read " + source);
  importer.flush();
  return importer.report();
}

}  // namespace chatctl::transcript
