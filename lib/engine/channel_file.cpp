#include "engine/channel_file.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "core/text.hpp"

namespace chatctl::engine {
namespace {

using core::Error;
using core::ErrorKind;

std::string pos(const std::string& source, const YAML::Mark& m) {
  if (m.is_null()) return source;
  return source + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

[[noreturn]] void fail(const std::string& source, const YAML::Node& node, const std::string& msg) {
  throw Error(ErrorKind::data, pos(source, node.Mark()) + ": " + msg);
}

std::string scalar(const std::string& source, const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) fail(source, node, field + " must be a string");
  return node.Scalar();
}

bool boolean(const std::string& source, const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) fail(source, node, field + " must be true or false");
  const std::string v = core::to_lower(node.Scalar());
  if (v == "true" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "no" || v == "off") return false;
  fail(source, node, field + " must be true or false, not " + core::quoted(node.Scalar()));
}

constexpr const char* kFields = "name, group, customer_users, public_users, validity, comment";

ChannelSpec parse_entry(const std::string& source, const YAML::Node& entry) {
  if (!entry.IsMap()) fail(source, entry, "each channel must be a mapping with at least a name");
  ChannelSpec spec;
  spec.source = pos(source, entry.Mark());
  bool have_name = false;
  std::set<std::string> seen;
  for (const auto& kv : entry) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    if (!seen.insert(key).second) fail(source, kv.first, "duplicate field " + core::quoted(key));
    const YAML::Node& v = kv.second;
    if (key == "name") {
      if (v.IsNull()) fail(source, v, "name must not be empty");
      spec.name = scalar(source, v, key);
      have_name = true;
    } else if (key == "group") {
      spec.fields.group = scalar(source, v, key);
    } else if (key == "customer_users") {
      spec.fields.customer_users = boolean(source, v, key);
    } else if (key == "public_users") {
      spec.fields.public_users = boolean(source, v, key);
    } else if (key == "validity") {
      const std::string s = scalar(source, v, key);
      const auto validity = model::parse_validity(s);
      if (!validity) fail(source, v, "validity must be valid, invalid or invalid-temporarily, not " + core::quoted(s));
      spec.fields.validity = validity;
    } else if (key == "comment") {
      spec.fields.comment = v.IsNull() ? std::string() : scalar(source, v, key);
    } else {
      fail(source, kv.first, "unknown field " + core::quoted(key) + " (expected " + kFields + ")");
    }
  }
  if (!have_name) fail(source, entry, "channel has no name");
  ChannelFields with_name = spec.fields;
  with_name.name = spec.name;
  validate_channel_fields(with_name, false, spec.source);
  return spec;
}

// Channel files are small; anything larger than this is a mistake (-f /dev/zero), not a file.
constexpr std::size_t kMaxFileSize = 64 * 1024 * 1024;

std::string read_all(std::istream& in, const std::string& name) {
  std::string out;
  char buf[65536];
  try {
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      out.append(buf, static_cast<std::size_t>(in.gcount()));
      if (out.size() > kMaxFileSize) throw Error(ErrorKind::data, name + ": larger than 64 MiB; not a channel file");
    }
  } catch (const std::ios_base::failure&) {
    throw Error(ErrorKind::io, "cannot read " + name);
  }
  if (in.bad()) throw Error(ErrorKind::io, "cannot read " + name);
  return out;
}

}  // namespace

std::vector<ChannelSpec> parse_channel_yaml(const std::string& text, const std::string& source) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    throw Error(ErrorKind::data, pos(source, e.mark) + ": malformed YAML: " + e.msg);
  }
  std::vector<ChannelSpec> specs;
  for (const auto& doc : docs) {
    if (doc.IsNull()) continue;
    if (!doc.IsMap()) fail(source, doc, "expected a mapping with a 'channels' list");
    for (const auto& kv : doc) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      if (key != "channels") fail(source, kv.first, "unknown key " + core::quoted(key) + " (expected 'channels')");
      const YAML::Node& list = kv.second;
      if (list.IsNull()) continue;
      if (!list.IsSequence()) fail(source, list, "'channels' must be a list");
      for (const auto& entry : list) specs.push_back(parse_entry(source, entry));
    }
  }
  return specs;
}

std::vector<ChannelSpec> load_channel_files(const std::vector<std::string>& paths, std::istream& stdin_stream) {
  namespace fs = std::filesystem;
  std::vector<ChannelSpec> all;
  const auto load_file = [&](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw Error(ErrorKind::no_input, "cannot read " + p.string());
    auto specs = parse_channel_yaml(read_all(in, p.string()), p.string());
    all.insert(all.end(), specs.begin(), specs.end());
  };
  for (const auto& path : paths) {
    if (path == "-") {
      auto specs = parse_channel_yaml(read_all(stdin_stream, "<stdin>"), "<stdin>");
      all.insert(all.end(), specs.begin(), specs.end());
      continue;
    }
    std::error_code ec;
    const fs::path p(path);
    if (!fs::exists(p, ec)) throw Error(ErrorKind::no_input, path + ": no such file or folder");
    if (ec) throw Error(ErrorKind::no_input, path + ": " + ec.message());
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(p, ec)) {
        const auto ext = entry.path().extension();
        std::error_code type_ec;
        if ((ext == ".yaml" || ext == ".yml") && entry.is_regular_file(type_ec)) files.push_back(entry.path());
        if (type_ec) throw Error(ErrorKind::no_input, entry.path().string() + ": " + type_ec.message());
      }
      if (ec) throw Error(ErrorKind::no_input, "cannot list " + path + ": " + ec.message());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) load_file(f);
    } else {
      load_file(p);
    }
  }
  return all;
}

}  // namespace chatctl::engine
