#include "rtm/actions.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/error.hpp"
#include "core/scope.hpp"
#include "core/text.hpp"
#include "engine/chats.hpp"
#include "engine/people.hpp"
#include "rtm/render.hpp"

namespace chatctl::rtm {
namespace {

using json = nlohmann::json;
using core::Error;
using core::ErrorKind;

constexpr std::size_t kMaxTextBytes = 16 * 1024;
constexpr std::size_t kMaxSessionFields = 100;
constexpr std::size_t kMaxStringBytes = 2048;
constexpr std::size_t kMaxInitialEvents = 100;

[[noreturn]] void invalid(const std::string& message) { throw RtmError(ErrorType::validation, message); }

const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string string_of(const json& obj, const char* key, bool required, std::size_t max = kMaxStringBytes) {
  const json* v = member(obj, key);
  if (!v) {
    if (required) invalid(std::string("`") + key + "` is required");
    return {};
  }
  if (!v->is_string()) invalid(std::string("`") + key + "` must be a string");
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max) invalid(std::string("`") + key + "` is too long");
  if (!core::utf8_length(s)) invalid(std::string("`") + key + "` is not valid UTF-8");
  // PostgreSQL's text cannot hold one, SQLite's can: refused alike on both.
  if (s.find('\0') != std::string::npos) invalid(std::string("`") + key + "` contains a NUL character");
  return s;
}

std::optional<bool> bool_of(const json& obj, const char* key) {
  const json* v = member(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) invalid(std::string("`") + key + "` must be a boolean");
  return v->get<bool>();
}

std::optional<std::int64_t> int_of(const json& obj, const char* key, std::int64_t min, std::int64_t max) {
  const json* v = member(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) invalid(std::string("`") + key + "` must be an integer");
  const auto n = v->get<std::int64_t>();
  if (n < min || n > max) {
    invalid(std::string("`") + key + "` must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return n;
}

const json* object_of(const json& obj, const char* key, bool required = false) {
  const json* v = member(obj, key);
  if (!v) {
    if (required) invalid(std::string("`") + key + "` is required");
    return nullptr;
  }
  if (!v->is_object()) invalid(std::string("`") + key + "` must be an object");
  return v;
}

const json* array_of(const json& obj, const char* key, bool required = false) {
  const json* v = member(obj, key);
  if (!v) {
    if (required) invalid(std::string("`") + key + "` is required");
    return nullptr;
  }
  if (!v->is_array()) invalid(std::string("`") + key + "` must be an array");
  return v;
}

// Properties to set: {namespace: {name: value}}.
void check_properties(const json& props) {
  for (const auto& [ns, members] : props.items()) {
    if (!members.is_object()) invalid("properties are {namespace: {name: value}}");
  }
}

// Properties to delete: {namespace: [name, ...]}.
void check_property_names(const json& props) {
  for (const auto& [ns, names] : props.items()) {
    if (!names.is_array()) invalid("properties to delete are {namespace: [name, ...]}");
    for (const auto& n : names) {
      if (!n.is_string()) invalid("property names must be strings");
    }
  }
}

bool is_http_url(const std::string& url) {
  const bool scheme = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  return scheme && url.size() > 8 && url.find_first_of(" \t\r\n") == std::string::npos;
}

void check_session_fields(const json& fields) {
  if (fields.size() > kMaxSessionFields) invalid("at most 100 session fields");
  for (const auto& f : fields) {
    if (!f.is_object() || f.size() != 1 || !f.begin().value().is_string()) {
      invalid("session fields are objects of one key with a string value");
    }
  }
}

std::string page_id(std::size_t offset, bool asc, std::size_t limit) {
  return core::base64_encode(dump(json{{"o", offset}, {"a", asc}, {"l", limit}}));
}

struct Page {
  std::size_t offset{0};
  bool asc{false};
  std::size_t limit{10};
};

// Paging as list_chats and list_threads do it: page_id alone, or limit and sort_order.
Page paging(const json& p, std::size_t default_limit, std::size_t max_limit) {
  Page page;
  page.limit = default_limit;
  const std::string pid = string_of(p, "page_id", false, 512);
  if (!pid.empty()) {
    if (member(p, "limit") || member(p, "sort_order")) invalid("`page_id` cannot be given with `limit` or `sort_order`");
    const auto decoded = core::base64_decode(pid);
    const auto j = decoded ? json::parse(*decoded, nullptr, false) : json();
    if (!j.is_object() || !j.contains("o") || !j["o"].is_number_unsigned() || !j.contains("a") ||
        !j["a"].is_boolean() || !j.contains("l") || !j["l"].is_number_unsigned()) {
      invalid("`page_id` is not one this server gave");
    }
    page.offset = std::min<std::size_t>(j["o"].get<std::size_t>(), 1'000'000'000);
    page.asc = j["a"].get<bool>();
    page.limit = std::clamp<std::size_t>(j["l"].get<std::size_t>(), 1, max_limit);
    return page;
  }
  if (auto l = int_of(p, "limit", 1, static_cast<std::int64_t>(max_limit))) page.limit = static_cast<std::size_t>(*l);
  const std::string order = string_of(p, "sort_order", false, 8);
  if (!order.empty() && order != "asc" && order != "desc") invalid("`sort_order` is asc or desc");
  page.asc = order == "asc";
  return page;
}

// An RTM event from a client, checked the way the protocol document describes each type.
engine::NewMessage new_event(const json& ev, const model::Customer& customer) {
  engine::NewMessage m;
  m.chatter_id = customer.id;
  m.chatter_type = chatter_type_of(customer);
  m.rtm_limits = true;
  const std::string type = string_of(ev, "type", true, 32);
  const auto t = model::parse_event_type(type);
  if (!t) invalid("unknown event type `" + type + "`");
  m.type = *t;
  m.custom_id = string_of(ev, "custom_id", false, 256);
  if (const json* props = object_of(ev, "properties")) {
    check_properties(*props);
    m.properties = dump(*props);
  }
  const std::string recipients = string_of(ev, "recipients", false, 16);
  if (!recipients.empty() && recipients != "all") invalid("customers send events to `all` recipients");
  json fields = json::object();
  switch (*t) {
    case model::EventType::message: {
      m.text = string_of(ev, "text", true, kMaxTextBytes);
      if (core::trim(m.text).empty()) invalid("`text` must not be empty");
      if (const json* pb = object_of(ev, "postback")) {
        json out = json::object();
        for (const char* k : {"id", "thread_id", "event_id"}) out[k] = string_of(*pb, k, true, 256);
        const std::string pt = string_of(*pb, "type", false, 256);
        const std::string pv = string_of(*pb, "value", false, 2048);
        if (member(*pb, "type") != nullptr && member(*pb, "value") == nullptr) invalid("postback `type` needs `value`");
        if (member(*pb, "value") != nullptr && member(*pb, "type") == nullptr) invalid("postback `value` needs `type`");
        if (member(*pb, "type")) {
          out["type"] = pt;
          out["value"] = pv;
        }
        fields["postback"] = out;
      }
      break;
    }
    case model::EventType::system_message: {
      m.system_generated = true;
      m.text = string_of(ev, "text", false, kMaxTextBytes);
      fields["system_message_type"] = string_of(ev, "system_message_type", true, 256);
      if (const json* vars = object_of(ev, "text_vars")) fields["text_vars"] = *vars;
      break;
    }
    case model::EventType::file: {
      const std::string url = string_of(ev, "url", true, 2048);
      if (!is_http_url(url)) invalid("`url` must be an http or https URL");
      std::string name = url.substr(url.find_last_of('/') + 1);
      name = name.substr(0, name.find_first_of("?#"));
      if (name.empty()) name = "file";
      fields["url"] = url;
      fields["name"] = name;
      const auto dot = name.find_last_of('.');
      static const std::map<std::string, std::string> kTypes = {
          {"png", "image/png"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"},
          {"pdf", "application/pdf"}, {"txt", "text/plain"}, {"webp", "image/webp"}};
      const auto ext = dot == std::string::npos ? std::string() : core::to_lower(name.substr(dot + 1));
      const auto it = kTypes.find(ext);
      fields["content_type"] = it == kTypes.end() ? "application/octet-stream" : it->second;
      break;
    }
    case model::EventType::filled_form: {
      fields["form_id"] = string_of(ev, "form_id", true, 256);
      const json* fs = array_of(ev, "fields", true);
      static const std::set<std::string> kFieldTypes = {"checkbox", "email", "name", "question", "textarea",
                                                        "group_chooser", "radio", "select", "header", "rating"};
      for (const auto& f : *fs) {
        if (!f.is_object()) invalid("form fields are objects");
        const std::string ft = string_of(f, "type", true, 32);
        if (!kFieldTypes.count(ft)) invalid("unknown form field type `" + ft + "`");
        string_of(f, "id", true, 256);
        string_of(f, "label", true, 2048);
        if (ft == "checkbox") {
          if (!member(f, "answers") && !member(f, "answer")) invalid("a checkbox field needs `answers`");
        } else if (ft != "header" && !member(f, "answer")) {
          invalid("a form field needs an `answer`");
        }
      }
      fields["fields"] = *fs;
      break;
    }
    case model::EventType::rich_message: {
      const std::string tpl = string_of(ev, "template_id", true, 32);
      if (tpl != "cards" && tpl != "sticker" && tpl != "quick_replies") {
        invalid("`template_id` is cards, sticker or quick_replies");
      }
      fields["template_id"] = tpl;
      if (const json* els = array_of(ev, "elements")) {
        if (els->size() > 10) invalid("a rich message has at most 10 elements");
        json out = json::array();
        for (const auto& el : *els) {
          if (!el.is_object()) invalid("rich message elements are objects");
          json e = el;
          for (const char* k : {"title", "subtitle"}) string_of(el, k, false, 2048);
          if (const json* img = object_of(el, "image")) string_of(*img, "url", true, 2048);
          if (const json* buttons = array_of(el, "buttons")) {
            if (buttons->size() > 13) invalid("a rich message element has at most 13 buttons");
            json bs = json::array();
            for (const auto& b : *buttons) {
              if (!b.is_object()) invalid("buttons are objects");
              string_of(b, "text", true, 2048);
              const std::string bt = string_of(b, "type", false, 16);
              if (!bt.empty() && bt != "webview" && bt != "message" && bt != "url" && bt != "phone" && bt != "cancel") {
                invalid("unknown button type `" + bt + "`");
              }
              if (bt == "webview") {
                const std::string h = string_of(b, "webview_height", true, 16);
                if (h != "compact" && h != "full" && h != "tall") invalid("`webview_height` is compact, full or tall");
              }
              // "Should be used together with type": a typed button says what it does.
              if (!bt.empty() && bt != "cancel" && string_of(b, "value", true, 2048).empty()) {
                invalid("a `" + bt + "` button needs a `value`");
              }
              json button = b;
              // What send_rich_message_postback names: every button has one.
              const std::string postback = string_of(b, "postback_id", true, 256);
              if (postback.empty()) invalid("`postback_id` must not be empty");
              button["postback_id"] = postback;
              button["user_ids"] = json::array();
              bs.push_back(button);
            }
            e["buttons"] = bs;
          }
          out.push_back(e);
        }
        fields["elements"] = out;
      }
      break;
    }
    case model::EventType::custom: {
      if (const json* content = object_of(ev, "content")) fields["content"] = *content;
      break;
    }
  }
  m.payload = dump(fields);
  return m;
}

}  // namespace

// What one action works with: the engine objects acting as the customer.
class Actions::Context {
 public:
  Context(Actions& a, Session& s)
      : a_(a),
        s_(s),
        reader_(a.store_, a.default_channel_),
        chats_(a.store_, a.settings_, a.clock_, s.customer_id.empty() ? std::string("chatd") : s.customer_id),
        people_(a.store_, a.settings_, a.clock_, s.customer_id.empty() ? std::string("chatd") : s.customer_id) {}

  model::Customer customer() {
    auto c = a_.store_.find_customer(s_.customer_id);
    if (!c) throw RtmError(ErrorType::authentication, "the customer no longer exists");
    if (c->banned) throw RtmError(ErrorType::customer_banned);
    return *c;
  }

  // The chat of `chat_id` when the customer takes part in it.
  ChatView chat(const json& p, const model::Customer& c, const char* key = "chat_id") {
    const std::string id = string_of(p, key, true, 64);
    const auto cid = model::parse_rtm_chat_id(id);
    auto view = cid ? reader_.chat(*cid) : std::nullopt;
    if (!view) throw RtmError(ErrorType::not_found, "Chat not found");
    const auto type = chatter_type_of(c);
    const bool mine = std::any_of(view->participants.begin(), view->participants.end(), [&](const auto& part) {
      return part.chatter_type == type && part.chatter_id == c.id;
    });
    if (!mine) throw RtmError(ErrorType::not_found, "Chat not found");
    return *view;
  }

  model::ThreadId thread(const json& p, const ChatView& v, bool required) {
    const std::string id = string_of(p, "thread_id", required, 64);
    if (id.empty()) return 0;
    const auto tid = model::parse_rtm_thread_id(id);
    const bool found = tid && std::any_of(v.threads.begin(), v.threads.end(), [&](const auto& t) { return t.id == *tid; });
    if (!found) throw RtmError(ErrorType::not_found, "Thread not found");
    return *tid;
  }

  model::Message event(const json& p, model::ThreadId thread) {
    const std::string id = string_of(p, "event_id", true, 128);
    const auto mid = model::parse_rtm_event_id(id, thread);
    auto m = mid ? a_.store_.find_message(*mid) : std::nullopt;
    if (!m || m->thread_id != thread || m->audience == model::Audience::agents) {
      throw RtmError(ErrorType::not_found, "Event not found");
    }
    return *m;
  }

  // The channel of an RTM group open to this customer; group_not_found otherwise.
  model::ChannelId channel(std::int64_t group, const model::Customer& c) {
    const auto id = reader_.channel_of(group);
    const auto ch = id ? a_.store_.find_channel(*id) : std::nullopt;
    if (!ch || !ch->usable()) throw RtmError(ErrorType::group_not_found);
    const bool open = c.kind == model::CustomerKind::customer ? ch->customer_users : ch->public_users;
    if (!open) throw RtmError(ErrorType::group_not_found, "Group not found: not open to this customer");
    return ch->id;
  }

  // The valid channels open to this kind of customer: the groups it may see and use.
  std::vector<model::Channel> open_channels(const model::Customer& c) {
    std::vector<model::Channel> out;
    for (auto& ch : a_.store_.list_channels({.valid_only = true})) {
      if (c.kind == model::CustomerKind::customer ? ch.customer_users : ch.public_users) out.push_back(std::move(ch));
    }
    return out;
  }

  // An action that changes a chat needs the customer in it, not removed from it.
  void require_present(const ChatView& v, const model::Customer& c) {
    const auto type = chatter_type_of(c);
    const bool present = std::any_of(v.participants.begin(), v.participants.end(), [&](const auto& part) {
      return part.chatter_type == type && part.chatter_id == c.id && part.active == model::ChatterActive::active;
    });
    if (!present) throw RtmError(ErrorType::authorization, "The customer is not in the chat");
  }

  // Agents that may take chats of each channel right now.
  std::map<std::string, std::vector<model::ChannelId>> available() { return people_.available_agents(); }
  bool channel_online(model::ChannelId ch) {
    for (const auto& [login, channels] : available()) {
      if (std::find(channels.begin(), channels.end(), ch) != channels.end()) return true;
    }
    return false;
  }

  Actions& a_;
  Session& s_;
  Reader reader_;
  engine::ChatEngine chats_;
  engine::People people_;
};

Actions::Actions(store::Store& store, const core::Settings& settings, const core::Clock& clock)
    : store_(store),
      settings_(settings),
      clock_(clock),
      active_chats_limit_(static_cast<std::size_t>(settings.get_int(core::keys::kChatdActiveChats))) {}

namespace {

// The chat flag that keeps a chat's continuous mode (start_chat, activate_chat) between threads.
constexpr std::string_view kContinuousFlag = "RTMContinuous";

constexpr std::string_view kActions[] = {
    "login", "ping", "list_chats", "list_threads", "get_chat", "start_chat", "activate_chat", "deactivate_chat",
    "send_event", "send_rich_message_postback", "send_sneak_peek", "update_chat_properties",
    "delete_chat_properties", "update_thread_properties", "delete_thread_properties", "update_event_properties",
    "delete_event_properties", "update_customer", "update_customer_page", "set_customer_session_fields",
    "get_customer", "list_group_statuses", "get_form", "get_predicted_agent", "get_url_info",
    "mark_events_as_seen", "accept_greeting", "cancel_greeting"};

RtmError translate(const Error& e) {
  switch (e.kind()) {
    case ErrorKind::not_found: return RtmError(ErrorType::not_found, e.what());
    case ErrorKind::data:
    case ErrorKind::usage: return RtmError(ErrorType::validation, e.what());
    case ErrorKind::permission: return RtmError(ErrorType::authorization, e.what());
    case ErrorKind::temporary:
    case ErrorKind::unavailable: return RtmError(ErrorType::service_unavailable, e.what());
    default:
      spdlog::error("rtm: {}", e.what());
      return RtmError(ErrorType::internal);
  }
}

}  // namespace

bool Actions::known(std::string_view action) {
  return std::find(std::begin(kActions), std::end(kActions), action) != std::end(kActions);
}

Outcome Actions::run(Session& session, const Request& r) {
  const json& p = r.payload;
  const std::string& action = r.action;
  if (!known(action)) throw RtmError(ErrorType::validation, "Unknown action `" + action + "`");
  if (action == "ping") return {};
  if (action != "login" && !session.logged_in) throw RtmError(ErrorType::authentication, std::string(kLogInFirst));
  if (action == "login" && session.logged_in) throw RtmError(ErrorType::not_allowed, "Already logged in");
  Outcome out;
  // Whatever this action read may be taken back with it when it fails.
  bool committed = false;
  const core::OnExit forget([&] {
    if (!committed) rolled_back();
  });
  try {
    store::WriteTransaction tx(store_);
    Context ctx(*this, session);
    json& result = out.payload;

    if (action == "login") {
      const std::string token = string_of(p, "token", true, 1024);
      model::Customer c;
      model::CustomerToken token_record;
      switch (ctx.people_.check_token(token, &c, &token_record)) {
        case engine::People::TokenCheck::unknown: throw RtmError(ErrorType::authentication, "Invalid access token");
        case engine::People::TokenCheck::expired:
          session.disconnect_reason = "access_token_expired";
          throw RtmError(ErrorType::authentication, "Access token expired");
        case engine::People::TokenCheck::valid: break;
      }
      if (c.banned) {
        session.disconnect_reason = "customer_banned";
        throw RtmError(ErrorType::customer_banned);
      }
      std::int64_t group = 0;
      if (auto g = int_of(p, "group_id", 0, INT32_MAX)) group = *g;
      ctx.channel(group, c);
      engine::CustomerFields fields;
      json profile = json::object();
      if (const json* cu = object_of(p, "customer")) {
        if (member(*cu, "name")) fields.name = string_of(*cu, "name", false, 200);
        if (member(*cu, "email")) fields.email = string_of(*cu, "email", false, 254);
        if (member(*cu, "avatar")) profile["avatar"] = string_of(*cu, "avatar", false, 2048);
        if (const json* sf = array_of(*cu, "session_fields")) {
          check_session_fields(*sf);
          profile["session_fields"] = *sf;
        }
      }
      if (const json* page = object_of(p, "customer_page")) {
        // Both members are optional; a page without its address is no page the customer is on,
        // and one with an address is checked as update_customer_page checks it.
        const std::string url = string_of(*page, "url", false, 2048);
        const std::string title = string_of(*page, "title", false, 2048);
        if (!url.empty() && !is_http_url(url)) invalid("`customer_page.url` must be an http or https URL");
        if (!url.empty()) profile["page"] = {{"url", url}, {"title", title}, {"timestamp", clock_.now() / 1'000'000}};
      }
      for (const char* k : {"referrer"}) string_of(p, k, false, 2048);
      bool_of(p, "is_mobile");
      if (const json* app = object_of(p, "application")) {
        for (const char* k : {"name", "version", "channel_type"}) string_of(*app, k, false, 256);
      }
      if (const json* storage = object_of(p, "customer_side_storage")) {
        for (const auto& [k, v] : storage->items()) {
          if (!v.is_string()) invalid("`customer_side_storage` maps keys to strings");
        }
      }
      if (admission_ && !admission_(c.id)) {
        session.disconnect_reason = "too_many_connections";
        throw RtmError(ErrorType::not_allowed, "Too many connections");
      }
      if (fields.name || fields.email || !profile.empty()) {
        if (!profile.empty()) fields.profile_patch = dump(profile);
        c = ctx.people_.update_customer(c.id, fields, false);
      }
      ctx.people_.count_customer(c.id, "visits_count");
      if (profile.contains("page")) ctx.people_.count_customer(c.id, "page_views_count");
      ctx.people_.set_customer_availability(c.id, model::CustomerAvailability::online, false);
      c = *store_.find_customer(c.id);
      session.logged_in = true;
      session.customer_id = c.id;
      session.token_id = token_record.id;
      session.token_expires = token_record.expire_time;
      session.group = group;

      // The initial state: the customer, its chats and statistics, the greeting it sees, and
      // which groups are on-line (what the vendor's SDK reads).
      json chats = json::array();
      bool has_active = false;
      std::size_t threads_count = 0;
      // In one query, whatever the customer's history: a login must not read every event it has.
      const auto summaries = store_.chatter_chats(chatter_type_of(c), c.id);
      for (const auto& chat : summaries) {
        has_active = has_active || chat.open;
        threads_count += chat.threads;
        chats.push_back({{"chat_id", model::rtm_chat_id(chat.id)}, {"has_unread_events", chat.unread}});
      }
      json customer = customer_json(c);
      const auto prof = properties_json(c.profile);
      json stats = prof.contains("statistics") && prof["statistics"].is_object() ? prof["statistics"] : json::object();
      customer["statistics"] = {{"chats_count", summaries.size()},
                                {"threads_count", threads_count},
                                {"visits_count", stats.value("visits_count", 0)},
                                {"page_views_count", stats.value("page_views_count", 0)},
                                {"greetings_shown_count", stats.value("greetings_shown_count", 0)},
                                {"greetings_accepted_count", stats.value("greetings_accepted_count", 0)}};
      result["customer"] = customer;
      result["has_active_thread"] = has_active;
      result["chats"] = chats;
      for (const auto& g : store_.list_greetings(c.id)) {
        if (g.state != model::GreetingState::shown) continue;
        result["greeting"] = greeting_json(g, store_.find_agent(g.agent_login), false);
        break;
      }
      // Groups this customer could start a chat in now, as list_group_statuses has them on-line.
      json online = json::array();
      std::set<std::int64_t> groups;
      const auto open = ctx.open_channels(c);
      for (const auto& [login, channels] : ctx.available()) {
        for (const auto ch : channels) {
          if (std::any_of(open.begin(), open.end(), [&](const auto& o) { return o.id == ch; })) {
            groups.insert(ctx.reader_.group_of(ch));
          }
        }
      }
      for (const auto g : groups) online.push_back(g);
      result["__priv_dynamic_config"] = {
          {"online_groups_ids", online},
          {"customer_groups", {{"monitoring", {{"id", group}, {"static_config_url", ""}, {"language_config_url", ""}}}}}};
    } else if (action == "list_chats") {
      const auto c = ctx.customer();
      const Page page = paging(p, 10, 25);
      // Ordered from the summaries of one query; only the page's chats are read whole.
      std::vector<store::ChatterChat> rows;
      for (auto& chat : store_.chatter_chats(chatter_type_of(c), c.id)) {
        if (chat.threads > 0) rows.push_back(chat);
      }
      std::stable_sort(rows.begin(), rows.end(), [&](const auto& x, const auto& y) {
        if (x.last_thread_time != y.last_thread_time) {
          return page.asc ? x.last_thread_time < y.last_thread_time : x.last_thread_time > y.last_thread_time;
        }
        return page.asc ? x.id < y.id : x.id > y.id;
      });
      json summaries = json::array();
      for (std::size_t i = page.offset; i < rows.size() && i < page.offset + page.limit; ++i) {
        const auto view = ctx.reader_.chat(rows[i].id);
        if (!view || view->threads.empty()) continue;
        const auto& v = *view;
        json s{{"id", model::rtm_chat_id(v.chat.id)},
               {"last_thread_id", model::rtm_thread_id(v.threads.back().id)},
               {"last_thread_created_at", core::format_rfc3339(v.threads.back().create_time)}};
        json last = json::object();
        for (const auto& m : ctx.reader_.events(v.chat.id, 0)) {
          std::size_t order = 0;
          core::Micros created = 0;
          for (std::size_t k = 0; k < v.threads.size(); ++k) {
            if (v.threads[k].id == m.thread_id) {
              order = k + 1;
              created = v.threads[k].create_time;
            }
          }
          last[std::string(model::to_string(m.type))] = {{"thread_id", model::rtm_thread_id(m.thread_id)},
                                                         {"thread_order", order},
                                                         {"thread_created_at", core::format_rfc3339(created)},
                                                         {"event", event_json(m)}};
        }
        s["last_event_per_type"] = last;
        s["users"] = users_json(v, &c);
        s["access"] = access_json(v.group);
        s["properties"] = properties_json(v.chat.properties);
        s["active"] = v.active();
        summaries.push_back(s);
      }
      result["chats_summary"] = summaries;
      result["total_chats"] = rows.size();
      if (page.offset + page.limit < rows.size()) result["next_page_id"] = page_id(page.offset + page.limit, page.asc, page.limit);
      if (page.offset > 0) {
        result["previous_page_id"] = page_id(page.offset > page.limit ? page.offset - page.limit : 0, page.asc, page.limit);
      }
    } else if (action == "list_threads") {
      const auto min_events = int_of(p, "min_events_count", 1, 100);
      if (min_events && member(p, "limit")) invalid("`limit` and `min_events_count` cannot be used together");
      const Page page = paging(p, 3, 100);
      const auto c = ctx.customer();
      const auto v = ctx.chat(p, c);
      std::vector<std::size_t> order(v.threads.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = page.asc ? i : order.size() - 1 - i;
      const auto all_events = ctx.reader_.events(v.chat.id, 0);
      auto events_of = [&](model::ThreadId t) {
        std::vector<model::Message> found;
        for (const auto& m : all_events) {
          if (m.thread_id == t) found.push_back(m);
        }
        return found;
      };
      json threads = json::array();
      std::size_t end = page.offset;
      if (min_events) {
        // The latest threads, as many as it takes to hold min_events_count events.
        std::size_t count = 0;
        for (std::size_t i = page.offset; i < order.size() && count < static_cast<std::size_t>(*min_events); ++i) {
          const auto evs = events_of(v.threads[order[i]].id);
          count += evs.size();
          threads.push_back(thread_json(v, order[i], evs));
          end = i + 1;
        }
      } else {
        for (std::size_t i = page.offset; i < order.size() && i < page.offset + page.limit; ++i) {
          threads.push_back(thread_json(v, order[i], events_of(v.threads[order[i]].id)));
          end = i + 1;
        }
      }
      result["threads"] = threads;
      result["found_threads"] = v.threads.size();
      const std::size_t step = min_events ? std::max<std::size_t>(end - page.offset, 1) : page.limit;
      if (end < order.size()) result["next_page_id"] = page_id(end, page.asc, step);
      if (page.offset > 0) result["previous_page_id"] = page_id(page.offset > step ? page.offset - step : 0, page.asc, step);
    } else if (action == "get_chat") {
      const auto c = ctx.customer();
      const auto v = ctx.chat(p, c);
      const auto tid = ctx.thread(p, v, false);
      std::size_t index = v.threads.size() - (v.threads.empty() ? 0 : 1);
      for (std::size_t i = 0; i < v.threads.size(); ++i) {
        if (v.threads[i].id == tid) index = i;
      }
      const auto evs = index < v.threads.size() ? ctx.reader_.events(v.chat.id, v.threads[index].id)
                                                 : std::vector<model::Message>{};
      result = chat_with_thread_json(v, index, evs, &c);
    } else if (action == "start_chat" || action == "activate_chat") {
      const auto c = ctx.customer();
      const bool start = action == "start_chat";
      const json* chat = object_of(p, "chat", !start);
      const json empty = json::object();
      if (!chat) chat = &empty;
      const auto continuous = bool_of(p, "continuous");
      std::optional<std::int64_t> group;
      if (const json* access = object_of(*chat, "access")) {
        if (const json* ids = array_of(*access, "group_ids")) {
          if (ids->size() != 1 || !(*ids)[0].is_number_integer()) invalid("`access.group_ids` holds one group id");
          group = (*ids)[0].get<std::int64_t>();
        }
      }
      if (start) {
        if (const json* users = array_of(*chat, "users")) {
          if (users->size() > 1) invalid("only one user (the customer) may be given");
          for (const auto& u : *users) {
            if (!u.is_object() || (member(u, "id") && string_of(u, "id", false) != c.id) ||
                (member(u, "type") && string_of(u, "type", false) != "customer")) {
              invalid("`chat.users` may only name the customer starting the chat");
            }
          }
        }
      }
      const json* props = object_of(*chat, "properties");
      if (props) check_properties(*props);
      const json* thread = object_of(*chat, "thread");
      const json* thread_props = thread ? object_of(*thread, "properties") : nullptr;
      if (thread_props) check_properties(*thread_props);
      std::vector<engine::NewMessage> initial;
      if (const json* evs = thread ? array_of(*thread, "events") : nullptr) {
        if (evs->size() > kMaxInitialEvents) invalid("at most 100 initial events");
        for (const auto& ev : *evs) {
          if (!ev.is_object()) invalid("events are objects");
          initial.push_back(new_event(ev, c));
          initial.back().initial = true;
        }
      }
      // One chat more than chatd_active_chats_per_customer would be active: refused, after the
      // request's other checks (the action's savepoint takes back what it wrote). Chats the
      // customer was removed from do not count: it could not deactivate them.
      const auto check_active_chats = [&] {
        if (active_chats_limit_ == 0) return;
        std::size_t open = 0;
        for (const auto status : {model::ChatStatus::request, model::ChatStatus::active}) {
          store::ChatFilter f;
          f.chatter_id = c.id;
          f.chatter_type = chatter_type_of(c);
          f.chatter_active = model::ChatterActive::active;
          f.status = status;
          f.limit = active_chats_limit_ - open;
          open += store_.list_chat_ids(f).size();
          if (open >= active_chats_limit_) {
            throw RtmError(ErrorType::limit_reached, "The customer already has " + std::to_string(open) +
                                                         " active chats, as many as allowed");
          }
        }
      };
      model::ChatId chat_id = 0;
      if (start) {
        const auto channel = ctx.channel(group.value_or(session.group), c);
        if (!continuous.value_or(false) && !ctx.channel_online(channel)) throw RtmError(ErrorType::groups_offline);
        check_active_chats();
        engine::NewChat n;
        n.requester_id = c.id;
        n.requester_name = c.name.empty() ? c.id : c.name;
        n.requester_type = chatter_type_of(c);
        n.channel = std::to_string(channel);
        chat_id = ctx.chats_.add_chat(n, false).id;
        engine::ParticipantSpec spec;
        spec.chatter_id = c.id;
        spec.chatter_name = n.requester_name;
        spec.chatter_type = n.requester_type;
        ctx.chats_.add_participant(chat_id, spec, false);
        if (continuous.value_or(false)) ctx.chats_.set_flag(chat_id, kContinuousFlag, "1", c.id, false);
      } else {
        const auto v = ctx.chat(*chat, c, "id");
        if (v.active()) throw RtmError(ErrorType::not_allowed, "The chat is already active");
        chat_id = v.chat.id;
        if (group) {
          const auto channel = ctx.channel(*group, c);
          if (channel != v.chat.channel_id) ctx.chats_.move_chat(chat_id, std::to_string(channel), false);
        }
        // The chat's mode, as start_chat or an earlier activate_chat set it, unless given now.
        store::FlagFilter mode;
        mode.chat_id = chat_id;
        mode.key = std::string(kContinuousFlag);
        mode.user = c.id;
        const auto flags = ctx.chats_.flags(mode);
        const bool was_continuous = std::any_of(flags.begin(), flags.end(), [](const auto& f) { return f.value == "1"; });
        if (!continuous.value_or(was_continuous) && !ctx.channel_online(ctx.chats_.chat(chat_id).channel_id)) {
          throw RtmError(ErrorType::groups_offline);
        }
        if (continuous && *continuous != was_continuous) {
          ctx.chats_.set_flag(chat_id, kContinuousFlag, *continuous ? "1" : "0", c.id, false);
        }
        check_active_chats();
        ctx.chats_.set_status(chat_id, model::ChatStatus::request, false);
        // A customer who left comes back with the chat.
        engine::ParticipantChange back;
        back.active = model::ChatterActive::active;
        ctx.chats_.update_participant(chat_id, chatter_type_of(c), c.id, back, false);
      }
      const auto threads = store_.list_threads(chat_id);
      const auto thread_id = threads.back().id;
      // incoming_chat carries them: no properties push of their own.
      if (props && !props->empty()) ctx.chats_.update_properties({chat_id, 0, 0}, dump(*props), false, true);
      if (thread_props && !thread_props->empty()) {
        ctx.chats_.update_properties({chat_id, thread_id, 0}, dump(*thread_props), false, true);
      }
      json event_ids = json::array();
      for (const auto& n : initial) {
        const auto m = ctx.chats_.add_message(chat_id, n, false);
        event_ids.push_back(model::rtm_event_id(m.thread_id, m.id));
      }
      if (start) result["chat_id"] = model::rtm_chat_id(chat_id);
      result["thread_id"] = model::rtm_thread_id(thread_id);
      if (!initial.empty()) result["event_ids"] = event_ids;
    } else if (action == "deactivate_chat") {
      const auto c = ctx.customer();
      const auto v = ctx.chat(p, c);
      if (!v.active()) throw RtmError(ErrorType::chat_inactive);
      engine::NewMessage closing;
      closing.chatter_id = c.id;
      closing.chatter_type = chatter_type_of(c);
      closing.system_generated = true;
      closing.rtm_limits = true;
      closing.text = (c.name.empty() ? std::string("Customer") : c.name) + " closed the chat.";
      closing.payload = dump({{"system_message_type", "manual_archived_customer"}});
      ctx.chats_.add_message(v.chat.id, closing, false);
      ctx.chats_.set_status(v.chat.id, model::ChatStatus::closed, false);
    } else if (action == "send_event") {
      const auto c = ctx.customer();
      string_of(p, "chat_id", true, 64);
      const json* ev = object_of(p, "event", true);
      auto n = new_event(*ev, c);
      n.seen_by_sender = true;  // the sender has seen the chat up to its own event
      const bool attach = bool_of(p, "attach_to_last_thread").value_or(false);
      const auto v = ctx.chat(p, c);
      if (!v.active() && !attach) throw RtmError(ErrorType::chat_inactive);
      const auto m = ctx.chats_.add_message(v.chat.id, n, false);
      result["event_id"] = model::rtm_event_id(m.thread_id, m.id);
    } else if (action == "send_rich_message_postback") {
      const auto c = ctx.customer();
      const auto v = ctx.chat(p, c);
      const auto tid = ctx.thread(p, v, true);
      auto m = ctx.event(p, tid);
      const json* pb = object_of(p, "postback", true);
      const std::string id = string_of(*pb, "id", true, 256);
      const auto toggled = bool_of(*pb, "toggled");
      if (!toggled) invalid("`postback.toggled` is required");
      if (m.type != model::EventType::rich_message) throw RtmError(ErrorType::not_found, "Not a rich message");
      json fields = properties_json(m.payload);
      bool found = false;
      if (fields.contains("elements") && fields["elements"].is_array()) {
        for (auto& el : fields["elements"]) {
          if (!el.is_object() || !el.contains("buttons") || !el["buttons"].is_array()) continue;
          for (auto& b : el["buttons"]) {
            const auto pid = b.is_object() ? b.find("postback_id") : b.end();
            if (!b.is_object() || pid == b.end() || !pid->is_string() || *pid != id) continue;
            found = true;
            auto users = b.contains("user_ids") && b["user_ids"].is_array() ? b["user_ids"] : json::array();
            json kept = json::array();
            for (const auto& u : users) {
              if (u != c.id) kept.push_back(u);
            }
            if (*toggled) kept.push_back(c.id);
            b["user_ids"] = kept;
          }
        }
      }
      if (!found) throw RtmError(ErrorType::not_found, "No button with postback id `" + id + "`");
      m.payload = dump(fields);
      ctx.chats_.update_event(m);
      const bool thread_active = std::any_of(v.threads.begin(), v.threads.end(),
                                             [&](const auto& t) { return t.id == tid && t.active; });
      if (thread_active) {
        ctx.chats_.signal(v.chat.id, "ChatPostback",
                          dump({{"user_id", c.id},
                                {"thread_id", tid},
                                {"message_id", m.id},
                                {"postback", {{"id", id}, {"toggled", *toggled}}}}));
      }
    } else if (action == "send_sneak_peek") {
      const auto c = ctx.customer();
      const auto v = ctx.chat(p, c);
      const std::string text = string_of(p, "sneak_peek_text", true, kMaxTextBytes);
      ctx.require_present(v, c);
      if (!v.active()) throw RtmError(ErrorType::chat_inactive);
      ctx.chats_.signal(v.chat.id, "ChatSneakPeek",
                        dump({{"author_id", c.id}, {"thread_id", v.threads.back().id}, {"text", text}}));
    } else if (action.find("_properties") != std::string::npos) {
      const auto c = ctx.customer();
      const auto v = ctx.chat(p, c);
      ctx.require_present(v, c);
      const bool remove = action.rfind("delete_", 0) == 0;
      const json* props = object_of(p, "properties", true);
      if (remove) {
        check_property_names(*props);
      } else {
        check_properties(*props);
      }
      if (props->empty()) invalid("`properties` must not be empty");
      engine::PropertyTarget target{v.chat.id, 0, 0};
      if (action.find("thread") != std::string::npos || action.find("event") != std::string::npos) {
        target.thread = ctx.thread(p, v, true);
      }
      if (action.find("event") != std::string::npos) target.message = ctx.event(p, target.thread).id;
      ctx.chats_.update_properties(target, dump(*props), remove);
    } else if (action == "update_customer" || action == "set_customer_session_fields") {
      const auto c = ctx.customer();
      engine::CustomerFields fields;
      json profile = json::object();
      if (action == "update_customer") {
        if (!member(p, "name") && !member(p, "email") && !member(p, "avatar") && !member(p, "session_fields")) {
          invalid("give at least one of name, email, avatar, session_fields");
        }
        if (member(p, "name")) fields.name = string_of(p, "name", false, 200);
        if (member(p, "email")) fields.email = string_of(p, "email", false, 254);
        if (member(p, "avatar")) profile["avatar"] = string_of(p, "avatar", false, 2048);
      }
      if (const json* sf = array_of(p, "session_fields", action == "set_customer_session_fields")) {
        check_session_fields(*sf);
        profile["session_fields"] = *sf;
      }
      if (!profile.empty()) fields.profile_patch = dump(profile);
      ctx.people_.update_customer(c.id, fields, false);
    } else if (action == "update_customer_page") {
      const auto c = ctx.customer();
      const std::string url = string_of(p, "url", true, 2048);
      if (!is_http_url(url)) invalid("`url` must be an http or https URL");
      engine::CustomerFields fields;
      fields.profile_patch =
          dump({{"page", {{"url", url}, {"title", string_of(p, "title", false, 2048)}, {"timestamp", clock_.now() / 1'000'000}}}});
      ctx.people_.update_customer(c.id, fields, false);
      ctx.people_.count_customer(c.id, "page_views_count");
    } else if (action == "get_customer") {
      result = customer_json(ctx.customer());
    } else if (action == "list_group_statuses") {
      const auto c = ctx.customer();
      const auto all = bool_of(p, "all");
      const json* ids = array_of(p, "group_ids");
      if (!all.value_or(false) && !ids) invalid("give `all` or `group_ids`");
      const auto channels = ctx.open_channels(c);
      // The groups listed, when `all` is not set: an empty list asks for none.
      const bool only_wanted = ids && !all.value_or(false);
      std::set<std::int64_t> wanted;
      if (only_wanted) {
        for (const auto& g : *ids) {
          if (!g.is_number_integer()) invalid("`group_ids` holds integers");
          wanted.insert(g.get<std::int64_t>());
        }
      }
      const auto available = ctx.available();
      const auto online_agents = ctx.people_.online_agents(std::nullopt);
      json statuses = json::object();
      for (const auto& ch : channels) {
        // The default channel is group 0, and its own id names it too (as in start_chat): it is
        // answered under the id it was asked by.
        auto group = ctx.reader_.group_of(ch.id);
        if (only_wanted && !wanted.count(group)) {
          if (!wanted.count(ch.id)) continue;
          group = ch.id;
        }
        bool online = false;
        for (const auto& [login, chs] : available) {
          online = online || std::find(chs.begin(), chs.end(), ch.id) != chs.end();
        }
        const bool any_agent = std::any_of(online_agents.begin(), online_agents.end(), [&](const auto& a) {
          return std::binary_search(a.groups.begin(), a.groups.end(), ch.group);
        });
        const char* status = online ? "online" : any_agent ? "online_for_queue" : "offline";
        statuses[std::to_string(group)] = status;
        if (group != ch.id && wanted.count(ch.id)) statuses[std::to_string(ch.id)] = status;
      }
      result["groups_status"] = statuses;
    } else if (action == "get_form") {
      const auto c = ctx.customer();
      const auto g = int_of(p, "group_id", 0, INT32_MAX);
      if (!g) invalid("`group_id` is required");
      const std::string type = string_of(p, "type", true, 16);
      if (type != "prechat" && type != "postchat") invalid("`type` is prechat or postchat");
      ctx.channel(*g, c);
      result["enabled"] = false;  // chatctl has no survey forms to configure
    } else if (action == "get_predicted_agent") {
      const auto c = ctx.customer();
      std::int64_t group = session.group;
      if (auto g = int_of(p, "group_id", 0, INT32_MAX)) group = *g;
      const auto channel = ctx.channel(group, c);
      const auto ch = store_.find_channel(channel);
      std::optional<std::string> login;
      for (const auto& [l, chs] : ctx.available()) {
        if (!login && std::find(chs.begin(), chs.end(), channel) != chs.end()) login = l;
      }
      if (!login) {
        throw RtmError(ctx.people_.online_agents(ch->group).empty() ? ErrorType::group_offline
                                                                     : ErrorType::group_unavailable);
      }
      const auto a = store_.find_agent(*login);
      result = {{"id", a->login}, {"name", a->name}, {"is_bot", false}, {"job_title", "Support Agent"}, {"type", "agent"}};
    } else if (action == "get_url_info") {
      const std::string url = string_of(p, "url", true, 2048);
      if (!is_http_url(url)) invalid("`url` must be an http or https URL");
      result["url"] = url;  // chatd does not fetch pages for clients (no server-side requests on their behalf)
    } else if (action == "mark_events_as_seen") {
      const auto c = ctx.customer();
      const auto v = ctx.chat(p, c);
      // A date-time: the date alone (which the shell's options take as its midnight) is not one.
      const std::string seen = string_of(p, "seen_up_to", true, 64);
      const auto t = seen.size() > 10 ? core::parse_rfc3339(seen) : std::nullopt;
      if (!t) invalid("`seen_up_to` must be an RFC 3339 date-time");
      ctx.chats_.mark_seen(v.chat.id, chatter_type_of(c), c.id, std::min(*t, clock_.now()));
    } else if (action == "accept_greeting" || action == "cancel_greeting") {
      const auto c = ctx.customer();
      const std::string unique_id = string_of(p, "unique_id", true, 128);
      std::optional<std::int64_t> greeting_id;
      if (action == "accept_greeting") {
        greeting_id = int_of(p, "greeting_id", 0, INT64_MAX);
        if (!greeting_id) invalid("`greeting_id` is required");
      }
      try {
        ctx.people_.settle_greeting(c.id, unique_id, greeting_id,
                                    action == "accept_greeting" ? model::GreetingState::accepted
                                                                : model::GreetingState::canceled);
      } catch (const Error& e) {
        throw RtmError(ErrorType::greeting_not_found, e.what());
      }
    }
    tx.commit();
    committed = true;
  } catch (const Error& e) {
    throw translate(e);
  }
  return out;
}

}  // namespace chatctl::rtm
