import { type Command, Option } from "commander";
import { roles } from "@/schemas/roles";
import { lazy } from "./lazy";

// The commands people use on each other's work and accounts: reviewers, QA operators, admins
// managing users and tokens. Added to the program by ./main.ts, in its order.

/** Reviewers: the changes waiting, their diffs, approvals and rejections. */
export function addReviewCommands(program: Command): void {
  program
    .command("approvals")
    .description("changes waiting for a reviewer, oldest first")
    .option("--json", "print as JSON")
    .option("--as <email>", "as this reviewer")
    .action(lazy(() => import("./commands/approvals"), "approvalsCommand"));

  program
    .command("diff")
    .description("print a waiting change's whole patch (recorded as shown to you) and its hash")
    .argument("<entry>", "the queue entry, 7 or Q7")
    .option("--as <email>", "as this reviewer")
    .action(lazy(() => import("./commands/approvals"), "diffCommand"));

  program
    .command("approve")
    .description("approve a waiting change's exact patch")
    .argument("<entry>", "the queue entry, 7 or Q7")
    .requiredOption("--patch <sha256>", "the hash `hyperion diff` printed: what you approve")
    .option("--comment <text>", "why it is safe (required for high risk)")
    .option("--as <email>", "as this reviewer")
    .action(lazy(() => import("./commands/approvals"), "approveCommand"));

  const plan = program
    .command("plan")
    .description(
      "a repository's plan gate (its policy's plan file): why it is shut, the diff to approve",
    )
    .argument("<repo>", "the repository")
    .option("--json", "print as JSON")
    .action(lazy(() => import("./commands/plan"), "planCommand"));
  plan
    .command("approve")
    .description("approve the plan's current text (admins): the plan gate opens on it")
    .argument("<repo>", "the repository")
    .option("--text <sha256>", "the hash `hyperion plan` printed: what you approve")
    .option("--as <email>", "as this admin")
    .action(lazy(() => import("./commands/plan"), "planApproveCommand"));

  program
    .command("reject")
    .description("reject a waiting change; its task goes back to an agent with your reason")
    .argument("<entry>", "the queue entry, 7 or Q7")
    .requiredOption("--reason <text>", "why: the next attempt's prompt carries it")
    .option("--close", "close the task instead of sending it back")
    .option(
      "--agent <name>",
      "send it to this agent of the policy (the built-in developer cannot act on a reason)",
    )
    .option("--as <email>", "as this reviewer")
    .action(lazy(() => import("./commands/approvals"), "rejectCommand"));
}

/** Manual QA: the QA queue, a candidate to try, pass, fail with notes, priority. */
export function addQaCommands(program: Command): void {
  const qa = program
    .command("qa")
    .description(
      "manual QA of changes the QA gate holds (policy qa.kinds): list, checkout, pass, fail, prioritize",
    );
  qa.command("list", { isDefault: true })
    .description("the QA queue, next first, across repositories")
    .option("--json", "print as JSON")
    .option("--as <email>", "as this operator")
    .action(lazy(() => import("./commands/qa"), "qaListCommand"));
  qa.command("checkout")
    .description(
      "write a request's candidate (its changes on the branch tip, as they would land) to a folder",
    )
    .argument("<request>", "the request, 12 or R12")
    .argument("[dir]", "a new or empty folder (default qa-R<id>)")
    .option("--as <email>", "as this operator")
    .action(lazy(() => import("./commands/qa"), "qaCheckoutCommand"));
  qa.command("pass")
    .description("QA passed: the request's waiting changes go on to land")
    .argument("<request>", "the request, 12 or R12")
    .option("--as <email>", "as this operator")
    .action(lazy(() => import("./commands/qa"), "qaPassCommand"));
  qa.command("fail")
    .description("QA failed: its changes are rejected and its tasks reopened with your notes")
    .argument("<request>", "the request, 12 or R12")
    .requiredOption("--notes <text>", "what failed and how: the next attempt's prompt carries it")
    .option("--as <email>", "as this operator")
    .action(lazy(() => import("./commands/qa"), "qaFailCommand"));
  qa.command("prioritize")
    .description("set where a request stands in the QA queue")
    .argument("<request>", "the request, 12 or R12")
    .requiredOption("--priority <level>", "low, normal or high")
    .option("--as <email>", "as this operator")
    .action(lazy(() => import("./commands/qa"), "qaPrioritizeCommand"));
}

/** Users and API tokens. */
export function addUserCommands(program: Command): void {
  const user = program.command("user").description("manage users");
  user
    .command("add")
    .description("add a user; prints a generated password unless HYPERION_NEW_PASSWORD is set")
    .argument("<email>")
    .addOption(new Option("--role <role>", "the user's role").choices(roles).makeOptionMandatory())
    .option("--name <name>", "what the person is called, shown beside their email")
    .action(lazy(() => import("./commands/user"), "userAddCommand"));
  user
    .command("list")
    .description("list users")
    .option("--json", "print as JSON")
    .action(lazy(() => import("./commands/user"), "userListCommand"));

  user
    .command("set-role")
    .description("change a user's role (the last admin stays admin)")
    .argument("<email>")
    .argument("<role>", roles.join(" | "))
    .action(lazy(() => import("./commands/user"), "userSetRoleCommand"));
  user
    .command("reset-password")
    .description("set a new password: generated and shown once, or HYPERION_NEW_PASSWORD")
    .argument("<email>")
    .action(lazy(() => import("./commands/user"), "userResetPasswordCommand"));
  user
    .command("disable")
    .description("disable a user: no sign-in, sessions end, tokens revoked (not the last admin)")
    .argument("<email>")
    .action(lazy(() => import("./commands/user"), "userDisableCommand"));
  user
    .command("enable")
    .description("enable a disabled user again")
    .argument("<email>")
    .action(lazy(() => import("./commands/user"), "userEnableCommand"));

  const token = program.command("token").description("manage API tokens for scripts and agents");
  token
    .command("create")
    .description("create a bearer token for a user (shown once, stored hashed)")
    .requiredOption("--user <email>", "the user the token acts as")
    .option("--name <name>", "a label for the token", "cli")
    .action(lazy(() => import("./commands/user"), "tokenCreateCommand"));
  token
    .command("list")
    .description("list tokens")
    .action(lazy(() => import("./commands/user"), "tokenListCommand"));
  token
    .command("revoke")
    .description("revoke a token")
    .argument("<id>")
    .action(lazy(() => import("./commands/user"), "tokenRevokeCommand"));
}
