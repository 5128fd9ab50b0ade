#include "cli/records.hpp"

#include "core/clock.hpp"

namespace chatctl::cli {

Record channel_record(const model::Channel& c) {
  Record r;
  r["id"] = c.id;
  r["name"] = c.name;
  r["group"] = c.group;
  r["customer_users"] = c.customer_users;
  r["public_users"] = c.public_users;
  r["validity"] = model::to_string(c.validity);
  r["comment"] = c.comment;
  r["create_time"] = c.create_time ? core::format_rfc3339(c.create_time) : "";
  r["create_by"] = c.create_by;
  r["change_time"] = c.change_time ? core::format_rfc3339(c.change_time) : "";
  r["change_by"] = c.change_by;
  return r;
}

const std::vector<Column>& channel_columns() {
  static const std::vector<Column> kColumns = {{"ID", "id"},
                                               {"NAME", "name"},
                                               {"GROUP", "group"},
                                               {"CUSTOMER", "customer_users"},
                                               {"PUBLIC", "public_users"},
                                               {"VALIDITY", "validity"},
                                               {"COMMENT", "comment"}};
  return kColumns;
}

namespace {
Record time_or_null(core::Micros t) { return t ? Record(core::format_rfc3339(t)) : Record(nullptr); }
}  // namespace

Record agent_record(const model::Agent& a, model::AgentAvailability effective) {
  Record r;
  r["id"] = a.id;
  r["login"] = a.login;
  r["name"] = a.name;
  r["email"] = a.email;
  r["groups"] = a.groups;
  r["channels"] = a.channels;
  r["availability"] = model::to_string(effective);
  r["availability_set"] = model::to_string(a.availability);
  r["last_seen"] = time_or_null(a.last_seen);
  r["create_time"] = time_or_null(a.create_time);
  r["change_time"] = time_or_null(a.change_time);
  return r;
}

const std::vector<Column>& agent_columns() {
  static const std::vector<Column> kColumns = {{"LOGIN", "login"},   {"NAME", "name"},
                                               {"GROUPS", "groups"}, {"AVAILABILITY", "availability"},
                                               {"LAST_SEEN", "last_seen"}};
  return kColumns;
}

Record customer_record(const model::Customer& c, model::CustomerAvailability effective) {
  Record r;
  r["id"] = c.id;
  r["name"] = c.name;
  r["email"] = c.email;
  r["kind"] = model::to_string(c.kind);
  r["availability"] = model::to_string(effective);
  r["availability_set"] = model::to_string(c.availability);
  r["last_seen"] = time_or_null(c.last_seen);
  r["create_time"] = time_or_null(c.create_time);
  r["change_time"] = time_or_null(c.change_time);
  r["banned"] = c.banned;
  return r;
}

Record token_record(const model::CustomerToken& t, core::Micros now) {
  Record r;
  r["id"] = t.id;
  r["customer_id"] = t.customer_id;
  r["state"] = t.revoked ? "revoked" : t.expire_time <= now ? "expired" : "valid";
  r["create_time"] = time_or_null(t.create_time);
  r["expire_time"] = time_or_null(t.expire_time);
  return r;
}

const std::vector<Column>& token_columns() {
  static const std::vector<Column> kColumns = {
      {"ID", "id"}, {"CUSTOMER", "customer_id"}, {"STATE", "state"}, {"EXPIRES", "expire_time"}};
  return kColumns;
}

Record greeting_record(const model::Greeting& g) {
  Record r;
  r["unique_id"] = g.unique_id;
  r["greeting_id"] = g.greeting_id;
  r["customer_id"] = g.customer_id;
  r["agent"] = g.agent_login;
  r["state"] = model::to_string(g.state);
  r["create_time"] = time_or_null(g.create_time);
  return r;
}

const std::vector<Column>& customer_columns() {
  static const std::vector<Column> kColumns = {{"ID", "id"},       {"NAME", "name"},
                                               {"KIND", "kind"},   {"AVAILABILITY", "availability"},
                                               {"LAST_SEEN", "last_seen"}};
  return kColumns;
}

Record chat_record(const model::Chat& c) {
  Record r;
  r["id"] = c.id;
  r["status"] = model::to_string(c.status);
  r["requester_id"] = c.requester_id;
  r["requester_name"] = c.requester_name;
  r["requester_type"] = model::to_string(c.requester_type);
  r["target_type"] = model::to_string(c.target_type);
  r["channel_id"] = c.channel_id;
  r["channel"] = c.channel_name;
  r["ticket_id"] = c.ticket_id;
  r["create_time"] = time_or_null(c.create_time);
  r["change_time"] = time_or_null(c.change_time);
  return r;
}

const std::vector<Column>& chat_columns() {
  static const std::vector<Column> kColumns = {{"ID", "id"},           {"STATUS", "status"},
                                               {"REQUESTER", "requester_name"}, {"TYPE", "requester_type"},
                                               {"TARGET", "target_type"}, {"CHANNEL", "channel"},
                                               {"CHANGED", "change_time"}};
  return kColumns;
}

Record webhook_record(const model::Webhook& w, std::size_t queued) {
  Record r;
  r["name"] = w.name;
  r["url"] = w.url;
  r["events"] = w.events;
  r["signed"] = !w.secret.empty();
  r["state"] = model::to_string(w.state);
  r["failures"] = w.failures;
  r["last_error"] = w.last_error;
  r["last_attempt_time"] = w.last_attempt_time ? Record(core::format_rfc3339(*w.last_attempt_time)) : Record();
  r["queued"] = queued;
  r["cursor"] = w.cursor;
  r["create_time"] = time_or_null(w.create_time);
  r["change_time"] = time_or_null(w.change_time);
  return r;
}

const std::vector<Column>& webhook_columns() {
  static const std::vector<Column> kColumns = {{"NAME", "name"},     {"URL", "url"},       {"EVENTS", "events"},
                                               {"SIGNED", "signed"}, {"STATE", "state"},   {"FAILURES", "failures"},
                                               {"QUEUED", "queued"}, {"LAST ERROR", "last_error"}};
  return kColumns;
}

Record delivery_record(const model::WebhookDelivery& d) {
  Record r;
  r["seq"] = d.seq;
  r["event_id"] = d.event_id;
  r["event"] = d.event;
  r["chat_id"] = d.chat_id;
  r["attempts"] = d.attempts;
  r["next_attempt_time"] = d.next_attempt_time ? Record(core::format_rfc3339(d.next_attempt_time)) : Record();
  return r;
}

const std::vector<Column>& delivery_columns() {
  static const std::vector<Column> kColumns = {{"SEQ", "seq"},           {"EVENT", "event"},
                                               {"CHAT", "chat_id"},      {"ATTEMPTS", "attempts"},
                                               {"NEXT ATTEMPT", "next_attempt_time"}, {"EVENT ID", "event_id"}};
  return kColumns;
}

Record participant_record(const model::Participant& p) {
  Record r;
  r["id"] = p.id;
  r["chat_id"] = p.chat_id;
  r["chatter_id"] = p.chatter_id;
  r["chatter_name"] = p.chatter_name;
  r["chatter_type"] = model::to_string(p.chatter_type);
  r["chatter_active"] = static_cast<int>(p.active);
  r["permission_level"] = model::to_string(p.permission);
  r["invitation"] = p.invitation;
  r["monitoring"] = static_cast<int>(p.monitoring);
  r["create_time"] = time_or_null(p.create_time);
  return r;
}

const std::vector<Column>& participant_columns() {
  static const std::vector<Column> kColumns = {{"CHATTER", "chatter_id"},     {"NAME", "chatter_name"},
                                               {"TYPE", "chatter_type"},      {"ACTIVE", "chatter_active"},
                                               {"PERMISSION", "permission_level"}, {"MONITORING", "monitoring"}};
  return kColumns;
}

Record message_record(const model::Message& m) {
  Record r;
  r["id"] = m.id;
  r["chat_id"] = m.chat_id;
  r["chatter_id"] = m.chatter_id;
  r["chatter_name"] = m.chatter_name;
  r["chatter_type"] = model::to_string(m.chatter_type);
  r["text"] = m.text;
  r["system_generated"] = m.system_generated;
  r["audience"] = model::to_string(m.audience);
  r["create_time"] = time_or_null(m.create_time);
  return r;
}

const std::vector<Column>& message_columns() {
  static const std::vector<Column> kColumns = {{"ID", "id"},        {"TIME", "create_time"}, {"FROM", "chatter_name"},
                                               {"AUDIENCE", "audience"}, {"TEXT", "text"}};
  return kColumns;
}

Record flag_record(const model::Flag& f) {
  Record r;
  r["chat_id"] = f.chat_id;
  r["key"] = f.key;
  r["value"] = f.value;
  r["user"] = f.user;
  r["create_time"] = time_or_null(f.create_time);
  return r;
}

const std::vector<Column>& flag_columns() {
  static const std::vector<Column> kColumns = {
      {"CHAT", "chat_id"}, {"KEY", "key"}, {"VALUE", "value"}, {"USER", "user"}, {"TIME", "create_time"}};
  return kColumns;
}

Record invite_record(const model::Invite& i) {
  Record r;
  r["chat_id"] = i.chat_id;
  r["invitee"] = i.chatter_id;
  r["inviter"] = i.inviter_id;
  r["invitation_chat_id"] = i.invitation_chat_id ? Record(i.invitation_chat_id) : Record(nullptr);
  r["create_time"] = time_or_null(i.create_time);
  return r;
}

const std::vector<Column>& invite_columns() {
  static const std::vector<Column> kColumns = {{"CHAT", "chat_id"},
                                               {"INVITEE", "invitee"},
                                               {"INVITER", "inviter"},
                                               {"THROUGH", "invitation_chat_id"},
                                               {"TIME", "create_time"}};
  return kColumns;
}

Record setting_record(const core::SettingDef& def, const core::Settings& settings, bool origin) {
  Record r;
  r["name"] = def.key;
  switch (def.type) {
    case core::SettingType::boolean: r["value"] = settings.get_bool(def.key); break;
    case core::SettingType::integer: r["value"] = settings.get_int(def.key); break;
    case core::SettingType::string: r["value"] = settings.display(def.key); break;
  }
  if (origin) {
    const auto& v = settings.value(def.key);
    r["origin"] = core::origin_name(v.origin);
    r["source"] = v.source;
  }
  return r;
}

Record event_record(const store::EventRecord& e) {
  Record r;
  r["seq"] = e.seq;
  r["time"] = core::format_rfc3339(e.time);
  r["type"] = e.type;
  r["actor"] = e.actor;
  r["chat_id"] = e.chat_id ? Record(*e.chat_id) : Record(nullptr);
  r["channel_id"] = e.channel_id ? Record(*e.channel_id) : Record(nullptr);
  r["payload"] = Record::parse(e.payload, nullptr, false);
  return r;
}

const std::vector<Column>& event_columns() {
  static const std::vector<Column> kColumns = {{"SEQ", "seq"},     {"TIME", "time"},    {"TYPE", "type"},
                                               {"ACTOR", "actor"}, {"CHAT", "chat_id"}, {"CHANNEL", "channel_id"},
                                               {"PAYLOAD", "payload"}};
  return kColumns;
}

Record migration_record(const store::MigrationState& m) {
  Record r;
  r["version"] = m.version;
  r["name"] = m.name;
  r["state"] = !m.known ? "unknown (newer chatctl)" : (m.applied_at ? "applied" : "pending");
  r["applied_at"] = m.applied_at ? Record(core::format_rfc3339(*m.applied_at)) : Record(nullptr);
  return r;
}

const std::vector<Column>& migration_columns() {
  static const std::vector<Column> kColumns = {
      {"VERSION", "version"}, {"NAME", "name"}, {"STATE", "state"}, {"APPLIED_AT", "applied_at"}};
  return kColumns;
}

Record plan_record(const engine::PlanEntry& e) {
  Record r;
  r["action"] = engine::to_string(e.action);
  r["name"] = e.channel.name;
  r["id"] = e.channel.id ? Record(e.channel.id) : Record(nullptr);
  Record changes = Record::array();
  std::string summary;
  for (const auto& c : e.changes) {
    changes.push_back({{"field", c.field}, {"before", c.before}, {"after", c.after}});
    summary += (summary.empty() ? "" : ", ") + c.field + ": " + c.before + " -> " + c.after;
  }
  r["changes"] = std::move(changes);
  r["summary"] = summary;
  return r;
}

const std::vector<Column>& plan_columns() {
  static const std::vector<Column> kColumns = {{"ACTION", "action"}, {"NAME", "name"}, {"CHANGES", "summary"}};
  return kColumns;
}

}  // namespace chatctl::cli
