import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { execa, type ResultPromise } from "execa";
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { closeDb, dbFile, openDb } from "@/server/db/client";
import { rawAll, rawValue } from "@/server/db/sql";
import { git } from "@/server/git/run";
import { tempDir } from "@/test-support/fixtures";
import { countTrailers, makeRepoPair } from "@/test-support/git-fixtures";
import { mulberry32 } from "@/test-support/seeded";

const BIN = path.resolve("bin/hyperion.mjs");
let repo: Awaited<ReturnType<typeof makeRepoPair>>;
let data: string;

const FILES = 60;
beforeEach(async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < FILES; i++) files[`src/f${i}.txt`] = `file ${i}\n`;
  repo = await makeRepoPair(files);
  data = tempDir("hyperion-worker-");
  fs.writeFileSync(
    path.join(data, "hyperion.config.json"),
    JSON.stringify({ repositories: [{ name: "t", path: repo.bare, targetBranch: "main" }] }),
  );
});
afterEach(async () => {
  for (const child of running.splice(0)) {
    child.kill("SIGKILL");
    await child.catch(() => undefined);
  }
  repo.cleanup();
  fs.rmSync(data, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({
  HYPERION_DATA: data,
  HYPERION_BACKOFF_MS: "20",
  HYPERION_BACKOFF_MAX_MS: "100",
  HYPERION_POLL_MS: "20",
  ...extra,
});
const hyperion = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) =>
  execa("node", [BIN, ...args], { env: env(opts.env), input: opts.input, reject: false });

/** n single-file changes, each made on the same base, file i % FILES (so some overlap). */
async function changes(n: number, filesUsed = FILES) {
  const base = await repo.head();
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const file = `src/f${i % filesUsed}.txt`;
    const patch = [
      `diff --git a/${file} b/${file}`,
      `--- a/${file}`,
      `+++ b/${file}`,
      "@@ -1 +1,2 @@",
      ` file ${i % filesUsed}`,
      `+change ${i}`,
      "",
    ].join("\n");
    out.push({
      repo: "t",
      patch,
      summary: `change ${i}`,
      author: { name: "A", email: "a@example.test" },
      taskId: `task-${i}`,
    });
  }
  return { base, payload: JSON.stringify(out) };
}

/** Worker processes a test starts and leaves running; killed after it, whatever happened. */
const running: ResultPromise[] = [];
const trackChild = <T extends ResultPromise>(child: T): T => {
  running.push(child);
  return child;
};

function queueDb() {
  return openDb(dbFile(data));
}

/** Entries the queue is done with: merged or quarantined. */
const finished = async (db: ReturnType<typeof queueDb>): Promise<number> =>
  Number(
    await rawValue(
      db,
      sql`SELECT count(*) FROM queue_entries WHERE state IN ('merged','quarantined')`,
    ),
  );

/**
 * Waits for a condition on the database while a worker runs: polls `check` until it gives a
 * value. A worker that exits first fails the wait with its output instead of leaving it to hang.
 */
async function until<T>(worker: ResultPromise, check: () => Promise<T | undefined>): Promise<T> {
  let exited: string | null = null;
  void worker.then(
    (r) => {
      exited = `exit ${r.exitCode} ${r.signal ?? ""}\n${r.stderr}`;
    },
    (err: Error) => {
      exited = err.message;
    },
  );
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (exited !== null) throw new Error(`the worker stopped before the condition held: ${exited}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("the worker process", () => {
  it("lands disjoint changes on three threads at once: the log shows two threads holding entries at overlapping times", async () => {
    // The threads start before there is work, so no thread drains the queue before the
    // others are polling: the worker's heartbeats say when all three are in their loops.
    const db = queueDb(); // made and migrated here, before the worker opens it
    const worker = trackChild(hyperion(["worker", "--threads", "3"]));
    const threads = await until(worker, async () => {
      const ids = (
        await rawAll<{ id: string }>(
          db,
          sql`SELECT id FROM worker_heartbeats WHERE role = 'thread' AND stopped_at IS NULL`,
        )
      ).map((r) => r.id);
      return ids.length === 3 ? ids : undefined;
    });
    const { payload } = await changes(30);
    expect((await hyperion(["submit", "-"], { input: payload })).exitCode).toBe(0);
    await until(worker, async () => ((await finished(db)) === 30 ? true : undefined));
    worker.kill("SIGTERM");
    const run = await worker;
    expect(run.exitCode, run.stderr).toBe(0);

    const states = await rawAll(
      db,
      sql`SELECT state, count(*) n FROM queue_entries GROUP BY state`,
    );
    expect(states).toEqual([{ state: "merged", n: 30 }]);
    // Each entry's span in the hands of the thread that landed it, from its last claim
    // (→ applying) to merged, as positions in the log: its rows are numbered in the order the
    // database committed them, so the spans compare without any clock.
    const spans = await rawAll<{ entry: number; worker: string; start: number; end: number }>(
      db,
      sql`SELECT m.entry_id entry, json_extract(m.event, '$.worker') worker, m.id end,
                (SELECT max(a.id) FROM change_queue_logs a
                  WHERE a.entry_id = m.entry_id AND a.id < m.id
                    AND json_extract(a.event, '$.to') = 'applying') start
           FROM change_queue_logs m
          WHERE json_extract(m.event, '$.to') = 'merged'
          ORDER BY m.entry_id`,
    );
    await closeDb(db);
    expect(spans).toHaveLength(30);
    // A thread's repository loop holds its leases under the thread's name (`…/t0/t`).
    for (const s of spans) expect(threads).toContain(s.worker.split("/").slice(0, 2).join("/"));
    const owners = new Set(spans.map((s) => s.worker));
    expect(owners.size).toBeGreaterThan(1);
    // Parallel, not taking turns: some thread claimed an entry while another thread's entry
    // was claimed and not yet merged. Threads that ran one entry at a time between them would
    // leave every span disjoint.
    const overlapping = spans.flatMap((a) =>
      spans
        .filter((b) => b.worker !== a.worker && a.start < b.end && b.start < a.end)
        .map((b) => [a.entry, b.entry]),
    );
    expect(overlapping.length, JSON.stringify(spans)).toBeGreaterThan(0);
    const log = await repo.log();
    for (let id = 1; id <= 30; id++) expect(countTrailers(log, id)).toBe(1);
  });

  it("two workers on one database never land one entry twice", async () => {
    const { payload } = await changes(80, 40);
    expect((await hyperion(["submit", "-"], { input: payload })).exitCode).toBe(0);
    const [a, b] = await Promise.all([
      hyperion(["worker", "--drain", "--threads", "2"]),
      hyperion(["worker", "--drain", "--threads", "2"]),
    ]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    const log = await repo.log();
    for (let id = 1; id <= 80; id++) expect([id, countTrailers(log, id)]).toEqual([id, 1]);
    const text = await git(["show", "main:src/f0.txt"], { cwd: repo.bare });
    // Changes 0 and 40 touch the same file: both landed, in submission order.
    expect(text).toBe("file 0\nchange 40\nchange 0\n");
  });

  it("survives SIGKILL at seeded moments of its progress: every change merged exactly once or quarantined, and replay agrees", async () => {
    // KILL_CHANGES shortens it (npm test, bin/test.mjs, makes 150 changes and seven kills).
    const N = Number(process.env.KILL_CHANGES ?? 300);
    const { payload } = await changes(N);
    // At most 100 change requests per call: three calls.
    const all = JSON.parse(payload) as unknown[];
    for (let i = 0; i < N; i += 100) {
      const batch = JSON.stringify(all.slice(i, i + 100));
      expect((await hyperion(["submit", "-"], { input: batch })).exitCode).toBe(0);
    }
    const crashEnv = { HYPERION_LEASE_MS: "800", HYPERION_MAX_ATTEMPTS: "50" };
    // Seeded: the same kill moments every run. KILL_SEED=<n> tries others.
    const seed = Number(process.env.KILL_SEED ?? 20_260_612);
    onTestFailed(() => {
      console.error(`worker kill test: seed ${seed} (rerun with KILL_SEED=${seed})`);
    });
    const random = mulberry32(seed);
    // Kill moments defined by progress, not by the clock: each round kills the worker once
    // 1–20 more entries are done than before it started (it may be in the middle of others).
    // Twelve rounds need at most 240 of the 300 entries, so all twelve kills always happen (a
    // shorter run kills as often as its changes allow).
    const MAX_STEP = 20;
    const KILLS = Math.min(12, Math.floor((N - 1) / MAX_STEP));
    expect(KILLS * MAX_STEP).toBeLessThan(N);
    const db = queueDb();
    let kills = 0;
    while (kills < KILLS) {
      const target = (await finished(db)) + 1 + Math.floor(random() * MAX_STEP);
      const child = trackChild(hyperion(["worker", "--threads", "3"], { env: crashEnv }));
      await until(child, async () => ((await finished(db)) >= target ? true : undefined));
      child.kill("SIGKILL");
      await child;
      kills++;
    }
    await closeDb(db);
    expect(kills).toBe(KILLS);
    const final = await hyperion(["worker", "--drain", "--threads", "3"], { env: crashEnv });
    expect(final.exitCode, final.stderr).toBe(0);

    const after = queueDb();
    const rows = await rawAll<{ id: number; state: string; last_error: string | null }>(
      after,
      sql`SELECT change_request_id id, state, last_error FROM queue_entries`,
    );
    await closeDb(after);
    expect(rows).toHaveLength(N);
    const log = await repo.log();
    for (const row of rows) {
      const landed = countTrailers(log, row.id);
      if (row.state === "merged") expect([row.id, landed]).toEqual([row.id, 1]);
      else {
        expect([row.id, row.state]).toEqual([row.id, "quarantined"]);
        expect(landed).toBe(0);
        expect(row.last_error).toBeTruthy();
      }
    }
    const replay = await hyperion(["replay", "--json"]);
    expect(replay.exitCode, replay.stdout).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ entries: N, divergences: [] });
  }, 240_000);

  it("a speculative pipeline survives SIGKILL at seeded moments of its progress: nothing lands twice or unchecked, every broken change is quarantined", async () => {
    // The pipeline's policy: a confined check that fails on the word BROKEN under src/.
    fs.writeFileSync(
      path.join(data, "hyperion.config.json"),
      JSON.stringify({
        repositories: [
          {
            name: "t",
            path: repo.bare,
            targetBranch: "main",
            policy: {
              checks: { clean: "sh -c '! grep -rq BROKEN src'" },
              queue: { pipeline: { window: 8, batch: { max: 4 }, flakyReruns: 0 } },
            },
          },
        ],
      }),
    );
    const N = 32;
    const broken = (i: number) => i % 8 === 5;
    const all = (JSON.parse((await changes(N, 24)).payload) as { patch: string }[]).map((c, i) => ({
      ...c,
      checks: ["clean"],
      patch: broken(i) ? c.patch.replace(`+change ${i}`, `+BROKEN ${i}`) : c.patch,
    }));
    const crashEnv = { HYPERION_LEASE_MS: "800", HYPERION_MAX_ATTEMPTS: "50" };
    const submitted = await hyperion(["submit", "-"], {
      input: JSON.stringify(all),
      env: crashEnv,
    });
    expect(submitted.exitCode).toBe(0);
    const seed = Number(process.env.KILL_SEED ?? 20_261_206);
    onTestFailed(() => {
      console.error(`pipeline kill test: seed ${seed} (rerun with KILL_SEED=${seed})`);
    });
    const random = mulberry32(seed);
    // Progress is what the lane records: a check run at landing, or an entry done. Each round
    // kills the worker once 1–6 more of those happened, often in the middle of a round.
    const db = queueDb();
    const progress = async () =>
      (await finished(db)) + Number(await rawValue(db, sql`SELECT count(*) FROM check_runs`));
    const KILLS = 6;
    for (let kills = 0; kills < KILLS && (await finished(db)) < N; kills++) {
      const target = (await progress()) + 1 + Math.floor(random() * 6);
      const child = trackChild(hyperion(["worker", "--threads", "3"], { env: crashEnv }));
      await until(child, async () =>
        (await progress()) >= target || (await finished(db)) === N ? true : undefined,
      );
      child.kill("SIGKILL");
      await child;
    }
    await closeDb(db);
    const final = await hyperion(["worker", "--drain", "--threads", "3"], { env: crashEnv });
    expect(final.exitCode, final.stderr).toBe(0);

    const after = queueDb();
    const rows = await rawAll<{ id: number; state: string; last_error: string | null }>(
      after,
      sql`SELECT change_request_id id, state, last_error FROM queue_entries ORDER BY id`,
    );
    await closeDb(after);
    expect(rows).toHaveLength(N);
    const log = await repo.log();
    for (const [i, row] of rows.entries()) {
      if (broken(i)) {
        expect([row.id, row.state]).toEqual([row.id, "quarantined"]);
        expect(row.last_error).toContain("check_failed");
        expect(countTrailers(log, row.id)).toBe(0);
      } else {
        expect([row.id, row.state]).toEqual([row.id, "merged"]);
        expect([row.id, countTrailers(log, row.id)]).toEqual([row.id, 1]);
      }
    }
    // Every commit the branch moved through passes the check as it stands.
    const chain = (await git(["rev-list", "--first-parent", "main"], { cwd: repo.bare }))
      .trim()
      .split("\n");
    for (const sha of chain) {
      const found = await git(["grep", "-c", "BROKEN", sha, "--", "src"], {
        cwd: repo.bare,
      }).catch(() => "");
      expect(found, `commit ${sha} carries a broken change`).toBe("");
    }
  }, 300_000);

  it("rolls back a merged change through the queue and marks the original rolled_back", async () => {
    const { payload } = await changes(1);
    await hyperion(["submit", "-"], { input: payload });
    await hyperion(["worker", "--drain", "--threads", "1"]);
    const rb = await hyperion(["rollback", "1"]);
    expect(rb.exitCode, rb.stderr).toBe(0);
    expect((await hyperion(["worker", "--drain", "--threads", "1"])).exitCode).toBe(0);
    expect(await git(["show", "main:src/f0.txt"], { cwd: repo.bare })).toBe("file 0\n");
    const status = JSON.parse((await hyperion(["status", "--json"])).stdout);
    expect(status.counts).toMatchObject({ merged: 1, rolled_back: 1 });
    expect(await repo.log()).toContain("Hyperion-Reverts: 1");
  });

  it("status, quarantine list and retry tell an operator what to do", async () => {
    const bad = {
      repo: "t",
      patch:
        "diff --git a/src/f0.txt b/src/f0.txt\n--- a/src/f0.txt\n+++ b/src/f0.txt\n@@ -1 +1 @@\n-not the text\n+x\n",
      summary: "bad",
      author: { name: "A", email: "a@example.test" },
    };
    await hyperion(["submit", "-"], { input: JSON.stringify(bad) });
    await hyperion(["worker", "--drain", "--threads", "1"], {
      env: { HYPERION_MAX_ATTEMPTS: "2" },
    });
    const list = await hyperion(["quarantine", "list"]);
    expect(list.stdout).toContain("conflict");
    expect(list.stdout).toContain("src/f0.txt");
    expect(list.stdout).toContain("hyperion retry <entry>");
    const retry = await hyperion(["retry", "1"]);
    expect(retry.exitCode).toBe(0);
    const status = JSON.parse((await hyperion(["status", "--json"])).stdout);
    expect(status.counts.queued).toBe(1);
    expect(status.oldestPendingAgeMs).toBeGreaterThanOrEqual(0);
    const again = await hyperion(["retry", "1"]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain("only a quarantined entry can be retried");
  });

  it("submit refuses invalid input with every problem and queues nothing", async () => {
    const res = await hyperion(["submit", "-"], {
      input: JSON.stringify([
        { repo: "t", patch: "nope", summary: "", author: { name: "A", email: "x" } },
      ]),
    });
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain("[0].summary");
    expect(res.stderr).toContain("[0].author.email");
    const status = JSON.parse((await hyperion(["status", "--json"])).stdout);
    expect(status.counts.queued).toBe(0);
  });
});
