import { Command, CommanderError, Option } from "commander";
import { roles } from "@/schemas/roles";
import { ValidationError } from "@/server/errors";
import { runWorkerProcess } from "@/workers/main";
import { requestCommand } from "./commands/request";
import { startCommand } from "./commands/start";
import {
  tokenCreateCommand,
  tokenListCommand,
  tokenRevokeCommand,
  userAddCommand,
  userListCommand,
} from "./commands/user";
import { CliError } from "./io";

// commander: subcommands, help for each, and usage errors with exit codes, without our code.
export function buildProgram(): Command {
  const program = new Command("hyperion")
    .description(
      "Hyperion: a control plane for coding agents and the merge queue that lands their work.",
    )
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();

  program
    .command("start")
    .description("run the web server and the worker together (what `npm start` does)")
    .option("--no-build", "do not build the web app even if no build exists")
    .action(startCommand);

  program
    .command("worker")
    .description("run the worker process (heartbeat now; the merge queue later)")
    .action(runWorkerProcess);

  program
    .command("request")
    .description("file TaskRequests from a JSON file (one object or an array; - for stdin)")
    .argument("<file>", "path to a JSON file, or - to read stdin")
    .option("--as <email>", "file as this user (default: $HYPERION_USER, else the first admin)")
    .option("--json", "print the created requests as JSON")
    .addHelpText(
      "after",
      "\nAn array is all-or-nothing. On invalid input every failing field is printed, the exit\ncode is 1, and nothing is written. The web server need not be running.",
    )
    .action(requestCommand);

  const user = program.command("user").description("manage users");
  user
    .command("add")
    .description("add a user; prints a generated password unless HYPERION_NEW_PASSWORD is set")
    .argument("<email>")
    .addOption(new Option("--role <role>", "the user's role").choices(roles).makeOptionMandatory())
    .action(userAddCommand);
  user
    .command("list")
    .description("list users")
    .option("--json", "print as JSON")
    .action(userListCommand);

  const token = program.command("token").description("manage API tokens for scripts and agents");
  token
    .command("create")
    .description("create a bearer token for a user (shown once, stored hashed)")
    .requiredOption("--user <email>", "the user the token acts as")
    .option("--name <name>", "a label for the token", "cli")
    .action(tokenCreateCommand);
  token.command("list").description("list tokens").action(tokenListCommand);
  token.command("revoke").description("revoke a token").argument("<id>").action(tokenRevokeCommand);

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.exitCode = report(err);
  }
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof CliError) {
    console.error(`error: ${err.message}`);
    for (const issue of err.issues) console.error(`  ${issue.path}: ${issue.message}`);
    return err.exitCode;
  }
  if (err instanceof ValidationError) {
    console.error("error: invalid input");
    for (const issue of err.issues) console.error(`  ${issue.path}: ${issue.message}`);
    return 1;
  }
  if (
    err instanceof Error &&
    ["NotFoundError", "ConflictError", "ConfigError"].includes(err.name)
  ) {
    console.error(`error: ${err.message}`);
    return 1;
  }
  console.error(err);
  return 1;
}
