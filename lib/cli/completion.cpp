#include "cli/completion.hpp"

#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "core/text.hpp"

namespace chatctl::cli {
namespace {

std::vector<std::string> choices_of(const std::string& type_name) {
  std::vector<std::string> out;
  const auto open = type_name.find(":{");
  if (open == std::string::npos) return out;
  const auto close = type_name.find('}', open);
  std::stringstream ss(type_name.substr(open + 2, close - open - 2));
  std::string item;
  while (std::getline(ss, item, ',')) out.emplace_back(core::trim(item));
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// Data every shell needs, keyed the same way: path -> words, option -> choices.
struct Tables {
  std::map<std::string, std::vector<std::string>> subcommands;
  std::map<std::string, std::vector<std::string>> options;
  std::set<std::string> valued;
  std::set<std::string> files;
  std::map<std::string, std::vector<std::string>> choices;
};

Tables tables(const std::vector<CommandInfo>& tree) {
  Tables t;
  std::vector<std::string> global;
  for (const auto& cmd : tree) {
    std::vector<std::string> opts = cmd.path.empty() ? std::vector<std::string>{} : global;
    for (const auto& o : cmd.options) {
      for (const auto& n : o.names) {
        if (cmd.path.empty()) global.push_back(n);
        opts.push_back(n);
        if (o.takes_value) t.valued.insert(n);
        if (o.file) t.files.insert(n);
        if (!o.choices.empty()) t.choices[n] = o.choices;
      }
    }
    // Fixed positional values complete like subcommands do.
    t.subcommands[cmd.path] = cmd.subcommands;
    t.subcommands[cmd.path].insert(t.subcommands[cmd.path].end(), cmd.values.begin(), cmd.values.end());
    t.options[cmd.path] = opts;
  }
  return t;
}

// case/switch bodies shared by bash and zsh (both read POSIX case syntax).
std::string posix_functions(const Tables& t) {
  std::ostringstream out;
  out << "_chatctl_subcommands() {\n  case \"$1\" in\n";
  for (const auto& [path, subs] : t.subcommands) {
    if (!subs.empty()) out << "    \"" << path << "\") echo \"" << join(subs) << "\" ;;\n";
  }
  out << "  esac\n}\n\n_chatctl_options() {\n  case \"$1\" in\n";
  for (const auto& [path, opts] : t.options) out << "    \"" << path << "\") echo \"" << join(opts) << "\" ;;\n";
  out << "  esac\n}\n\n_chatctl_takes_value() {\n  case \"$1\" in\n";
  if (!t.valued.empty()) out << "    " << join({t.valued.begin(), t.valued.end()}, "|") << ") return 0 ;;\n";
  out << "  esac\n  return 1\n}\n\n_chatctl_choices() {\n  case \"$1\" in\n";
  for (const auto& [opt, c] : t.choices) out << "    " << opt << ") echo \"" << join(c) << "\" ;;\n";
  out << "  esac\n}\n\n_chatctl_is_file() {\n  case \"$1\" in\n";
  if (!t.files.empty()) out << "    " << join({t.files.begin(), t.files.end()}, "|") << ") return 0 ;;\n";
  out << "  esac\n  return 1\n}\n\n";
  return out.str();
}

}  // namespace

std::vector<CommandInfo> command_tree(const CLI::App& app) {
  std::vector<CommandInfo> out;
  std::function<void(const CLI::App&, const std::string&)> walk = [&](const CLI::App& a, const std::string& path) {
    CommandInfo info;
    info.path = path;
    info.description = a.get_description();
    for (const CLI::Option* o : a.get_options()) {
      if (o->get_positional()) {
        for (auto& c : choices_of(o->get_type_name())) info.values.push_back(std::move(c));
        continue;
      }
      if (o->get_group().empty()) continue;  // hidden
      OptionInfo oi;
      for (const auto& l : o->get_lnames()) oi.names.push_back("--" + l);
      for (const auto& s : o->get_snames()) oi.names.push_back("-" + s);
      oi.takes_value = o->get_expected_max() != 0;
      const std::string type = o->get_type_name();
      oi.file = type.rfind("FILE", 0) == 0 || type.rfind("PATH", 0) == 0;
      oi.choices = choices_of(type);
      oi.description = o->get_description();
      info.options.push_back(std::move(oi));
    }
    const auto subs = a.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); });
    for (const CLI::App* s : subs) info.subcommands.push_back(s->get_name());
    out.push_back(std::move(info));
    for (const CLI::App* s : subs) walk(*s, path.empty() ? s->get_name() : path + " " + s->get_name());
  };
  walk(app, "");
  return out;
}

nlohmann::ordered_json tree_json(const std::vector<CommandInfo>& tree) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& cmd : tree) {
    nlohmann::ordered_json options = nlohmann::ordered_json::array();
    for (const auto& o : cmd.options) {
      options.push_back({{"names", o.names},
                         {"takes_value", o.takes_value},
                         {"file", o.file},
                         {"choices", o.choices},
                         {"description", o.description}});
    }
    out.push_back({{"path", cmd.path},
                   {"description", cmd.description},
                   {"subcommands", cmd.subcommands},
                   {"values", cmd.values},
                   {"options", options}});
  }
  return out;
}

std::string bash_completion(const std::vector<CommandInfo>& tree) {
  std::ostringstream out;
  out << "# bash completion for chatctl. Generated by `chatctl completion bash`; do not edit.\n\n";
  out << posix_functions(tables(tree));
  out << R"sh(_chatctl() {
  local cur prev cmdpath="" i w s skip=0
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$w" in
      --*=*) continue ;;
      -*) _chatctl_takes_value "$w" && skip=1; continue ;;
    esac
    for s in $(_chatctl_subcommands "$cmdpath"); do
      if [[ "$s" == "$w" ]]; then cmdpath="${cmdpath:+$cmdpath }$w"; break; fi
    done
  done
  if _chatctl_takes_value "$prev"; then
    local choices
    choices="$(_chatctl_choices "$prev")"
    if [[ -n "$choices" ]]; then
      mapfile -t COMPREPLY < <(compgen -W "$choices" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_chatctl_options "$cmdpath")" -- "$cur")
  else
    local subs
    subs="$(_chatctl_subcommands "$cmdpath")"
    if [[ -n "$subs" ]]; then
      mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
  fi
}
complete -F _chatctl chatctl
)sh";
  return out.str();
}

std::string zsh_completion(const std::vector<CommandInfo>& tree) {
  std::ostringstream out;
  out << "#compdef chatctl\n# zsh completion for chatctl. Generated by `chatctl completion zsh`; do not edit.\n\n";
  out << posix_functions(tables(tree));
  out << R"sh(_chatctl() {
  local cmdpath="" i w s skip=0 prev choices subs
  for ((i = 2; i < CURRENT; i++)); do
    w="${words[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$w" in
      --*=*) continue ;;
      -*) _chatctl_takes_value "$w" && skip=1; continue ;;
    esac
    for s in ${=$(_chatctl_subcommands "$cmdpath")}; do
      if [[ "$s" == "$w" ]]; then cmdpath="${cmdpath:+$cmdpath }$w"; break; fi
    done
  done
  prev="${words[CURRENT-1]}"
  if _chatctl_takes_value "$prev"; then
    choices="$(_chatctl_choices "$prev")"
    if [[ -n "$choices" ]]; then compadd -- ${=choices}; else _files; fi
    return
  fi
  if [[ "${words[CURRENT]}" == -* ]]; then
    compadd -- ${=$(_chatctl_options "$cmdpath")}
  else
    subs="$(_chatctl_subcommands "$cmdpath")"
    if [[ -n "$subs" ]]; then compadd -- ${=subs}; else _files; fi
  fi
}

if [[ "$funcstack[1]" == "_chatctl" ]]; then
  _chatctl "$@"
else
  compdef _chatctl chatctl
fi
)sh";
  return out.str();
}

std::string fish_completion(const std::vector<CommandInfo>& tree) {
  const Tables t = tables(tree);
  std::ostringstream out;
  out << "# fish completion for chatctl. Generated by `chatctl completion fish`; do not edit.\n\n";
  out << "function __chatctl_subcommands\n  switch \"$argv[1]\"\n";
  for (const auto& [path, subs] : t.subcommands) {
    if (!subs.empty()) out << "    case '" << path << "'\n      echo " << join(subs, "\n      echo ") << "\n";
  }
  out << "  end\nend\n\nfunction __chatctl_options\n  switch \"$argv[1]\"\n";
  for (const auto& [path, opts] : t.options) {
    if (!opts.empty()) out << "    case '" << path << "'\n      echo -- " << join(opts, "\n      echo -- ") << "\n";
  }
  out << "  end\nend\n\nfunction __chatctl_choices\n  switch \"$argv[1]\"\n";
  for (const auto& [opt, c] : t.choices) out << "    case '" << opt << "'\n      echo " << join(c, "\n      echo ") << "\n";
  out << "  end\nend\n\n";
  out << "set -g __chatctl_valued " << join({t.valued.begin(), t.valued.end()}) << "\n";
  out << "set -g __chatctl_files " << join({t.files.begin(), t.files.end()}) << "\n\n";
  out << R"sh(function __chatctl_complete
  set -l tokens (commandline -opc)
  set -l cur (commandline -ct)
  set -l cmdpath ''
  set -l skip 0
  for w in $tokens[2..-1]
    if test $skip = 1
      set skip 0
      continue
    end
    if string match -q -- '-*' $w
      if contains -- $w $__chatctl_valued
        set skip 1
      end
      continue
    end
    if contains -- $w (__chatctl_subcommands "$cmdpath")
      set cmdpath (string trim -- "$cmdpath $w")
    end
  end
  set -l prev $tokens[-1]
  if contains -- $prev $__chatctl_valued
    set -l choices (__chatctl_choices $prev)
    if test (count $choices) -gt 0
      printf '%s\n' $choices
    else
      __fish_complete_path $cur
    end
    return
  end
  if string match -q -- '-*' $cur
    __chatctl_options "$cmdpath"
  else
    set -l subs (__chatctl_subcommands "$cmdpath")
    if test (count $subs) -gt 0
      printf '%s\n' $subs
    else
      __fish_complete_path $cur
    end
  end
end

complete -c chatctl -f -a '(__chatctl_complete)'
)sh";
  return out.str();
}

}  // namespace chatctl::cli
