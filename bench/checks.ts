/**
 * `npm run bench:checks [-- --changes=24 --check-s=2 --broken-every=8]`: the merge queue with
 * checks as slow as a real suite's, against landing the changes one at a time, in one run.
 *
 * N single-file changes to disjoint files of a bare repository, each with one policy check that
 * sleeps S seconds and then runs a real command (grep for a BROKEN marker), confined like every
 * check. Baseline: one at a time — apply, commit, run the check on that commit, next. Hyperion:
 * the changes submitted and drained by the worker's 3 threads with the policy's speculative
 * pipeline, timed from the first claim to the last entry's end. Both, without broken changes and
 * with one change in `--broken-every` broken. Prints a table, then one JSON line (the run with
 * broken changes is its `with_broken` key).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { asc, eq, sql } from "drizzle-orm";
import { Policy } from "@/schemas/policy";
import { runChecks } from "@/server/checks/checks";
import type { LoadedConfig } from "@/server/config/load";
import { closeDb, dbFile, openDb } from "@/server/db/client";
import { changeQueueLogs, checkRuns, queueEntries } from "@/server/db/schema";
import { readEnv } from "@/server/env.mjs";
import { submitChanges } from "@/server/queue/submit";
import { tempDir } from "@/test-support/fixtures";
import { runSupervisor } from "@/workers/main";

const arg = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const CHANGES = arg("changes", 24);
const CHECK_S = arg("check-s", 2);
const BROKEN_EVERY = arg("broken-every", 8);
const THREADS = 3;
const BATCH = arg("batch", 8);

const policyInput = {
  areas: [{ name: "src", paths: ["src/**"], risk: "low" as const, lockScope: "files" as const }],
  checks: { slow: `sh -c 'sleep ${CHECK_S}; ! grep -rq BROKEN src'` },
  validation: { lint: [], test: ["slow"], byArea: {} },
  queue: { pipeline: { window: 32, batch: { max: BATCH }, flakyReruns: 1 } },
};
const policy = Policy.parse(policyInput);

const fileName = (n: number) => `src/f${n}.txt`;

function buildRepo(dir: string): void {
  execFileSync("git", ["init", "-q", "--bare", "-b", "main", dir]);
  const chunks: string[] = [];
  for (let n = 0; n < CHANGES; n++) {
    const body = `file ${n}\n`;
    chunks.push(`blob\nmark :${n + 1}\ndata ${Buffer.byteLength(body)}\n${body}\n`);
  }
  chunks.push(
    "commit refs/heads/main\ncommitter Bench <b@example.test> 1700000000 +0000\ndata 7\ninitial\n",
  );
  for (let n = 0; n < CHANGES; n++) chunks.push(`M 100644 :${n + 1} ${fileName(n)}\n`);
  chunks.push("\n");
  execFileSync("git", ["fast-import", "--quiet"], { cwd: dir, input: chunks.join("") });
}

const isBroken = (i: number, broken: boolean) => broken && i % BROKEN_EVERY === BROKEN_EVERY - 1;

function patchFor(i: number, broken: boolean): string {
  const f = fileName(i);
  const line = isBroken(i, broken) ? `BROKEN by change ${i}` : `changed by ${i}`;
  return [
    `diff --git a/${f} b/${f}`,
    `--- a/${f}`,
    `+++ b/${f}`,
    "@@ -1 +1,2 @@",
    ` file ${i}`,
    `+${line}`,
    "",
  ].join("\n");
}

/** One at a time: apply, commit, check that commit (confined), next; a broken one is undone. */
async function serial(bare: string, root: string, broken: boolean): Promise<number> {
  const work = path.join(root, `serial-${broken}`);
  execFileSync("git", ["clone", "-q", bare, work]);
  const git = (args: string[], input?: string) =>
    execFileSync("git", args, {
      cwd: work,
      input,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "B",
        GIT_AUTHOR_EMAIL: "b@example.test",
        GIT_COMMITTER_NAME: "B",
        GIT_COMMITTER_EMAIL: "b@example.test",
      },
    });
  const t0 = performance.now();
  for (let i = 0; i < CHANGES; i++) {
    git(["apply", "-"], patchFor(i, broken));
    git(["commit", "-qam", `change ${i}`]);
    const commit = git(["rev-parse", "HEAD"]).toString().trim();
    const res = await runChecks({
      gitDir: path.join(work, ".git"),
      commit,
      policy,
      checks: ["slow"],
      timeoutMs: 120_000,
    });
    if (!res.ok) git(["reset", "-q", "--hard", "HEAD~1"]);
  }
  const s = (performance.now() - t0) / 1000;
  fs.rmSync(work, { recursive: true, force: true });
  return s;
}

async function hyperion(bare: string, root: string, broken: boolean) {
  const dataDir = path.join(root, `data-${broken}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const configPath = path.join(dataDir, "hyperion.config.json");
  const repo = { name: "bench", path: bare, targetBranch: "main", policy: policyInput };
  fs.writeFileSync(configPath, JSON.stringify({ repositories: [repo] }));
  const env = readEnv({
    HYPERION_DATA: dataDir,
    HYPERION_CONFIG: configPath,
    HYPERION_POLL_MS: "5",
  });
  const config: LoadedConfig = {
    file: configPath,
    repositories: [{ name: "bench", path: bare, targetBranch: "main", policy }],
  };
  const db = openDb(dbFile(dataDir));
  await submitChanges(
    db,
    Array.from({ length: CHANGES }, (_, i) => ({
      repo: "bench",
      patch: patchFor(i, broken),
      summary: `change ${i}`,
      author: { name: "Bench", email: "bench@example.test" },
      taskId: `bench-${i}`,
      checks: ["slow"],
    })),
    config,
  );
  await runSupervisor(db, env, { threads: THREADS, drain: true });
  const logs = await db.select().from(changeQueueLogs).orderBy(asc(changeQueueLogs.id));
  const first = logs.find((l) => l.event.to === "applying")?.at ?? 0;
  const last = logs.reduce(
    (m, l) => (["merged", "quarantined"].includes(l.event.to) ? Math.max(m, l.at) : m),
    0,
  );
  const count = async (state: string) =>
    (
      await db
        .select({ n: sql<number>`count(*)` })
        .from(queueEntries)
        .where(eq(queueEntries.state, state as "merged"))
        .limit(1)
    )[0]?.n ?? 0;
  // One check run on one commit is one row per change it stood for: counted once.
  const runs =
    (
      await db
        .select({
          n: sql<number>`count(distinct ${checkRuns.commit} || ${checkRuns.check} || ${checkRuns.at})`,
        })
        .from(checkRuns)
        .limit(1)
    )[0]?.n ?? 0;
  const wronglyQuarantined = (
    await db
      .select({ summary: sql<string>`c.summary` })
      .from(queueEntries)
      .innerJoin(sql`change_requests c`, sql`c.id = ${queueEntries.changeRequestId}`)
      .where(eq(queueEntries.state, "quarantined"))
  ).filter((r) => !isBroken(Number(r.summary.split(" ")[1]), broken)).length;
  const out = {
    seconds: (last - first) / 1000,
    merged: await count("merged"),
    quarantined: await count("quarantined"),
    wronglyQuarantined,
    checkRuns: runs,
  };
  await closeDb(db);
  return out;
}

const root = tempDir("hyperion-bench-checks-");
const results: Record<string, unknown>[] = [];
for (const broken of [false, true]) {
  const bare = path.join(root, `repo-${broken}.git`);
  buildRepo(bare);
  process.stderr.write(
    `${broken ? `one in ${BROKEN_EVERY} broken` : "all good"}: one at a time…\n`,
  );
  const serialS = await serial(bare, root, broken);
  process.stderr.write("  hyperion, 3 threads, speculative pipeline…\n");
  const h = await hyperion(bare, root, broken);
  results.push({
    changes: CHANGES,
    check_s: CHECK_S,
    broken: broken ? Math.floor(CHANGES / BROKEN_EVERY) : 0,
    serial_s: Number(serialS.toFixed(2)),
    hyperion_s: Number(h.seconds.toFixed(2)),
    ratio: Number((serialS / h.seconds).toFixed(2)),
    check_runs_per_landed: Number((h.checkRuns / Math.max(1, h.merged)).toFixed(2)),
    merged: h.merged,
    quarantined: h.quarantined,
    good_quarantined: h.wronglyQuarantined,
  });
}
fs.rmSync(root, { recursive: true, force: true });
console.log(
  `\n${CHANGES} single-file changes, one check of ${CHECK_S} s each, ${THREADS} threads\n`,
);
console.log(
  "| broken | one at a time s | hyperion s | ratio | check runs / landed | merged | quarantined |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const r of results)
  console.log(
    `| ${r.broken} | ${r.serial_s} | ${r.hyperion_s} | ${r.ratio}× | ${r.check_runs_per_landed} | ${r.merged} | ${r.quarantined} |`,
  );
console.log(JSON.stringify({ ...results[0], with_broken: results[1] }));
