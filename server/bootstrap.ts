import fs from "node:fs";
import path from "node:path";
import type { HyperionEnv } from "@/server/env.mjs";
import { type LoadedConfig, loadConfig } from "./config/load";
import { type Db, dbTarget, migrateDb, openDb, type RootDb } from "./db/client";
import { assertSchemaCurrent, databaseProblem } from "./db/version";
import { createDemoRepo } from "./demo/create";
import { demoPolicy } from "./demo/policy";
import { addUser, countUsers } from "./users/service";

export class DatabaseError extends Error {
  override name = "DatabaseError";
}

export type BootstrapReport = {
  db: Db;
  config: LoadedConfig;
  createdDemo: boolean;
  admin?: { email: string; password: string; generated: boolean };
};

/**
 * Brings a data directory to a runnable state: the database migrated, a config (with the demo
 * repository on a fresh checkout), and a first admin. Safe to run on every start.
 */
export async function bootstrap(env: HyperionEnv): Promise<BootstrapReport> {
  fs.mkdirSync(env.dataDir, { recursive: true });
  let createdDemo = false;
  // lstat: a link at the path, even one leading nowhere, is the operator's and is left alone.
  if (!fs.lstatSync(env.configPath, { throwIfNoEntry: false })) {
    const demoDir = path.join(env.dataDir, "repos", "demo");
    createdDemo = await createDemoRepo(demoDir);
    const relative = path.relative(path.dirname(env.configPath), demoDir) || ".";
    fs.mkdirSync(path.dirname(env.configPath), { recursive: true });
    fs.writeFileSync(
      env.configPath,
      `${JSON.stringify(
        {
          repositories: [
            { name: "demo", path: relative, targetBranch: "main", policy: demoPolicy },
          ],
        },
        null,
        2,
      )}\n`,
      { flag: "wx" },
    );
  }
  const config = loadConfig(env.configPath);
  const target = dbTarget(env);
  let db: RootDb;
  try {
    db = openDb(target, { name: "hyperion" });
    await migrateDb(db);
    await assertSchemaCurrent(db);
  } catch (err) {
    throw new DatabaseError(databaseProblem(target, err as Error));
  }
  let admin: BootstrapReport["admin"];
  if ((await countUsers(db)) === 0) {
    const created = await addUser(db, {
      email: env.HYPERION_ADMIN_EMAIL,
      role: "admin",
      password: env.HYPERION_ADMIN_PASSWORD,
    });
    admin = { email: created.user.email, password: created.password, generated: created.generated };
  }
  return { db, config, createdDemo, admin };
}
