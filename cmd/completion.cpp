// chatctl completion: bash, zsh, fish scripts generated from the command tree.
#include "cli/completion.hpp"
#include "commands.hpp"

namespace chatctl::cmd {

void register_completion(CLI::App& app, Context& ctx) {
  auto shell = std::make_shared<std::string>();
  app.add_option("shell", *shell, "Shell to complete for (json: the command tree, for tools)")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish", "json"}));
  app.callback([&ctx, shell, &app] {
    const CLI::App* root = &app;
    while (root->get_parent() != nullptr) root = root->get_parent();
    const auto tree = cli::command_tree(*root);
    if (*shell == "bash") ctx.out() << cli::bash_completion(tree);
    if (*shell == "zsh") ctx.out() << cli::zsh_completion(tree);
    if (*shell == "fish") ctx.out() << cli::fish_completion(tree);
    if (*shell == "json") ctx.out() << cli::tree_json(tree).dump(2) << '\n';
  });
}

}  // namespace chatctl::cmd
