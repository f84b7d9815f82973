import { ConfigError, loadConfig } from "@/server/config/load";
import { dbFile, openDb } from "@/server/db/client";
import { readEnv } from "@/server/env.mjs";
import { CliError } from "./io";

export function cliEnv() {
  try {
    return readEnv();
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
}

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

export function cliDb(dataDir: string) {
  return openDb(dbFile(dataDir));
}
