/**
 * `npm run bench:merge [-- --quick]`: the merge queue against the naive baseline, in one run.
 *
 * For each repository size it builds a bare repository (git fast-import) and 1 000 single-file
 * change requests against its tip (10% touch a file another one touches, on other lines), then:
 *   (a) baseline: a serial loop of `git apply`, `git add -A`, `git commit` in one working tree;
 *   (b) Hyperion: the same changes submitted and drained by the worker with 1 thread, then 3.
 * Hyperion's time runs from the first claim to the last landing (from change_queue_logs);
 * submission (validation) is timed apart. Prints a table, then one JSON line.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { asc, sql } from "drizzle-orm";
import { execa } from "execa";
import type { LoadedConfig } from "@/server/config/load";
import { closeDb, dbFile, openDb } from "@/server/db/client";
import { changeQueueLogs, queueEntries } from "@/server/db/schema";
import { readEnv } from "@/server/env.mjs";
import { blobOid } from "@/server/git/objects";
import { submitChanges } from "@/server/queue/submit";
import { syncRemote } from "@/server/remotes/sync";
import { tempDir } from "@/test-support/fixtures";
import { runSupervisor } from "@/workers/main";

const quick = process.argv.includes("--quick");
const remoteMode = process.argv.includes("--remote");
const fullBaseline = process.argv.includes("--full-baseline");
const sizesArg = process.argv.find((a) => a.startsWith("--sizes="))?.split("=")[1];
const SIZES = sizesArg
  ? sizesArg.split(",").map(Number)
  : quick
    ? [1_000, 10_000]
    : [1_000, 10_000, 100_000];
const CHANGES = Number(
  process.argv.find((a) => a.startsWith("--changes="))?.split("=")[1] ?? (quick ? 200 : 1_000),
);
const LINES = 20;

const fileName = (n: number) => `src/d${Math.floor(n / 100)}/f${n}.txt`;
const content = (n: number) =>
  `${Array.from({ length: LINES }, (_, i) => `file ${n} line ${i + 1}`).join("\n")}\n`;
const gitEnv = {
  GIT_AUTHOR_NAME: "Bench",
  GIT_AUTHOR_EMAIL: "b@example.test",
  GIT_COMMITTER_NAME: "Bench",
  GIT_COMMITTER_EMAIL: "b@example.test",
};

function buildRepo(dir: string, files: number): void {
  execFileSync("git", ["init", "-q", "--bare", "-b", "main", dir]);
  const chunks: string[] = [];
  for (let n = 0; n < files; n++) {
    const body = content(n);
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
    maxBuffer: 1 << 30,
  });
}

/** 1 000 single-file patches; every tenth reuses the file of the change before it, another line. */
function makePatches(files: number, count: number): string[] {
  const patches: string[] = [];
  const stride = Math.max(1, Math.floor(files / count));
  for (let i = 0; i < count; i++) {
    const overlap = i % 10 === 9;
    const n = ((overlap ? i - 1 : i) * stride) % files;
    const line = overlap ? 16 : 4;
    const before = content(n);
    const lines = before.split("\n");
    lines[line - 1] = `file ${n} line ${line} changed by ${i}`;
    const after = lines.join("\n");
    const ctx = (k: number) => ` file ${n} line ${k}`;
    const hunk = [
      `@@ -${line - 3},7 +${line - 3},7 @@`,
      ctx(line - 3),
      ctx(line - 2),
      ctx(line - 1),
      `-file ${n} line ${line}`,
      `+file ${n} line ${line} changed by ${i}`,
      ctx(line + 1),
      ctx(line + 2),
      ctx(line + 3),
    ];
    patches.push(
      [
        `diff --git a/${fileName(n)} b/${fileName(n)}`,
        `index ${blobOid(Buffer.from(before))}..${blobOid(Buffer.from(after))} 100644`,
        `--- a/${fileName(n)}`,
        `+++ b/${fileName(n)}`,
        ...hunk,
        "",
      ].join("\n"),
    );
  }
  return patches;
}

async function baseline(bare: string, patches: string[], root: string): Promise<number> {
  const work = path.join(root, "baseline-work");
  execFileSync("git", ["clone", "-q", bare, work]);
  const t0 = performance.now();
  for (const patch of patches) {
    await execa("git", ["apply", "-"], { cwd: work, input: patch });
    await execa("git", ["add", "-A"], { cwd: work });
    await execa("git", ["commit", "-q", "-m", "change"], { cwd: work, env: gitEnv });
  }
  const seconds = (performance.now() - t0) / 1000;
  fs.rmSync(work, { recursive: true, force: true });
  return seconds;
}

async function hyperion(
  bare: string,
  patches: string[],
  threads: number,
  root: string,
  remote = false,
): Promise<{ drain: number; submit: number; merged: number }> {
  const base = execFileSync("git", ["rev-parse", "main"], { cwd: bare }).toString().trim();
  const dataDir = path.join(root, `data-${threads}${remote ? "-remote" : ""}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const env = readEnv({
    HYPERION_DATA: dataDir,
    HYPERION_CONFIG: path.join(dataDir, "hyperion.config.json"),
    HYPERION_POLL_MS: "5",
  });
  const repo = remote
    ? {
        name: "bench",
        remote: `file://${bare}`,
        path: path.join(dataDir, "mirrors", "bench.git"),
        targetBranch: "main",
      }
    : { name: "bench", path: bare, targetBranch: "main" };
  const config: LoadedConfig = { file: env.configPath, repositories: [repo] };
  fs.writeFileSync(env.configPath, JSON.stringify({ repositories: [repo] }));
  // The mirror is fetched before the changes are checked against it.
  if (remote) await syncRemote(openDb(dbFile(dataDir)), repo);
  const db = openDb(dbFile(dataDir));
  const author = { name: "Bench", email: "bench@example.test" };
  const s0 = performance.now();
  for (let i = 0; i < patches.length; i += 100) {
    const batch = patches.slice(i, i + 100).map((patch, k) => ({
      repo: "bench",
      patch,
      summary: `change ${i + k}`,
      author,
      taskId: `bench-${i + k}`,
    }));
    await submitChanges(db, batch, config);
  }
  const submit = (performance.now() - s0) / 1000;
  await runSupervisor(db, env, { threads, drain: true });
  const logs = await db.select().from(changeQueueLogs).orderBy(asc(changeQueueLogs.id));
  const first = logs.find((l) => l.event.to === "applying")?.at ?? 0;
  const last = logs.reduce((m, l) => (l.event.to === "merged" ? Math.max(m, l.at) : m), 0);
  const merged =
    (
      await db
        .select({ n: sql<number>`count(*)` })
        .from(queueEntries)
        .where(sql`state = 'merged'`)
        .limit(1)
    )[0]?.n ?? 0;
  await closeDb(db);
  // Reset the branch so the next run starts from the same tip.
  execFileSync("git", ["update-ref", "refs/heads/main", base], { cwd: bare });
  execFileSync(
    "sh",
    ["-c", "git for-each-ref --format='delete %(refname)' refs/hyperion | git update-ref --stdin"],
    { cwd: bare },
  );
  return { drain: (last - first) / 1000, submit, merged };
}

type Row = {
  files: number;
  baseline_s: number | null;
  hyperion1_s: number;
  hyperion3_s: number;
  submit_s: number;
  merged1: number;
  merged3: number;
  remote3_s: number | null;
  mergedRemote: number | null;
};
const rows: Row[] = [];
for (const files of SIZES) {
  const root = tempDir("hyperion-bench-merge-");
  const bare = path.join(root, "repo.git");
  process.stderr.write(`building a repository of ${files} files…\n`);
  buildRepo(bare, files);
  const patches = makePatches(files, CHANGES);
  const runBaseline = !process.argv.includes("--no-baseline") && (files <= 10_000 || fullBaseline);
  process.stderr.write(
    runBaseline
      ? `  baseline: ${CHANGES} × git apply/add/commit…\n`
      : "  baseline skipped at this size (--full-baseline runs it)\n",
  );
  const base = runBaseline ? await baseline(bare, patches, root) : null;
  process.stderr.write("  hyperion, 1 thread…\n");
  const one = await hyperion(bare, patches, 1, root);
  process.stderr.write("  hyperion, 3 threads…\n");
  const three = await hyperion(bare, patches, 3, root);
  let far: Awaited<ReturnType<typeof hyperion>> | null = null;
  if (remoteMode) {
    process.stderr.write("  hyperion, 3 threads, onto a remote (file://)…\n");
    far = await hyperion(bare, patches, 3, root, true);
  }
  rows.push({
    files,
    baseline_s: base,
    hyperion1_s: one.drain,
    hyperion3_s: three.drain,
    submit_s: one.submit,
    merged1: one.merged,
    merged3: three.merged,
    remote3_s: far?.drain ?? null,
    mergedRemote: far?.merged ?? null,
  });
  fs.rmSync(root, { recursive: true, force: true });
}

const f = (x: number | null, d = 2) => (x === null ? "—" : x.toFixed(d));
console.log(`\n${CHANGES} single-file changes per size (10% share a file with another)\n`);
console.log(
  "| files | baseline s | hyperion 1 thread s | hyperion 3 threads s | vs baseline | 3 vs 1 thread | ms/change (1 thread) | submit s | merged (1/3) |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(
    `| ${r.files} | ${f(r.baseline_s)} | ${f(r.hyperion1_s)} | ${f(r.hyperion3_s)} | ${r.baseline_s ? f(r.baseline_s / r.hyperion3_s, 1) : "—"}× | ${f(r.hyperion1_s / r.hyperion3_s)}× | ${f((r.hyperion1_s * 1000) / CHANGES, 1)} | ${f(r.submit_s)} | ${r.merged1}/${r.merged3} |`,
  );
}
if (remoteMode) {
  console.log(
    "\n| files | local 3 threads s | remote 3 threads s | remote / local | merged (remote) |",
  );
  console.log("| --- | --- | --- | --- | --- |");
  for (const r of rows)
    console.log(
      `| ${r.files} | ${f(r.hyperion3_s)} | ${f(r.remote3_s)} | ${r.remote3_s ? f(r.remote3_s / r.hyperion3_s) : "—"}× | ${r.mergedRemote ?? "—"} |`,
    );
}
const at = (n: number) => rows.find((r) => r.files === n);
const main = at(10_000) ?? rows[rows.length - 1];
const small = at(1_000);
const large = at(100_000);
console.log(
  JSON.stringify({
    files: main?.files,
    changes: CHANGES,
    baseline_s: main?.baseline_s,
    hyperion1_s: main?.hyperion1_s,
    hyperion3_s: main?.hyperion3_s,
    speedup_vs_baseline:
      main?.baseline_s && main.hyperion3_s
        ? Number((main.baseline_s / main.hyperion3_s).toFixed(2))
        : null,
    speedup_vs_1_thread: main ? Number((main.hyperion1_s / main.hyperion3_s).toFixed(2)) : null,
    ms_per_change_1k_files: small
      ? Number(((small.hyperion1_s * 1000) / CHANGES).toFixed(2))
      : null,
    ...(remoteMode && main?.remote3_s
      ? {
          remote3_s: main.remote3_s,
          remote_vs_local: Number((main.remote3_s / main.hyperion3_s).toFixed(2)),
        }
      : {}),
    ms_per_change_100k_files: large
      ? Number(((large.hyperion1_s * 1000) / CHANGES).toFixed(2))
      : null,
  }),
);
