#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace chatctl::transcript {

// A protocol fixture: one RTM scenario to replay against chatd (schemas/json/fixture.schema.json,
// chatctl-replay(1)). Setup creates channels, agents and customers (each customer gets a token,
// referred to as ${token.<customer id>}); steps run in order: a step sends one request (or a raw
// frame) on a connection, or takes an agent action from the shell's side, and waits until every
// message it expects has arrived on its connection.
//
// Expected messages are JSON patterns: objects match when every member given matches (members not
// given are not compared), arrays element by element, and these strings match by rule:
//   "$any"                     anything (the member must be present)
//   "$string" "$number" "$boolean" "$object" "$array"   a value of that type
//   "$regex:<ECMAScript regex>"  a string the expression matches as a whole
//   "$capture:<name>"          anything; the value is kept as ${<name>} for later steps
// "${name}" anywhere in a step (send, agent action, expectation) is replaced by a captured value:
// a whole string "${name}" by the value itself, inside a longer string by its text.
struct FixtureChannel {
  std::string name;
  std::string group{"users"};
  bool customer_users{true};
  bool public_users{false};
};

struct FixtureAgent {
  std::string login;
  std::string name;
  std::vector<std::string> groups{"users"};
  std::string availability{"online"};
};

struct FixtureCustomer {
  std::string id;
  std::string name;
  std::string email;
  std::string kind{"customer"};
};

struct Expectation {
  std::string connection;
  nlohmann::json pattern;
};

struct Step {
  std::size_t number{0};   // 1-based
  std::string connection;  // where `send` goes ("c1" unless given)
  std::optional<nlohmann::json> send{};   // a request object
  std::optional<std::string> send_raw{};  // a frame sent as it is (for malformed input)
  std::optional<nlohmann::json> agent{};  // {"do": join|message|typing|close|transfer|remove|greet|availability|ban|revoke, ...}
  bool close{false};                      // close the connection
  std::vector<Expectation> expect;
  std::optional<std::chrono::milliseconds> timeout{};
};

struct Fixture {
  std::string file;
  std::string name;
  std::chrono::milliseconds timeout{5000};  // per step, unless a step says otherwise
  std::vector<FixtureChannel> channels;
  std::vector<FixtureAgent> agents;
  std::vector<FixtureCustomer> customers;
  std::vector<Step> steps;
};

// Reads a fixture from JSON or YAML text. Throws core::Error(data) naming `file` (and the step)
// for a syntax error, a member of the wrong type or unknown, an unknown action or agent action,
// and a ${name} used before any step captures it.
Fixture parse_fixture(const std::string& text, const std::string& file);
Fixture load_fixture(const std::string& path);
// The fixture files under each path (a file, or a folder searched for *.json, *.yaml, *.yml),
// sorted. Error(no_input) for a missing path.
std::vector<std::string> fixture_files(const std::vector<std::string>& paths);

// One file of load_fixtures: its fixture, or what makes it malformed (load_fixture's
// Error(data) message).
struct LoadedFixture {
  std::optional<Fixture> fixture{};
  std::string problem{};
};
// load_fixture for each of `files`, up to `jobs` side by side; results in file order. An error
// other than a malformed fixture (a file that cannot be read) is thrown, the first in file order.
std::vector<LoadedFixture> load_fixtures(const std::vector<std::string>& files, unsigned jobs);

// Writes a fixture as JSON (what `chatd --record` and `replay --from-export` produce).
nlohmann::json fixture_json(const Fixture& fixture);

}  // namespace chatctl::transcript
