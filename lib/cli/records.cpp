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
