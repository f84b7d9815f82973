#!/usr/bin/env node
// Runs one TypeScript file of this repository (scripts, benchmarks) with the project's tsconfig.
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { register } from "tsx/esm/api";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.env.HYPERION_ROOT ??= root;
register({ tsconfig: path.join(root, "tsconfig.json") });
const file = process.argv[2];
if (!file) {
  console.error("usage: run-ts.mjs <file.ts> [args…]");
  process.exit(2);
}
process.argv.splice(2, 1);
await import(pathToFileURL(path.resolve(file)).href);
