import { CommanderError } from "commander";
import { EnvError } from "@/server/env.mjs";
import { ValidationError } from "@/server/errors";
import { CliError } from "./io";

/** What a command's failure prints on stderr, and the exit code it ends with. */
export function report(err: unknown): number {
  if (err instanceof CommanderError) {
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof CliError) {
    console.error(`error: ${err.message}`);
    for (const issue of err.issues) console.error(`  ${issue.path}: ${issue.message}`);
    return err.exitCode;
  }
  if (err instanceof EnvError) {
    console.error(`error: ${err.message}`);
    return 2;
  }
  if (err instanceof ValidationError) {
    console.error("error: invalid input");
    for (const issue of err.issues) console.error(`  ${issue.path}: ${issue.message}`);
    return 1;
  }
  if (
    err instanceof Error &&
    ["NotFoundError", "ConflictError", "ConfigError", "ForbiddenError"].includes(err.name)
  ) {
    console.error(`error: ${err.message}`);
    return 1;
  }
  console.error(err);
  return 1;
}
