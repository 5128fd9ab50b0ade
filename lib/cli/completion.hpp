#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace chatctl::cli {

struct OptionInfo {
  std::vector<std::string> names;    // "--output", "-o"
  bool takes_value{false};
  bool file{false};                  // its value is a path (type name FILE or PATH)
  std::vector<std::string> choices;  // from an IsMember check
  std::string description;
};

struct CommandInfo {
  std::string path;                      // "" for the root, "channel add" below it
  std::vector<std::string> subcommands;  // visible ones
  std::vector<std::string> values;       // fixed choices of its positional arguments
  std::vector<OptionInfo> options;       // own options; the root's apply everywhere
  std::string description;
};

// Every visible command of `app`, parents before children.
std::vector<CommandInfo> command_tree(const CLI::App& app);

// Shell completion scripts generated from the command tree; committed under completions/ and
// checked against the binary by the tests so they cannot drift.
std::string bash_completion(const std::vector<CommandInfo>& tree);
std::string zsh_completion(const std::vector<CommandInfo>& tree);
std::string fish_completion(const std::vector<CommandInfo>& tree);

// The tree as JSON ([{path, description, subcommands, options: [{names, takes_value, ...}]}]),
// which the tests use to check that man pages and completions cover every command.
nlohmann::ordered_json tree_json(const std::vector<CommandInfo>& tree);

}  // namespace chatctl::cli
