/**
 * `npm run bench:agents [-- --quick]`: what an agent run costs Hyperion beyond the agent itself.
 *
 * For each repository size it builds a bare repository (git fast-import) and a real data
 * directory (bootstrap: SQLite migrated, an admin, a config naming that repository, whose policy
 * gives every task to a `command` agent that appends a line to the one file its prompt names).
 * Each request goes the real way: filed, planned, then dispatched by `advance` with an AgentPool
 * and run under the real confinement. Measured in the same run, interleaved:
 *  - Hyperion: from the dispatch pass to the run's `submitted` (its change request queued);
 *  - the agent alone: the same command run directly in a folder holding the file;
 *  - the baseline: `git worktree add` of the same commit, the same edit, `git diff`
 *    (`git worktree remove` is timed apart).
 * Overhead = Hyperion − the agent alone. Then, on 1 000 files, K requests on K files dispatched
 * in one pass (K = 1…16): the largest K whose median per-run overhead stays within 2× that of
 * K = 1 with every run submitted. Medians of N repetitions (7; --quick: 3, and 10 000 files
 * instead of 100 000; --runs=N). Prints a table, then one JSON line.
 */
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { inArray, isNotNull } from "drizzle-orm";
import { bootstrap } from "@/server/bootstrap";
import type { LoadedConfig } from "@/server/config/load";
import { describeSandbox, detectSandbox } from "@/server/confine/detect";
import { closeDb, type Db } from "@/server/db/client";
import { agentRuns, tasks } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { readEnv } from "@/server/env.mjs";
import { createRequests } from "@/server/requests/service";
import { AgentPool } from "@/server/runs/pool";
import type { User } from "@/server/users/service";
import { tempDir } from "@/test-support/fixtures";

const execFileAsync = promisify(execFile);
const quick = process.argv.includes("--quick");
const RUNS = Number(
  process.argv.find((a) => a.startsWith("--runs="))?.split("=")[1] ?? (quick ? 3 : 7),
);
const SMALL = 1_000;
const LARGE = quick ? 10_000 : 100_000;
const LEVELS = [1, 2, 4, 8, 16];
const OWNER = "bench/dispatcher";
const LEASE_MS = 60_000;
const MAX_BUFFER = 1 << 30;

// The agent: reads the prompt file (its last argument) and appends a line to the one file it
// may change. No single quotes: the policy's command line wraps it in them.
const EDIT = `const fs = require("fs"); const p = fs.readFileSync(process.argv[1], "utf8");
const f = p.split("## Files you may change")[1].match(/^- (.+)$/m)[1];
fs.appendFileSync(f, "agent line\\n");
console.log(JSON.stringify({ kind: "message", text: "edited " + f }));`;

const fileName = (n: number) => `src/d${Math.floor(n / 100)}/f${n}.txt`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};
const progress = (line: string) => process.stderr.write(`${line}\n`);

function buildRepo(dir: string, files: number): string {
  execFileSync("git", ["init", "-q", "--bare", "-b", "main", dir]);
  const chunks: string[] = [];
  for (let n = 0; n < files; n++) {
    const body = `file ${n}\n`;
    chunks.push(`blob\nmark :${n + 1}\ndata ${Buffer.byteLength(body)}\n${body}\n`);
  }
  const msg = "initial";
  chunks.push(
    `commit refs/heads/main\ncommitter Bench <b@example.test> 1700000000 +0000\ndata ${msg.length}\n${msg}\n`,
  );
  for (let n = 0; n < files; n++) chunks.push(`M 100644 :${n + 1} ${fileName(n)}\n`);
  chunks.push("\n");
  execFileSync("git", ["fast-import", "--quiet"], {
    cwd: dir,
    input: chunks.join(""),
    maxBuffer: MAX_BUFFER,
  });
  return execFileSync("git", ["rev-parse", "main"], { cwd: dir }).toString().trim();
}

type World = {
  root: string;
  repo: string;
  commit: string;
  files: number;
  db: Db;
  config: LoadedConfig;
  admin: User;
  pool: AgentPool;
  /** A file no earlier request named, so no task waits on another's lock. */
  nextFile: () => string;
};

async function openWorld(files: number): Promise<World> {
  const root = tempDir("hyperion-bench-agents-");
  const repo = path.join(root, "repo.git");
  progress(`building a repository of ${files} files…`);
  const commit = buildRepo(repo, files);
  const dataDir = path.join(root, "data");
  const env = readEnv({ HYPERION_DATA: dataDir, HYPERION_ADMIN_PASSWORD: "bench-password-1" });
  fs.mkdirSync(path.dirname(env.configPath), { recursive: true });
  const policy = {
    areas: [{ name: "src", paths: ["src/**"], risk: "low", lockScope: "files" }],
    qa: { kinds: [] },
    agents: { default: "command", command: `node -e '${EDIT}'`, maxConcurrent: 32 },
  };
  fs.writeFileSync(
    env.configPath,
    JSON.stringify({ repositories: [{ name: "bench", path: repo, targetBranch: "main", policy }] }),
  );
  const boot = await bootstrap(env);
  if (!boot.admin) throw new Error("bootstrap made no admin");
  const pool = new AgentPool({ db: boot.db, dataDir, owner: OWNER, leaseMs: LEASE_MS });
  const probes = await pool.probeAll(boot.config);
  for (const [key, probe] of probes)
    if (!probe.ok) throw new Error(`${key}: ${probe.problem}; ${probe.fix}`);
  let used = 0;
  return {
    root,
    repo,
    commit,
    files,
    db: boot.db,
    config: boot.config,
    admin: { id: 1, email: boot.admin.email, role: "admin" },
    pool,
    // 37 is prime to every size here: distinct files, spread over the tree.
    nextFile: () => fileName((used++ * 37) % files),
  };
}

async function closeWorld(world: World): Promise<void> {
  await world.pool.stopAll("benchmark over");
  // A failed run keeps its workspace (and Hyperion's git directory beside it) for inspection.
  const kept = await world.db
    .select({ workspace: agentRuns.workspace })
    .from(agentRuns)
    .where(isNotNull(agentRuns.workspace));
  for (const { workspace } of kept) {
    if (!workspace) continue;
    fs.rmSync(workspace, { recursive: true, force: true });
    fs.rmSync(`${workspace}.git`, { recursive: true, force: true });
  }
  await closeDb(world.db);
  fs.rmSync(world.root, { recursive: true, force: true });
}

/**
 * K requests on K files, planned, then dispatched in one `advance` pass: each run's time from
 * that pass to its `submitted`, and why any run did not get there.
 */
async function hyperionRuns(
  world: World,
  k: number,
): Promise<{ totals: number[]; failures: string[] }> {
  const filed = await createRequests(world.db, {
    input: Array.from({ length: k }, () => {
      const file = world.nextFile();
      return {
        title: `Append to ${file}`,
        description: "Add a line.",
        repo: "bench",
        files: [file],
      };
    }),
    requester: world.admin,
    config: world.config,
    source: "cli",
  });
  const ids = filed.map((r) => r.id);
  // Without a pool, advance plans and leaves agent tasks pending: the timed pass only dispatches.
  await advance(world.db, world.config, OWNER, ids, LEASE_MS);
  const t0 = Date.now();
  await advance(world.db, world.config, OWNER, undefined, LEASE_MS, world.pool);
  await world.pool.idle();
  const taskIds = (
    await world.db.select({ id: tasks.id }).from(tasks).where(inArray(tasks.requestId, ids))
  ).map((t) => t.id);
  const runs = taskIds.length
    ? await world.db.select().from(agentRuns).where(inArray(agentRuns.taskId, taskIds))
    : [];
  const totals: number[] = [];
  const failures: string[] = [];
  for (const r of runs) {
    if (r.state === "submitted" && r.endedAt) totals.push(r.endedAt - t0);
    else failures.push(`run ${r.id}: ${r.state}${r.reason ? ` (${r.reason})` : ""}`);
  }
  if (runs.length < k) failures.push(`${k - runs.length} of ${k} task(s) were not dispatched`);
  return { totals, failures };
}

/** Folders holding a prompt file and the one file it names, for the agent run directly. */
function prepareAlone(root: string, k: number): string[] {
  const file = fileName(0);
  return Array.from({ length: k }, (_, i) => {
    const dir = path.join(root, `alone-${k}-${i}`);
    fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), "file 0\n");
    fs.writeFileSync(
      path.join(dir, "prompt.md"),
      `# Task\n\n## Files you may change\n\n- ${file}\n\nOnly these files may change.\n`,
    );
    return dir;
  });
}

/** The agent's own wall time: K copies of the command at once, run directly, not confined. */
function agentAlone(dirs: string[]): Promise<number[]> {
  return Promise.all(
    dirs.map(async (cwd) => {
      const t0 = performance.now();
      await execFileAsync("node", ["-e", EDIT, "prompt.md"], { cwd });
      return performance.now() - t0;
    }),
  );
}

/** The baseline: a worktree of the commit, the same edit, `git diff`; then its removal. */
function worktree(world: World, file: string): { ms: number; removeMs: number } {
  const wt = path.join(world.root, "worktree");
  const t0 = performance.now();
  execFileSync("git", ["worktree", "add", "--quiet", "--detach", wt, world.commit], {
    cwd: world.repo,
  });
  fs.appendFileSync(path.join(wt, file), "agent line\n");
  const diff = execFileSync("git", ["diff"], { cwd: wt, maxBuffer: MAX_BUFFER }).toString();
  const ms = performance.now() - t0;
  if (!diff.includes("+agent line")) throw new Error("the baseline's diff lacks the edit");
  const t1 = performance.now();
  execFileSync("git", ["worktree", "remove", "--force", wt], { cwd: world.repo });
  return { ms, removeMs: performance.now() - t1 };
}

type SizeRow = {
  files: number;
  hyperionMs: number;
  agentMs: number;
  overheadMs: number;
  worktreeMs: number;
  removeMs: number;
  submitted: number;
  failures: string[];
};

async function measureSize(world: World): Promise<SizeRow> {
  const alone = prepareAlone(world.root, 1);
  // Warm-up, not counted: caches, the first spawn of bubblewrap, the first worktree.
  const warm = await hyperionRuns(world, 1);
  if (warm.failures.length) throw new Error(`warm-up run failed: ${warm.failures.join("; ")}`);
  await agentAlone(alone);
  worktree(world, fileName(1));
  const totals: number[] = [];
  const failures: string[] = [];
  const agent: number[] = [];
  const wt: number[] = [];
  const rm: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    progress(`  ${world.files} files: repetition ${i + 1}/${RUNS}`);
    const h = await hyperionRuns(world, 1);
    totals.push(...h.totals);
    failures.push(...h.failures);
    agent.push(...(await agentAlone(alone)));
    const b = worktree(world, world.nextFile());
    wt.push(b.ms);
    rm.push(b.removeMs);
  }
  const hyperionMs = median(totals);
  const agentMs = median(agent);
  return {
    files: world.files,
    hyperionMs,
    agentMs,
    overheadMs: hyperionMs - agentMs,
    worktreeMs: median(wt),
    removeMs: median(rm),
    submitted: totals.length,
    failures,
  };
}

type LevelRow = {
  k: number;
  hyperionMs: number;
  agentMs: number;
  overheadMs: number;
  submitted: number;
  filed: number;
  failures: string[];
};

async function measureConcurrency(world: World): Promise<LevelRow[]> {
  const rows: LevelRow[] = [];
  for (const k of LEVELS) {
    progress(`  ${k} run(s) at once…`);
    const alone = prepareAlone(world.root, k);
    const totals: number[] = [];
    const agent: number[] = [];
    const failures: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const h = await hyperionRuns(world, k);
      totals.push(...h.totals);
      failures.push(...h.failures);
      agent.push(...(await agentAlone(alone)));
    }
    const hyperionMs = median(totals);
    const agentMs = median(agent);
    rows.push({
      k,
      hyperionMs,
      agentMs,
      overheadMs: hyperionMs - agentMs,
      submitted: totals.length,
      filed: k * RUNS,
      failures,
    });
  }
  return rows;
}

const sandbox = detectSandbox();
if (sandbox.kind === "none" && !sandbox.allowed) {
  process.env.HYPERION_CONFINE = "none";
  console.log(
    `bubblewrap is not usable here (${sandbox.reason}): running with HYPERION_CONFINE=none`,
  );
}
progress(describeSandbox());

const sizes: SizeRow[] = [];
let levels: LevelRow[] = [];
for (const files of [SMALL, LARGE]) {
  const world = await openWorld(files);
  try {
    sizes.push(await measureSize(world));
    if (files === SMALL) levels = await measureConcurrency(world);
  } finally {
    await closeWorld(world);
  }
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "—");
const round = (x: number, d = 1) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);
const pass = (ok: boolean) => (ok ? "PASS" : "FAIL");
const small = sizes.find((s) => s.files === SMALL);
const large = sizes.find((s) => s.files === LARGE);
const one = levels.find((l) => l.k === 1);
let maxConcurrent = 0;
for (const l of levels) {
  const ok = !!one && l.submitted === l.filed && l.overheadMs <= 2 * Math.max(one.overheadMs, 1);
  if (!ok) break;
  maxConcurrent = l.k;
}

console.log(
  `\nAgent run overhead: a command agent appending one line to one file; medians of ${RUNS}; ${
    detectSandbox().kind === "bwrap" ? "confined by bubblewrap" : "HYPERION_CONFINE=none"
  }; ${os.availableParallelism()} CPUs\n`,
);
console.log(
  "| files | dispatch → submitted ms | agent alone ms | overhead ms | worktree add+edit+diff ms | worktree remove ms | overhead / worktree | submitted |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const s of sizes)
  console.log(
    `| ${s.files} | ${f(s.hyperionMs)} | ${f(s.agentMs)} | ${f(s.overheadMs)} | ${f(s.worktreeMs)} | ${f(s.removeMs)} | ${f((100 * s.overheadMs) / s.worktreeMs)}% | ${s.submitted}/${RUNS} |`,
  );
console.log(`\nRuns at once on ${SMALL} files (per run; the agent alone also K at once)\n`);
console.log(
  "| runs at once | dispatch → submitted ms | agent alone ms | overhead ms | vs 1 at once | submitted |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const l of levels)
  console.log(
    `| ${l.k} | ${f(l.hyperionMs)} | ${f(l.agentMs)} | ${f(l.overheadMs)} | ${one ? f(l.overheadMs / one.overheadMs, 2) : "—"}× | ${l.submitted}/${l.filed} |`,
  );
const failures = [...sizes.flatMap((s) => s.failures), ...levels.flatMap((l) => l.failures)];
if (failures.length) {
  console.log(`\n${failures.length} run(s) did not submit:`);
  for (const line of failures.slice(0, 10)) console.log(`  ${line}`);
}

const sizeRatio = large && small ? large.overheadMs / small.overheadMs : Number.NaN;
const worktreeRatio = large ? large.overheadMs / large.worktreeMs : Number.NaN;
console.log("\nTargets");
console.log(
  `  overhead at ${LARGE} files ≤ 1.5× that at ${SMALL}: ${f(sizeRatio, 2)}× ${pass(sizeRatio <= 1.5)}`,
);
console.log(
  `  overhead at ${LARGE} files ≤ 10% of the worktree baseline: ${f(100 * worktreeRatio)}% ${pass(worktreeRatio <= 0.1)}`,
);
console.log(`  runs at once within 2× the overhead of one: ${maxConcurrent}`);

const label = (n: number) => `${n / 1000}k`;
const bySize = (key: string, pick: (s: SizeRow) => number) =>
  Object.fromEntries(
    [SMALL, 100_000, ...(LARGE === 100_000 ? [] : [LARGE])].map((n) => {
      const s = sizes.find((x) => x.files === n);
      return [`${key}_${label(n)}_files`, s ? round(pick(s)) : null];
    }),
  );
console.log(
  JSON.stringify({
    runs: RUNS,
    large_files: LARGE,
    sandbox: detectSandbox().kind,
    ...bySize("overhead_ms", (s) => s.overheadMs),
    ...bySize("run_ms", (s) => s.hyperionMs),
    ...bySize("agent_alone_ms", (s) => s.agentMs),
    ...bySize("worktree_baseline_ms", (s) => s.worktreeMs),
    ...bySize("worktree_remove_ms", (s) => s.removeMs),
    max_concurrent_runs: maxConcurrent,
    overhead_large_vs_1k_ratio: round(sizeRatio, 3),
    overhead_vs_worktree_ratio_large: round(worktreeRatio, 4),
    overhead_vs_worktree_ratio_1k: small ? round(small.overheadMs / small.worktreeMs, 4) : null,
    concurrency_overhead_ms: Object.fromEntries(levels.map((l) => [l.k, round(l.overheadMs)])),
    target_large_vs_1k: pass(sizeRatio <= 1.5),
    target_vs_worktree: pass(worktreeRatio <= 0.1),
    failed_runs: failures.length,
  }),
);
