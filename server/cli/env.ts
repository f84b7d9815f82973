import { currentEnv } from "@/server/env.mjs";
import { CliError } from "./io";

/** The environment, validated; a bad variable is a usage error (exit 2) that names it. */
export function cliEnv() {
  try {
    return currentEnv();
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
}
