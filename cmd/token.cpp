// chatctl token: issue, list, revoke customers' access tokens for chatd.
#include <iostream>

#include "cli/records.hpp"
#include "commands.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "engines.hpp"

namespace chatctl::cmd {

void register_token(CLI::App& app, Context& ctx) {
  struct Options {
    std::string customer;
    std::optional<std::string> customer_filter{};
    std::optional<std::string> ttl{};
    std::int64_t id{0};
    bool dry_run{false};
  };
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("issue", "Issue an access token a customer logs in to chatd with");
    cmd->add_option("--customer", o->customer, "Customer id")->required();
    cmd->add_option("--ttl", o->ttl, "Lifetime: 90m, 36h, 7d ... (default: setting chatd_token_ttl_s)")
        ->type_name("DURATION");
    cmd->add_flag("--dry-run", o->dry_run, "Check; write nothing");
    cmd->callback([&ctx, o] {
      std::int64_t ttl_s = ctx.settings().get_int(core::keys::kChatdTokenTtl);
      if (o->ttl) {
        const auto us = core::parse_duration(*o->ttl);
        if (!us || *us < 1'000'000) throw core::Error(core::ErrorKind::usage, "--ttl: give a duration such as 90m, 36h or 7d");
        ttl_s = *us / 1'000'000;
      }
      auto p = people(ctx);
      const auto issued = p.issue_token(o->customer, ttl_s, o->dry_run);
      if (o->dry_run) {
        std::cerr << "dry run: nothing was written\n";
        return;
      }
      // The token is shown this once; only its hash is kept.
      if (ctx.output_format() == cli::OutputFormat::table || ctx.output_format() == cli::OutputFormat::name) {
        ctx.out() << issued.token << '\n';
      } else {
        auto r = cli::token_record(issued.record, ctx.clock().now());
        r["token"] = issued.token;
        cli::print_one(ctx.out(), ctx.print_options("token"), r);
      }
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("list", "List tokens (never their secrets)");
    cmd->add_option("--customer", o->customer_filter, "Only this customer's tokens");
    cmd->callback([&ctx, o] {
      auto p = people(ctx);
      std::vector<cli::Record> records;
      for (const auto& t : p.tokens(o->customer_filter)) records.push_back(cli::token_record(t, ctx.clock().now()));
      cli::print_list(ctx.out(), ctx.print_options("id"), records, cli::token_columns());
    });
  }
  {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("revoke", "Revoke a token, or every token of a customer; chatd disconnects their sessions");
    cmd->add_option("id", o->id, "Token id (from token list)")->check(CLI::PositiveNumber);
    cmd->add_option("--customer", o->customer_filter, "Revoke every token of this customer");
    cmd->add_flag("--dry-run", o->dry_run, "Show how many would be revoked; write nothing");
    cmd->callback([&ctx, o] {
      if ((o->id == 0) == !o->customer_filter) {
        throw core::Error(core::ErrorKind::usage, "give a token id or --customer");
      }
      auto p = people(ctx);
      const auto n = p.revoke_tokens(o->id, o->customer_filter, o->dry_run);
      if (ctx.output_format() == cli::OutputFormat::table) {
        ctx.out() << (o->dry_run ? "would revoke " : "revoked ") << n << (n == 1 ? " token\n" : " tokens\n");
      } else {
        cli::print_one(ctx.out(), ctx.print_options("revoked"), {{"revoked", n}, {"dry_run", o->dry_run}});
      }
    });
  }
}

}  // namespace chatctl::cmd
