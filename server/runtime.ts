import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { configStatus } from "./config/load";
import { type Db, dbTarget, openDb } from "./db/client";
import { currentEnv, type HyperionEnv } from "./env.mjs";

type Runtime = { env: HyperionEnv; db: Db };

const globalForRuntime = globalThis as unknown as { __hyperionRuntime?: Runtime };

/**
 * The web process's environment and database connection, made once per process. Kept on
 * globalThis because Next.js may load this module in several bundles.
 */
export function runtime(): Runtime {
  if (!globalForRuntime.__hyperionRuntime) {
    const env = currentEnv();
    globalForRuntime.__hyperionRuntime = {
      env,
      db: openDb(dbTarget(env), { name: "hyperion-web" }),
    };
    // Load the config now, so a file that turns bad later has a last good one to fall back on.
    configStatus(env.configPath);
  }
  return globalForRuntime.__hyperionRuntime;
}

/**
 * The key that signs session cookies: NEXTAUTH_SECRET when set, otherwise a random key kept in
 * the data directory so sessions survive a restart.
 */
export function authSecret(env: HyperionEnv): string {
  if (env.NEXTAUTH_SECRET) return env.NEXTAUTH_SECRET;
  const file = path.join(env.dataDir, "auth-secret");
  if (!fs.existsSync(file)) {
    fs.mkdirSync(env.dataDir, { recursive: true });
    fs.writeFileSync(file, randomBytes(32).toString("base64url"), { mode: 0o600, flag: "wx" });
  }
  return fs.readFileSync(file, "utf8").trim();
}
