#!/usr/bin/env node
// `npm test`: the whole suite, in the order and with the overlap that keeps it short on two
// cores without starving the tests that race leases and timers.
//
//   1. system packages (bin/system-deps.sh) and the pinned agent CLIs (bin/agent-clis.mjs);
//   2. the CLI bundle, once, before anything runs it;
//   3. lint and the type check, beside two lanes at once: Vitest's "unit" project then the
//      store's part on PostgreSQL (test:pg:core), beside the production build then Playwright.
//      Serially, each left most of the second core idle: an end-to-end test mostly waits for a
//      page, a check or an agent, and a unit file for git and disks. (A third lane — the accessibility tour on a server of
//      its own beside the other specs — was tried: with two servers, two browsers and the unit
//      files on two cores, everything waited on the CPU and the run got longer, not shorter.);
//   4. last and alone, Vitest's "alone" project: the files that race real workers against short
//      leases and stall timers, and the Prometheus scrape of the production build (it needs the
//      build finished, which step 3 guarantees).
//
// Each line of a lane is prefixed with its name; the first failure is reported at the end with
// what to run to repeat just that step, and the exit code is non-zero. Timings per step are
// printed at the end, so a CI log shows where the time went. A CI log is often read from its
// tail only, where the lanes' lines are interleaved: so the end also names every failed test
// with the first lines of its error (from each Vitest step's JSON report), and each step's ten
// slowest tests, the ones a busier machine pushes towards their timeouts.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { inheritedEnv } from "../server/env.mjs";
import { summarise } from "./test-report.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const timings = [];
const failures = [];
const reports = path.join(root, ".tmp", "test-reports");
fs.mkdirSync(reports, { recursive: true });

/** Runs one command to its end, each output line prefixed; resolves to its exit code. */
function run(label, command, args, env = {}) {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...inheritedEnv(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [child.stdout, child.stderr]) {
      readline
        .createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })
        .on("line", (line) => process.stdout.write(`[${label}] ${line}\n`));
    }
    const done = (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      timings.push({ label, seconds, code });
      if (code !== 0) failures.push({ label, again: [command, ...args].join(" ") });
      resolve(code);
    };
    child.on("error", (err) => {
      process.stdout.write(`[${label}] could not start ${command}: ${err.message}\n`);
      done(127);
    });
    child.on("close", (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

/** Steps one after another; stops at the first that fails. */
async function lane(steps) {
  for (const [label, command, args, env] of steps) {
    if ((await run(label, command, args, env)) !== 0) return false;
  }
  return true;
}

/** A Vitest step: its JSON report goes to .tmp/test-reports/<label>.json beside the usual output. */
function vitest(label, args, env) {
  const json = path.join(reports, `${label}.json`);
  fs.rmSync(json, { force: true });
  return [
    label,
    ...npx(
      "vitest",
      "run",
      ...args,
      "--reporter=default",
      "--reporter=json",
      `--outputFile.json=${json}`,
    ),
    env,
  ];
}

function finish() {
  for (const t of timings) {
    const text = summarise(path.join(reports, `${t.label}.json`), t.label, root);
    if (text) process.stdout.write(text);
  }
  process.stdout.write("\nnpm test, step by step (wall-clock seconds):\n");
  for (const t of timings) {
    process.stdout.write(
      `  ${t.label.padEnd(12)} ${t.seconds.toFixed(0).padStart(6)} s  ${t.code === 0 ? "ok" : `exit ${t.code}`}\n`,
    );
  }
  if (failures.length > 0) {
    process.stdout.write("\nFailed — to run a failed step again on its own:\n");
    for (const f of failures) process.stdout.write(`  [${f.label}] ${f.again}\n`);
    process.exit(1);
  }
  process.stdout.write("\nAll passed.\n");
}

const npx = (bin, ...args) => ["npx", ["--no-install", bin, ...args]];
// Shorter than by hand: the model-based test makes 150 runs instead of 500, the several-hosts
// test lands 120 changes instead of 300 (with the same five kills and cuts), and the file-flood
// test's agent writes 30 000 files instead of 100 000.
const UNIT = { MODEL_RUNS: "150", HOSTS_CHANGES: "120", FLOOD_FILES: "30000" };
// The SIGKILL tests of the last step, shorter than by hand: half the changes, and the kills
// those allow (seven and seven rounds instead of twelve and fourteen).
const ALONE = { KILL_CHANGES: "150", KILL_REQUESTS: "50", KILL_ROUNDS: "7" };
const PG_CORE = {
  HYPERION_TEST_ENGINE: "postgres",
  MODEL_RUNS: "30",
  KILL_REQUESTS: "20",
  KILL_ROUNDS: "4",
};

const setUp = await lane([
  ["deps", "bash", ["bin/system-deps.sh"]],
  ["agent-clis", "node", ["bin/agent-clis.mjs"]],
]);
if (!setUp) finish();

if ((await run("cli-bundle", "node", ["bin/build-cli.mjs"])) !== 0) finish();

// Lint and the type check run beside the lanes rather than before them, where they held
// everything else back (33 s in a clean-clone run); a failure of theirs still fails the run,
// and the build relies on this type check.
await Promise.all([
  run("lint", ...npx("biome", "check", ".")),
  run("typecheck", ...npx("tsc", "--noEmit")),
  lane([
    vitest("unit", ["--project", "unit", "--project", "unit-mocking"], UNIT),
    vitest("pg-core", pgCoreFiles(), PG_CORE),
  ]),
  lane([
    ["build", ...npx("next", "build"), { HYPERION_BUILD_TYPECHECKED: "1" }],
    ["e2e", ...npx("playwright", "test")],
  ]),
]);
if (failures.length === 0) await run(...vitest("alone", ["--project", "alone"], ALONE));
finish();

/** The files of `npm run test:pg:core`, read from package.json so there is one list. */
function pgCoreFiles() {
  const { scripts } = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  return scripts["test:pg:core"].split("vitest run ")[1].trim().split(/\s+/);
}
