// Starts Hyperion for the end-to-end run on a fresh data directory: the database is created
// and migrated and the admin added by the same start-up path a user's `npm start` takes; the
// repositories and their config come first, from e2e/prepare.ts.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const data = path.resolve(process.env.HYPERION_DATA ?? ".tmp/e2e-data");
fs.rmSync(data, { recursive: true, force: true });
// The demo and the gated repository, and their config (start keeps a config it finds).
const prepared = spawnSync(process.execPath, ["bin/run-ts.mjs", "e2e/prepare.ts"], {
  stdio: "inherit",
  env: { ...process.env, HYPERION_DATA: data },
});
if (prepared.status !== 0) process.exit(prepared.status ?? 1);
const child = spawn(process.execPath, ["bin/hyperion.mjs", "start", "--no-build"], {
  stdio: "inherit",
  env: { ...process.env, HYPERION_DATA: data },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
