#!/usr/bin/env node
// The `hyperion` command. Runs the TypeScript sources through tsx so a checkout needs no
// separate compile step; HYPERION_ROOT lets the CLI find its migrations from any directory.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.env.HYPERION_ROOT ??= root;
register({ tsconfig: path.join(root, "tsconfig.json") });
const { main } = await import("../server/cli/main.ts");
await main(process.argv);
