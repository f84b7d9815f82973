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
// The fake GitHub the `hub` repository takes issues from (e2e/support/github.ts).
const github = spawn(process.execPath, ["bin/run-ts.mjs", "e2e/support/fake-github-server.ts"], {
  stdio: "inherit",
});
const child = spawn(process.execPath, ["bin/hyperion.mjs", "start", "--no-build"], {
  stdio: "inherit",
  env: {
    ...process.env,
    HYPERION_DATA: data,
    // Must match e2e/support/github.ts.
    HYPERION_GITHUB_TOKEN: "ghp_e2e0123456789abcdefghij",
    HYPERION_GITHUB_WEBHOOK_SECRET: "e2e-webhook-secret-0123456789",
  },
});
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => {
    child.kill(signal);
    github.kill(signal);
  });
child.on("exit", (code) => {
  github.kill("SIGTERM");
  process.exit(code ?? 0);
});
