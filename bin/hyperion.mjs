#!/usr/bin/env node
// The `hyperion` command. Runs the bundle bin/build-cli.mjs made (dist/cli/) while every source
// it was built from is unchanged; otherwise the TypeScript sources through tsx, so a checkout
// needs no compile step and an edit is never shadowed by a stale bundle. HYPERION_ROOT lets the
// CLI find its migrations and workers from any directory.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.env.HYPERION_ROOT ??= root;
// Next's telemetry is off for the builds and servers `hyperion start` runs (no notice either).
process.env.NEXT_TELEMETRY_DISABLED ??= "1";

function bundleIsFresh() {
  try {
    const inputs = JSON.parse(fs.readFileSync(path.join(root, "dist/cli/inputs.json"), "utf8"));
    for (const [file, [size, mtime]] of Object.entries(inputs)) {
      const st = fs.statSync(path.join(root, file));
      if (st.size !== size || Math.round(st.mtimeMs) !== mtime) return false;
    }
    return true;
  } catch {
    return false;
  }
}

let main;
if (process.env.HYPERION_CLI_SOURCES !== "1" && bundleIsFresh()) {
  ({ main } = await import(pathToFileURL(path.join(root, "dist/cli/main.mjs")).href));
} else {
  const { register } = await import("tsx/esm/api");
  register({ tsconfig: path.join(root, "tsconfig.json") });
  ({ main } = await import("../server/cli/main.ts"));
}
await main(process.argv);
