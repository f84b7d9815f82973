import { ConfigError, loadConfig } from "@/server/config/load";
import { closeDb, type Db, dbTarget, openDb } from "@/server/db/client";
import { assertSchemaCurrent, databaseProblem } from "@/server/db/version";
import type { HyperionEnv } from "@/server/env.mjs";
import { firstAdmin, requireUserByEmail, type User } from "@/server/users/service";
import { cliEnv } from "./env";
import { CliError } from "./io";

export { cliEnv };

export function cliConfig(configPath: string) {
  try {
    return loadConfig(configPath);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new CliError(
        `${err.message}\nRun 'npm start' once to create a demo configuration, or fix the file.`,
        2,
      );
    }
    throw err;
  }
}

export function cliDb(env: HyperionEnv) {
  return openDb(dbTarget(env), { name: "hyperion-cli" });
}

/** Runs a command body with the database open, and closes it whatever happens. */
export async function withCliDb<T>(
  fn: (db: Db, env: Awaited<ReturnType<typeof cliEnv>>) => Promise<T> | T,
): Promise<T> {
  const env = cliEnv();
  const db = cliDb(env);
  try {
    // A database of another version is named before the command touches it.
    try {
      await assertSchemaCurrent(db);
    } catch (err) {
      throw new CliError(databaseProblem(dbTarget(env), err as Error), 2);
    }
    return await fn(db, env);
  } finally {
    await closeDb(db);
  }
}

/** Who a command acts as: `--as`, else $HYPERION_USER, else the first admin. */
export async function cliUser(db: Db, as?: string): Promise<User> {
  const email = as ?? cliEnv().HYPERION_USER;
  const user = email ? await requireUserByEmail(db, email) : await firstAdmin(db);
  if (!user)
    throw new CliError("no users yet: run 'npm start' once or 'hyperion user add' first", 2);
  return user;
}
