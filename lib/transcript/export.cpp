#include "transcript/export.hpp"

#include "core/error.hpp"
#include "engine/engine.hpp"
#include "transcript/json_text.hpp"

namespace chatctl::transcript {
namespace {

constexpr std::size_t kFlushBytes = 1 << 20;

// Appends `key` and a value with a leading comma: `,"key":`.
void key(std::string& out, std::string_view k) {
  out += ",\"";
  out += k;
  out += "\":";
}

void time_value(std::string& out, core::Micros t) {
  out += '"';
  core::append_rfc3339(out, t);
  out += '"';
}

bool empty_object(const std::string& json) { return json.size() <= 2; }

// Properties and payloads are stored as compact JSON objects written by chatctl; they are copied
// as they are. The members of a payload become members of the event.
void append_members(std::string& out, const std::string& object_json) {
  if (empty_object(object_json) || object_json.front() != '{' || object_json.back() != '}') return;
  out += ',';
  out.append(object_json, 1, object_json.size() - 2);
}

void access(std::string& out, std::int64_t group) {
  out += "{\"group_ids\":[";
  append_json_int(out, group);
  out += "]}";
}

const char* user_type(model::ChatterType t) { return t == model::ChatterType::user ? "agent" : "customer"; }

void append_event(std::string& out, const model::Message& m) {
  out += "{\"id\":";
  append_json_string(out, model::rtm_event_id(m.thread_id, m.id));
  key(out, "created_at");
  time_value(out, m.create_time);
  key(out, "type");
  append_json_string(out, model::to_string(m.type));
  key(out, "author_id");
  append_json_string(out, m.chatter_id);
  if (!m.custom_id.empty()) {
    key(out, "custom_id");
    append_json_string(out, m.custom_id);
  }
  if (m.type == model::EventType::message || m.type == model::EventType::system_message || !m.text.empty()) {
    key(out, "text");
    append_json_string(out, m.text);
  }
  append_members(out, m.payload);
  if (!empty_object(m.properties)) {
    key(out, "properties");
    out += m.properties;
  }
  if (m.audience != model::Audience::everyone) {
    key(out, "chatctl");
    out += "{\"audience\":";
    append_json_string(out, model::to_string(m.audience));
    out += '}';
  }
  out += '}';
}

}  // namespace

std::string chat_json(const store::Transcript& t, model::ChannelId default_channel) {
  std::string out;
  const auto& c = t.chat;
  const std::int64_t group = c.channel_id == default_channel ? 0 : c.channel_id;
  out += "{\"id\":";
  append_json_string(out, model::rtm_chat_id(c.id));

  key(out, "threads");
  out += '[';
  for (std::size_t i = 0; i < t.threads.size(); ++i) {
    const auto& th = t.threads[i];
    if (i) out += ',';
    out += "{\"id\":";
    append_json_string(out, model::rtm_thread_id(th.id));
    key(out, "created_at");
    time_value(out, th.create_time);
    key(out, "active");
    out += th.active ? "true" : "false";
    key(out, "user_ids");
    out += '[';
    for (std::size_t k = 0; k < t.participants.size(); ++k) {
      if (k) out += ',';
      append_json_string(out, t.participants[k].chatter_id);
    }
    out += ']';
    key(out, "events");
    out += '[';
    // Messages are ordered by id and threads by id, so each thread's events are a contiguous run;
    // a message whose thread is unknown (a foreign writer) lands in the first thread.
    bool first = true;
    for (const auto& m : t.messages) {
      if (m.thread_id != th.id && !(i == 0 && m.thread_id == 0)) continue;
      if (!first) out += ',';
      first = false;
      append_event(out, m);
    }
    out += ']';
    if (!empty_object(th.properties)) {
      key(out, "properties");
      out += th.properties;
    }
    key(out, "access");
    access(out, group);
    if (i > 0) {
      key(out, "previous_thread_id");
      append_json_string(out, model::rtm_thread_id(t.threads[i - 1].id));
    }
    if (i + 1 < t.threads.size()) {
      key(out, "next_thread_id");
      append_json_string(out, model::rtm_thread_id(t.threads[i + 1].id));
    }
    out += '}';
  }
  out += ']';

  key(out, "users");
  out += '[';
  for (std::size_t k = 0; k < t.participants.size(); ++k) {
    const auto& p = t.participants[k];
    if (k) out += ',';
    out += "{\"id\":";
    append_json_string(out, p.chatter_id);
    key(out, "type");
    out += '"';
    out += user_type(p.chatter_type);
    out += '"';
    key(out, "name");
    append_json_string(out, p.chatter_name);
    key(out, "present");
    out += p.active == model::ChatterActive::active ? "true" : "false";
    out += '}';
  }
  out += ']';
  key(out, "access");
  access(out, group);
  if (!empty_object(c.properties)) {
    key(out, "properties");
    out += c.properties;
  }

  key(out, "chatctl");
  out += "{\"chat_id\":";
  append_json_int(out, c.id);
  key(out, "status");
  append_json_string(out, model::to_string(c.status));
  key(out, "requester");
  out += "{\"id\":";
  append_json_string(out, c.requester_id);
  key(out, "name");
  append_json_string(out, c.requester_name);
  key(out, "type");
  append_json_string(out, model::to_string(c.requester_type));
  out += '}';
  key(out, "target_type");
  append_json_string(out, model::to_string(c.target_type));
  key(out, "ticket_id");
  append_json_int(out, c.ticket_id);
  key(out, "created_at");
  time_value(out, c.create_time);
  key(out, "changed_at");
  time_value(out, c.change_time);
  key(out, "participants");
  out += '[';
  for (std::size_t k = 0; k < t.participants.size(); ++k) {
    const auto& p = t.participants[k];
    if (k) out += ',';
    out += "{\"id\":";
    append_json_string(out, p.chatter_id);
    key(out, "name");
    append_json_string(out, p.chatter_name);
    key(out, "type");
    append_json_string(out, model::to_string(p.chatter_type));
    key(out, "active");
    append_json_int(out, static_cast<int>(p.active));
    key(out, "invitation");
    out += p.invitation ? "true" : "false";
    key(out, "monitoring");
    append_json_int(out, static_cast<int>(p.monitoring));
    key(out, "permission");
    append_json_string(out, model::to_string(p.permission));
    key(out, "created_at");
    time_value(out, p.create_time);
    out += '}';
  }
  out += ']';
  key(out, "flags");
  out += '[';
  for (std::size_t k = 0; k < t.flags.size(); ++k) {
    const auto& f = t.flags[k];
    if (k) out += ',';
    out += "{\"key\":";
    append_json_string(out, f.key);
    key(out, "value");
    append_json_string(out, f.value);
    key(out, "user");
    append_json_string(out, f.user);
    key(out, "created_at");
    time_value(out, f.create_time);
    out += '}';
  }
  out += ']';
  key(out, "invites");
  out += '[';
  for (std::size_t k = 0; k < t.invites.size(); ++k) {
    const auto& i = t.invites[k];
    if (k) out += ',';
    out += "{\"user\":";
    append_json_string(out, i.chatter_id);
    key(out, "inviter");
    append_json_string(out, i.inviter_id);
    key(out, "through");
    append_json_int(out, i.invitation_chat_id);
    key(out, "created_at");
    time_value(out, i.create_time);
    out += '}';
  }
  out += "]}}";
  return out;
}

ExportReport export_chats(store::Store& store, const ExportOptions& o, std::ostream& out) {
  ExportReport report;
  const model::ChannelId default_channel = engine::default_channel_id(store).value_or(0);
  std::string buf;
  buf.reserve(kFlushBytes + (1 << 16));
  const auto flush = [&] {
    out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (!out) throw core::Error(core::ErrorKind::io, "cannot write the export");
    report.bytes += buf.size();
    buf.clear();
  };
  if (!o.json_lines) buf += "[";
  store::ChatFilter page = o.filter;
  page.limit = o.page_size;
  while (true) {
    // Keyset paging by id: each page is its own short read, so a live writer is never held up
    // and memory holds one page.
    auto batch = store.read_transcripts(page, o.include_internal);
    if (batch.empty()) break;
    for (const auto& t : batch) {
      if (!o.json_lines) buf += report.chats ? ",\n" : "\n";
      buf += chat_json(t, default_channel);
      if (o.json_lines) buf += '\n';
      ++report.chats;
      report.events += t.messages.size();
      if (buf.size() >= kFlushBytes) flush();
    }
    page.after_id = batch.back().chat.id;
    if (o.progress) o.progress(report.chats);
    if (batch.size() < o.page_size) break;
  }
  if (!o.json_lines) buf += report.chats ? "\n]\n" : "]\n";
  flush();
  out.flush();
  if (!out) throw core::Error(core::ErrorKind::io, "cannot write the export");
  return report;
}

}  // namespace chatctl::transcript
