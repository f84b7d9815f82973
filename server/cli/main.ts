import { Command } from "commander";
import { unknownEnvWarnings } from "@/server/env.mjs";
import { cliEnv } from "./env";
import { lazy } from "./lazy";
import { addMetaCommands } from "./meta-program";
import { addQaCommands, addReviewCommands, addUserCommands } from "./people-commands";
import { report } from "./report";

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

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.exitCode = report(err);
  }
}
