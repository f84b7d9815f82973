// Regenerates docs/screenshots/: builds if there is no production build (or with --build), then
// runs e2e/screenshots.spec.ts twice, the page tour and the review workflow, each on a fresh
// server and data directory (the review workflow counts what waits for approval, so the tour's
// data must not be there). Ports as for any end-to-end run: E2E_PORT, E2E_GATE_PORT,
// E2E_MODEL_PORT.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { inheritedEnv } from "../server/env.mjs";

const run = (cmd, args, env = {}) => {
  const res = spawnSync(cmd, args, { stdio: "inherit", env: { ...inheritedEnv(), ...env } });
  if (res.status !== 0) process.exit(res.status ?? 1);
};

if (process.argv.includes("--build") || !fs.existsSync(".next/BUILD_ID"))
  run("npm", ["run", "build"]);
for (const part of ["page tour", "review workflow"]) {
  run("npx", ["playwright", "test", "e2e/screenshots.spec.ts", "--reporter=list", "--grep", part], {
    SCREENSHOTS: "1",
  });
}
