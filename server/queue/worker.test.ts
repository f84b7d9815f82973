import fs from "node:fs";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dbFile, openDb } from "@/server/db/client";
import { git } from "@/server/git/run";
import { tempDir } from "@/server/testing/fixtures";
import { countTrailers, makeRepoPair } from "@/server/testing/git-fixtures";

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
afterEach(() => {
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

function queueDb() {
  return openDb(dbFile(data));
}

describe("the worker process", () => {
  it("lands disjoint changes on three threads in parallel", async () => {
    const { payload } = await changes(30);
    expect((await hyperion(["submit", "-"], { input: payload })).exitCode).toBe(0);
    const run = await hyperion(["worker", "--drain", "--threads", "3"]);
    expect(run.exitCode, run.stderr).toBe(0);
    const db = queueDb();
    const states = db.$client
      .prepare("SELECT state, count(*) n FROM queue_entries GROUP BY state")
      .all();
    expect(states).toEqual([{ state: "merged", n: 30 }]);
    const owners = new Set(
      db.$client
        .prepare(
          "SELECT json_extract(event, '$.worker') FROM change_queue_logs WHERE json_extract(event, '$.to') = 'merged'",
        )
        .pluck()
        .all(),
    );
    expect(owners.size).toBeGreaterThan(1);
    db.$client.close();
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

  it("survives SIGKILL at random moments: every change merged exactly once or quarantined, and replay agrees", async () => {
    const N = 300;
    const { payload } = await changes(N);
    // At most 100 change requests per call: three calls.
    const all = JSON.parse(payload) as unknown[];
    for (let i = 0; i < N; i += 100) {
      const batch = JSON.stringify(all.slice(i, i + 100));
      expect((await hyperion(["submit", "-"], { input: batch })).exitCode).toBe(0);
    }
    const crashEnv = { HYPERION_LEASE_MS: "800", HYPERION_MAX_ATTEMPTS: "50" };
    let kills = 0;
    for (let round = 0; round < 30 && kills < 12; round++) {
      const child: ResultPromise = hyperion(["worker", "--threads", "3"], { env: crashEnv });
      await new Promise((r) => setTimeout(r, 400 + Math.random() * 1200));
      child.kill("SIGKILL");
      await child;
      kills++;
      const db = queueDb();
      const pending = db.$client
        .prepare("SELECT count(*) FROM queue_entries WHERE state NOT IN ('merged','quarantined')")
        .pluck()
        .get();
      db.$client.close();
      if (pending === 0) break;
    }
    expect(kills).toBeGreaterThanOrEqual(10);
    const final = await hyperion(["worker", "--drain", "--threads", "3"], { env: crashEnv });
    expect(final.exitCode, final.stderr).toBe(0);

    const db = queueDb();
    const rows = db.$client
      .prepare("SELECT change_request_id id, state, last_error FROM queue_entries")
      .all() as { id: number; state: string; last_error: string | null }[];
    db.$client.close();
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
