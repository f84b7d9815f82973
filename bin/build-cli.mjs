#!/usr/bin/env node
// Bundles the CLI (server/cli/main.ts and what it imports) into dist/cli/ with esbuild, so that
// `hyperion` starts without compiling TypeScript: each command's module is a chunk loaded only
// when that command runs. npm runs it after install and before the web build. The bundle
// records its inputs (path, size, mtime); bin/hyperion.mjs uses it only while they all match,
// and otherwise runs the sources through tsx — an edited checkout never runs stale code.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "dist", "cli");

try {
  const { build } = await import("esbuild");
  fs.rmSync(out, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    // The queue threads' body too (workers/queue-thread-entry.mjs loads it while it is fresh):
    // each thread would otherwise compile the server's sources through tsx as it starts.
    entryPoints: { main: "server/cli/main.ts", "queue-thread": "workers/queue-thread.ts" },
    outdir: out,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // Pure-JS packages bundle too: resolving and opening their ~500 files was most of a
    // command's start (node 20 has no compile cache). Native modules, and pino (its transports
    // load files of their own by path), stay in node_modules.
    external: ["better-sqlite3", "@node-rs/argon2", "pino", "chokidar", "fsevents"],
    // CommonJS packages inside an ESM bundle still call require() for Node's built-ins.
    banner: {
      js: 'import { createRequire as __hyperionRequire } from "node:module"; const require = __hyperionRequire(import.meta.url);',
    },
    tsconfig: path.join(root, "tsconfig.json"),
    metafile: true,
    logLevel: "warning",
    outExtension: { ".js": ".mjs" },
  });
  const inputs = {};
  // Our sources only: node_modules changes through npm, whose postinstall rebuilds the bundle,
  // and statting its files too would cost every start what bundling saved.
  for (const file of Object.keys(result.metafile.inputs).filter(
    (f) => !f.startsWith("node_modules/"),
  )) {
    const st = fs.statSync(path.join(root, file));
    inputs[file] = [st.size, Math.round(st.mtimeMs)];
  }
  fs.writeFileSync(path.join(out, "inputs.json"), JSON.stringify(inputs));
  console.log(`hyperion CLI bundled: ${Object.keys(inputs).length} sources → dist/cli/`);
} catch (err) {
  // Never fail an install for it: the CLI runs from the sources through tsx all the same.
  console.warn(`hyperion CLI not bundled (it runs from the sources): ${err.message}`);
}
