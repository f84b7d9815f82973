import fs from "node:fs";
import path from "node:path";
import { BackupError, makeBackup, prepareBackupFolder } from "@/server/backup/backup";
import { restoreBackup } from "@/server/backup/restore";
import type { RootDb } from "@/server/db/client";
import { journal } from "@/server/db/version";
import { cliConfig, cliEnv, withCliDb } from "../context";
import { CliError } from "../io";

const say = (line: string) => console.log(line);

function versionOf(rootDir: string): string {
  try {
    return String(JSON.parse(fs.readFileSync(path.join(rootDir, "package.json"), "utf8")).version);
  } catch {
    return "unknown";
  }
}

const asCliError = (err: unknown) =>
  err instanceof BackupError ? new CliError(err.message, err.exitCode) : err;

/**
 * `hyperion backup <dir>`: the database, the repositories, the config and the session key,
 * copied while Hyperion runs, with a manifest of checksums written last (docs/storage.md).
 */
export async function backupCommand(dirArg: string) {
  const env = cliEnv();
  const dir = path.resolve(dirArg);
  const config = cliConfig(env.configPath);
  await withCliDb(async (db) => {
    try {
      prepareBackupFolder(dir);
      await makeBackup(
        {
          db: db as RootDb,
          config,
          configPath: env.configPath,
          dataDir: env.dataDir,
          version: versionOf(env.rootDir),
        },
        dir,
        say,
      );
    } catch (err) {
      if (err instanceof BackupError && err.exitCode === 2) throw asCliError(err);
      throw new CliError(
        `${(err as Error).message}\nThe backup did not finish: ${dir} has no manifest.json and cannot be restored; remove it and run 'hyperion backup' again.`,
        1,
      );
    }
  });
  console.log(`backup complete: ${dir} (restore with 'hyperion restore ${dirArg}')`);
}

/** `hyperion restore <dir>`: a backup checked, then restored into an empty data folder. */
export async function restoreCommand(dirArg: string) {
  const env = cliEnv();
  try {
    await restoreBackup(
      path.resolve(dirArg),
      {
        dataDir: env.dataDir,
        configPath: env.configPath,
        postgres: !!env.HYPERION_DATABASE_URL,
        knownMigrations: journal({ $dialect: "sqlite" }).map((m) => m.when),
      },
      say,
    );
  } catch (err) {
    throw asCliError(err);
  }
  console.log(`restored into ${env.dataDir}: start Hyperion with HYPERION_DATA=${env.dataDir}`);
}
