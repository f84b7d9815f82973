import { Command, Option } from "commander";
import { roles } from "@/schemas/roles";
import { unknownEnvWarnings } from "@/server/env.mjs";
import { cliEnv } from "./env";
import { addMetaCommands } from "./meta-program";
import { report } from "./report";

/**
 * A command's action, loaded when it runs: `--help` and usage errors load no database driver,
 * git wrapper or worker (each command module is a chunk of its own in the bundle).
 */
function lazy<M extends Record<string, unknown>, K extends keyof M>(
  load: () => Promise<M>,
  name: K,
): (...args: unknown[]) => Promise<void> {
  return async (...args) => {
    const fn = (await load())[name] as (...a: unknown[]) => unknown;
    await fn(...args);
  };
}

// commander: subcommands, help for each, and usage errors with exit codes, without our code.
export function buildProgram(): Command {
  const program = new Command("hyperion")
    .description(
      "Hyperion: a control plane for coding agents and the merge queue that lands their work.",
    )
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    // Every command reads the environment first: a bad variable stops it before it does
    // anything (exit 2, the variable named); an unknown HYPERION_* variable is a warning.
    .hook("preAction", () => {
      cliEnv();
      for (const warning of unknownEnvWarnings()) console.error(`warning: ${warning}`);
    });

  // In this order: `hyperion --help` lists the commands as they are added.
  addServerCommands(program);
  addQueueCommands(program);
  addRequestCommands(program);
  addAgentCommands(program);
  addRequestChangeCommands(program);
  addReviewCommands(program);
  addQaCommands(program);
  addMetaCommands(program, lazy);
  addTraceCommands(program);
  addUserCommands(program);
  return program;
}

/** The web server and the worker. */
function addServerCommands(program: Command): void {
  program
    .command("start")
    .description("run the web server and the worker together (what `npm start` does)")
    .option("--no-build", "do not build the web app even if no build exists")
    .option("--no-worker", "run the web server only (a web host of several: docs/deploy.md)")
    .option(
      "--replace-session-key",
      "record this host's NEXTAUTH_SECRET as the one every web host must use (after changing it on all)",
    )
    .action(lazy(() => import("./commands/start"), "startCommand"));

  program
    .command("worker")
    .description("run the merge-queue worker: a supervisor and N threads that land change requests")
    .option("--threads <n>", "queue threads", (v) => Number.parseInt(v, 10), 3)
    .option("--drain", "process until nothing is pending, then exit 0")
    .option("--dry-run", "do everything but move the target branch (also HYPERION_APPLY=dry-run)")
    .action(lazy(() => import("./commands/worker"), "workerCommand"));

  program
    .command("migrate-to-postgres")
    .description(
      "copy this install's SQLite database into an empty PostgreSQL database, and check the copy",
    )
    .argument("<url>", "postgres://user:password@host:5432/database (an empty database)")
    .option("--from <file>", "the SQLite file (default: $HYPERION_DATA/hyperion.db)")
    .action(lazy(() => import("./commands/migrate"), "migrateToPostgresCommand"));

  program
    .command("backup")
    .description("copy the database, repositories and config into an empty folder, while running")
    .argument("<dir>", "an empty or new folder (docs/storage.md)")
    .action(lazy(() => import("./commands/backup"), "backupCommand"));
  program
    .command("restore")
    .description("check a backup, then restore it into an empty data folder ($HYPERION_DATA)")
    .argument("<dir>", "a folder `hyperion backup` made")
    .action(lazy(() => import("./commands/backup"), "restoreCommand"));
}

/** The merge queue: changes submitted, its state, retries, rollbacks, its replay. */
function addQueueCommands(program: Command): void {
  program
    .command("submit")
    .description("queue change requests from a JSON file (one or an array; - for stdin)")
    .argument("<file>", "path to a JSON file, or - to read stdin")
    .option("--json", "print the queued changes as JSON")
    .addHelpText(
      "after",
      "\nA change request: { taskId?, repo, targetBranch?, baseCommit?, patch, summary, author: { name, email },\nchecks?, risk?, dryRun? } with patch as `git diff --binary --full-index` writes it.\nInvalid input: every problem printed, exit 1, nothing queued.",
    )
    .action(lazy(() => import("./commands/queue"), "submitCommand"));

  program
    .command("status")
    .description("queue counts per state, threads alive, oldest entry's age")
    .option("--json", "print as JSON")
    .action(lazy(() => import("./commands/queue"), "statusCommand"));
  program
    .command("retry")
    .description("send a quarantined entry back to the queue")
    .argument("<entry>")
    .action(lazy(() => import("./commands/queue"), "retryCommand"));
  program
    .command("quarantine")
    .description("quarantined entries")
    .command("list")
    .description("list quarantined entries with their reasons")
    .option("--json", "print as JSON")
    .action(lazy(() => import("./commands/queue"), "quarantineListCommand"));
  program
    .command("rollback")
    .description("land the revert of a merged entry through the queue")
    .argument("<entry>")
    .action(lazy(() => import("./commands/queue"), "rollbackCommand"));
  program
    .command("replay")
    .description(
      "rebuild the queue from change_queue_logs into a fresh database and report divergence",
    )
    .option("--out <file>", "where to write the replayed database (default: a temp file)")
    .option("--json", "print as JSON")
    .action(lazy(() => import("./commands/queue"), "replayCommand"));
}

/** Requests filed, and their clarifying questions answered. */
function addRequestCommands(program: Command): void {
  program
    .command("request")
    .description("file TaskRequests from a JSON file (one object or an array; - for stdin)")
    .argument("<file>", "path to a JSON file, or - to read stdin")
    .option("--as <email>", "file as this user (default: $HYPERION_USER, else the first admin)")
    .option("--json", "print the created requests as JSON")
    .option("--wait", "keep dispatching until the requests finish (their changes land)")
    .option("--timeout <seconds>", "with --wait: give up after this long", "120")
    .option(
      "--allow-new-files",
      "create the files named that the target branch does not have yet (else refused: a typo?)",
    )
    .addHelpText(
      "after",
      '\nRuns validate → Engineer → Orchestrator → dispatch, and queues the built-in developer\'s\nchanges. An array is all-or-nothing; in it, "dependsOn": ["#0"] names the array\'s first\nitem (an earlier item by its position). On invalid input every failing field is printed, the\nexit code is 1, and nothing is written. A file named in "files" that the target branch lacks\nis refused as a likely typo unless --allow-new-files says to create it; a path outside the\nrepository is refused all the same. The web server need not be running.',
    )
    .action(lazy(() => import("./commands/request"), "requestCommand"));

  program
    .command("answer")
    .description("answer a request's clarifying questions and plan it again")
    .argument("<id>", "the request id")
    .requiredOption(
      "--file <file>",
      'JSON: { "files"?: [], "areas"?: [], "kind"?: "...", "note"?: "..." } (- for stdin)',
    )
    .option("--as <email>", "answer as this user")
    .action(lazy(() => import("./commands/request"), "answerCommand"));
}

/** The agents: their readiness, the confinement, their runs and their steering. */
function addAgentCommands(program: Command): void {
  program
    .command("agents")
    .description("the agents the policies name: installed, version, ready, or what fixes them")
    .option("--json", "print as JSON")
    .action(lazy(() => import("./commands/agents"), "agentsCommand"));

  program
    .command("doctor")
    .description(
      "how checks and agents are confined here: the sandbox probed now, its user, limits and programs",
    )
    .option("--json", "print as JSON")
    .action(lazy(() => import("./commands/doctor"), "doctorCommand"));

  program
    .command("runs")
    .description("agent runs, newest first")
    .option("--state <state>", "starting, running, checking, submitted, failed, stopped or lost")
    .option("--agent <agent>", "command, codex, claude or copilot")
    .option("--json", "print as JSON")
    .action(lazy(() => import("./commands/agents"), "runsCommand"));

  program
    .command("steer")
    .description(
      "steer a live agent run: append_context, checkpoint_and_replan or stop_and_requeue",
    )
    .argument("<run>", "the run id")
    .argument("<command>", "append_context | checkpoint_and_replan | stop_and_requeue")
    .requiredOption("--reason <text>", "why (append_context: the context to add)")
    .option("--event <id>", "the source event id; the same id twice acts once (default: a new one)")
    .option("--as <email>", "steer as this operator")
    .action(lazy(() => import("./commands/agents"), "steerCommand"));
}

/** A request changed after it was filed: edited, run again, cancelled, closed. */
function addRequestChangeCommands(program: Command): void {
  program
    .command("edit")
    .description("edit a request that waits for clarification, or a failed one, and plan it again")
    .argument("<id>", "the request id (12 or R12)")
    .requiredOption(
      "--file <file>",
      'JSON with the fields to replace: { "title"?, "description"?, "kind"?, "areas"?: [], "files"?: [], "acceptance"?: [], "checks"?: [] } (- for stdin)',
    )
    .option("--as <email>", "edit as this user (the requester; a reviewer or operator re-scopes)")
    .action(lazy(() => import("./commands/request"), "editCommand"));

  program
    .command("rerun")
    .description("run a failed request's failed tasks again, once the cause is fixed")
    .argument("<id>", "the request id (12 or R12)")
    .option("--as <email>", "as this user (the requester, an operator or an admin)")
    .action(lazy(() => import("./commands/request"), "rerunCommand"));

  program
    .command("cancel")
    .description("cancel a request that has not finished (its pending work is dropped)")
    .argument("<id>", "the request id")
    .option("--reason <text>", "why, recorded with the request")
    .option("--as <email>", "cancel as this user (the requester, an operator or an admin)")
    .action(lazy(() => import("./commands/request"), "cancelCommand"));

  program
    .command("close")
    .description("close a failed request, saying why (what landed stays)")
    .argument("<id>", "the request id (12 or R12)")
    .option("--reason <text>", "why it is closed, shown on the request page (required)")
    .option("--as <email>", "close as this user (the requester, an operator or an admin)")
    .action(lazy(() => import("./commands/request"), "closeCommand"));
}

/** Reviewers: the changes waiting, their diffs, approvals and rejections. */
function addReviewCommands(program: Command): void {
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
function addQaCommands(program: Command): void {
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

/** A request's whole chain, and the post-merge verifications. */
function addTraceCommands(program: Command): void {
  program
    .command("trace")
    .description(
      "the whole chain of a request: spec, tasks, runs, changes, approvals, entries, commits, rollbacks",
    )
    .argument(
      "<id>",
      "a request (R12), task (R12.1), entry (Q7), change (C5), run (run 3) or commit sha",
    )
    .option("--json", "print as JSON")
    .action(lazy(() => import("./commands/trace"), "traceCommand"));

  program
    .command("verify")
    .description(
      "run the post-merge checks (policy postMerge) on the target branch now: bisect a failure, revert its culprit",
    )
    .option("--repo <name>", "only this repository")
    .option("--json", "print as JSON")
    .option("--as <email>", "as this operator")
    .action(lazy(() => import("./commands/verify"), "verifyCommand"));

  program
    .command("verifications")
    .description("the latest post-merge verifications: passed, flaky, culprit (and its revert)")
    .option("--repo <name>", "only this repository")
    .option("--limit <n>", "how many (default 20)")
    .option("--json", "print as JSON")
    .option("--as <email>", "as this user")
    .action(lazy(() => import("./commands/verify"), "verificationsCommand"));
}

/** Users and API tokens. */
function addUserCommands(program: Command): void {
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

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.exitCode = report(err);
  }
}
