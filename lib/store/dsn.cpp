#include "store/dsn.hpp"

#include <vector>

#include "core/error.hpp"
#include "core/text.hpp"

namespace chatctl::store {
namespace {

using core::Error;
using core::ErrorKind;

Error bad_uri(std::string_view uri, const std::string& why) {
  return Error(ErrorKind::config, "malformed database address " + core::redact_dsn(uri) + ": " + why);
}

std::string percent_decode(std::string_view s, std::string_view uri) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (i + 2 >= s.size()) throw bad_uri(uri, "truncated percent-escape");
    const int hi = hex(s[i + 1]);
    const int lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) throw bad_uri(uri, "invalid percent-escape");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// libpq keyword/value quoting: single quotes, with \ and ' escaped.
std::string quote_value(std::string_view v) {
  std::string out = "'";
  for (const char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

bool valid_keyword(std::string_view k) {
  if (k.empty()) return false;
  for (const char c : k) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

std::string postgres_uri_to_conninfo(std::string_view uri) {
  std::string_view rest = uri;
  if (rest.starts_with("postgresql://")) {
    rest.remove_prefix(13);
  } else if (rest.starts_with("postgres://")) {
    rest.remove_prefix(11);
  } else {
    throw bad_uri(uri, "expected postgresql://");
  }
  if (rest.find('#') != std::string_view::npos) throw bad_uri(uri, "fragments are not allowed");

  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  std::string_view userinfo;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }

  std::vector<std::pair<std::string, std::string>> kv;
  if (!userinfo.empty()) {
    const auto colon = userinfo.find(':');
    const std::string user = percent_decode(userinfo.substr(0, colon), uri);
    if (!user.empty()) kv.emplace_back("user", user);
    if (colon != std::string_view::npos) kv.emplace_back("password", percent_decode(userinfo.substr(colon + 1), uri));
  }

  // hostspec: host[:port] separated by commas; IPv6 hosts in brackets.
  if (!rest.empty()) {
    std::string hosts;
    std::string ports;
    bool any_port = false;
    std::size_t count = 0;
    while (true) {
      const auto comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      std::string_view host = item;
      std::string_view port;
      if (item.starts_with('[')) {
        const auto close = item.find(']');
        if (close == std::string_view::npos) throw bad_uri(uri, "unterminated [ in host");
        host = item.substr(1, close - 1);
        const std::string_view after = item.substr(close + 1);
        if (!after.empty()) {
          if (after.front() != ':') throw bad_uri(uri, "unexpected text after ]");
          port = after.substr(1);
        }
      } else if (const auto colon = item.rfind(':'); colon != std::string_view::npos) {
        host = item.substr(0, colon);
        port = item.substr(colon + 1);
      }
      if (!port.empty()) {
        const auto p = core::parse_int(port);
        if (!p || *p < 1 || *p > 65535) throw bad_uri(uri, "invalid port " + core::quoted(port));
        any_port = true;
      }
      hosts += (count ? "," : "") + percent_decode(host, uri);
      ports += (count ? "," : "") + std::string(port);
      ++count;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (hosts.find_first_not_of(',') != std::string::npos) kv.emplace_back("host", hosts);
    if (any_port) kv.emplace_back("port", ports);
  }

  if (!path.empty()) kv.emplace_back("dbname", percent_decode(path, uri));

  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    if (!item.empty()) {
      const auto eq = item.find('=');
      if (eq == std::string_view::npos) throw bad_uri(uri, "parameter " + core::quoted(item) + " has no value");
      std::string key = percent_decode(item.substr(0, eq), uri);
      if (!valid_keyword(key)) throw bad_uri(uri, "invalid parameter name " + core::quoted(key));
      if (key == "ssl" && item.substr(eq + 1) == "true") {  // JDBC spelling libpq also accepts
        kv.emplace_back("sslmode", "require");
      } else {
        // A parameter overrides what the authority part gave (libpq does the same).
        std::erase_if(kv, [&](const auto& p) { return p.first == key; });
        kv.emplace_back(std::move(key), percent_decode(item.substr(eq + 1), uri));
      }
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }

  std::string out;
  for (const auto& [k, v] : kv) {
    if (!out.empty()) out += ' ';
    out += k + "=" + quote_value(v);
  }
  return out;
}

DatabaseAddress parse_database_address(std::string_view address) {
  const std::string_view a = core::trim(address);
  if (a.empty()) throw Error(ErrorKind::config, "the database address is empty");
  DatabaseAddress out;
  if (a.starts_with("postgresql://") || a.starts_with("postgres://")) {
    out.backend = Backend::postgresql;
    out.conninfo = postgres_uri_to_conninfo(a);
    return out;
  }
  std::string_view path = a;
  if (path.starts_with("sqlite:")) {
    path.remove_prefix(7);
    if (path.starts_with("//")) path.remove_prefix(2);
  } else if (const auto scheme = path.find("://"); scheme != std::string_view::npos) {
    throw Error(ErrorKind::config, "unsupported database address " + core::quoted(core::redact_dsn(a)) +
                                       ": use a file path, sqlite:PATH or postgresql://...");
  }
  if (path.empty()) throw Error(ErrorKind::config, "the SQLite database path is empty");
  out.backend = Backend::sqlite;
  out.sqlite_path = std::string(path);
  return out;
}

}  // namespace chatctl::store
