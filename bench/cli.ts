/**
 * `npm run bench:cli`: how fast the `hyperion` command answers, against `node -e 0` measured in
 * the same run on this machine: `hyperion --help`, and `hyperion request <file>` filing one
 * request into a fresh data directory. Medians of RUNS runs each; ratios to the baseline.
 * Targets (issue 11): --help ≤ 4×, request ≤ 6× the baseline. Run `npm run build` (or
 * `node bin/build-cli.mjs`) first, or the CLI runs from its sources (reported as such).
 */

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { bootstrap } from "@/server/bootstrap";
import { closeDb } from "@/server/db/client";
import { readEnv } from "@/server/env.mjs";
import { tempDir } from "@/test-support/fixtures";

const RUNS = Number(process.argv.find((a) => a.startsWith("--runs="))?.split("=")[1] ?? 15);

function timeOf(argv: string[], env: Record<string, string> = {}): number {
  const start = process.hrtime.bigint();
  execFileSync(process.execPath, argv, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const dir = tempDir("hyperion-bench-cli-");
try {
  const env = readEnv({ HYPERION_DATA: dir, HYPERION_ADMIN_PASSWORD: "bench-password-1" });
  const report = await bootstrap(env);
  await closeDb(report.db);
  const file = path.join(dir, "request.json");
  fs.writeFileSync(
    file,
    JSON.stringify({
      title: "Bench",
      description: "One request.",
      repo: "demo",
      files: ["docs/guide.md"],
    }),
  );
  const bundled = fs.existsSync("dist/cli/inputs.json");
  const cli = "bin/hyperion.mjs";
  // One warm-up each: the first start reads everything from disk.
  timeOf(["-e", "0"]);
  timeOf([cli, "--help"]);
  const baseline: number[] = [];
  const help: number[] = [];
  const request: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    baseline.push(timeOf(["-e", "0"]));
    help.push(timeOf([cli, "--help"]));
    request.push(timeOf([cli, "request", file], { HYPERION_DATA: dir }));
  }
  const base = median(baseline);
  const result = {
    node_baseline_ms: Math.round(base * 10) / 10,
    help_ms: Math.round(median(help) * 10) / 10,
    request_ms: Math.round(median(request) * 10) / 10,
    help_ratio: Math.round((median(help) / base) * 100) / 100,
    request_ratio: Math.round((median(request) / base) * 100) / 100,
    bundled,
    runs: RUNS,
  };
  console.log(`node -e 0           ${result.node_baseline_ms} ms (baseline)`);
  console.log(`hyperion --help     ${result.help_ms} ms  ${result.help_ratio}× (target ≤ 4×)`);
  console.log(
    `hyperion request    ${result.request_ms} ms  ${result.request_ratio}× (target ≤ 6×)`,
  );
  if (!bundled) console.log("(no dist/cli bundle: the CLI ran from its sources through tsx)");
  console.log(JSON.stringify(result));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
