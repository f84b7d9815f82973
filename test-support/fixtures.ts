import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Role } from "@/schemas/roles";
import { bootstrap } from "@/server/bootstrap";
import { type LoadedConfig, loadConfig } from "@/server/config/load";
import { closeDb, type Db } from "@/server/db/client";
import { type HyperionEnv, readEnv } from "@/server/env.mjs";
import { addUser, type User } from "@/server/users/service";
import { testDatabaseUrl } from "./postgres";

export function tempDir(prefix = "hyperion-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export type TestWorld = {
  dir: string;
  env: HyperionEnv;
  db: Db;
  config: LoadedConfig;
  admin: User;
  userWith: (role: Role) => Promise<User>;
  cleanup: () => Promise<void>;
};

/** A policy's approval tiers with none required: every change lands when its checks pass. */
export const NO_APPROVALS = {
  low: { approvals: 0 },
  medium: { approvals: 0 },
  high: { approvals: 0 },
};

/**
 * A real data directory in a temp folder: SQLite file migrated, demo git repository created,
 * config written, an admin added — the same bootstrap `npm start` runs. The demo's approval
 * gates are off unless `gates` is set: tests of landing need no reviewer; those of review ask.
 * Its QA gate (policy `qa.kinds`) is off unless `qa` is set, likewise.
 */
export async function makeWorld(opts: { gates?: boolean; qa?: boolean } = {}): Promise<TestWorld> {
  const dir = tempDir();
  // `npm run test:pg`: a fresh PostgreSQL database of the run's cluster for every world.
  const url = await testDatabaseUrl();
  const env = readEnv({
    HYPERION_DATA: dir,
    HYPERION_ADMIN_PASSWORD: "admin-password-1",
    ...(url ? { HYPERION_DATABASE_URL: url } : {}),
  });
  const report = await bootstrap(env);
  if (!opts.gates || !opts.qa) {
    const raw = JSON.parse(fs.readFileSync(env.configPath, "utf8"));
    for (const r of raw.repositories)
      r.policy = {
        ...r.policy,
        ...(opts.gates ? {} : { approvals: NO_APPROVALS }),
        ...(opts.qa ? {} : { qa: { ...r.policy?.qa, kinds: [] } }),
      };
    fs.writeFileSync(env.configPath, `${JSON.stringify(raw, null, 2)}\n`);
    report.config = loadConfig(env.configPath);
  }
  const admin = report.admin
    ? { id: 1, email: report.admin.email, role: "admin" as const }
    : (() => {
        throw new Error("bootstrap made no admin");
      })();
  let n = 0;
  return {
    dir,
    env,
    db: report.db,
    config: report.config,
    admin,
    async userWith(role) {
      n += 1;
      const { user } = await addUser(report.db, {
        email: `${role}${n}@example.test`,
        role,
        password: "password-123",
      });
      return user;
    },
    async cleanup() {
      await closeDb(report.db);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * What a process a test starts needs to reach the world's database: its data folder, and on
 * `npm run test:pg` the PostgreSQL URL.
 */
export function worldEnv(world: Pick<TestWorld, "dir" | "env">): Record<string, string> {
  return {
    HYPERION_DATA: world.dir,
    ...(world.env.HYPERION_DATABASE_URL
      ? { HYPERION_DATABASE_URL: world.env.HYPERION_DATABASE_URL }
      : {}),
  };
}

const tmpBefore = new Map<string, string | undefined>();

/**
 * A temp folder of the test's own where run folders are made (os.tmpdir() reads TMPDIR), which
 * the sandbox user may enter; `dropRunsTmp` puts TMPDIR back and removes it.
 */
export function useRunsTmp(prefix: string): string {
  const dir = tempDir(prefix);
  fs.chmodSync(dir, 0o755);
  tmpBefore.set(dir, process.env.TMPDIR);
  process.env.TMPDIR = dir;
  return dir;
}

export function dropRunsTmp(dir: string): void {
  const was = tmpBefore.get(dir);
  tmpBefore.delete(dir);
  if (was === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = was;
  fs.rmSync(dir, { recursive: true, force: true });
}
