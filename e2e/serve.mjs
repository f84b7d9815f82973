// Starts Hyperion for the end-to-end run on a fresh data directory: the database is created
// and migrated, the demo repository made and the admin added by the same start-up path a
// user's `npm start` takes.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const data = path.resolve(process.env.HYPERION_DATA ?? ".tmp/e2e-data");
fs.rmSync(data, { recursive: true, force: true });
const child = spawn(process.execPath, ["bin/hyperion.mjs", "start", "--no-build"], {
  stdio: "inherit",
  env: { ...process.env, HYPERION_DATA: data },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
