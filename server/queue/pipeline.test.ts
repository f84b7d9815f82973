import { asc } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import type { LoadedConfig } from "@/server/config/load";
import { checkRuns, queueEntries } from "@/server/db/schema";
import { git } from "@/server/git/run";
import { medianCheckMs, queueBoard } from "@/server/views/board";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { makeRepoPair } from "@/test-support/git-fixtures";
import { claimNext } from "../state/queue/claim";
import { notePipeline } from "../state/queue/store";
import { defaultLoopOptions } from "./loop";
import { runPipeline } from "./pipeline";
import type { ProcessContext } from "./process";
import { submitChanges } from "./submit";

// The speculative pipeline on a real repository with real confined checks: a check that fails
// when any file under src/ holds the word BROKEN.

const N = 8;
let world: TestWorld;
let repo: Awaited<ReturnType<typeof makeRepoPair>>;
let config: LoadedConfig;

const file = (i: number) => `src/f${i}.txt`;
const policyWith = (batchMax: number) =>
  Policy.parse({
    checks: { clean: "sh -c '! grep -rq BROKEN src'" },
    queue: { pipeline: { window: 16, batch: { max: batchMax }, flakyReruns: 1 } },
  });

beforeEach(async () => {
  world = await makeWorld();
  repo = await makeRepoPair(
    Object.fromEntries(Array.from({ length: N }, (_, i) => [file(i), `file ${i}\n`])),
  );
  config = {
    file: "test",
    repositories: [{ name: "t", path: repo.bare, targetBranch: "main", policy: policyWith(8) }],
  };
});
afterEach(async () => {
  await world.cleanup();
  repo.cleanup();
});

/** A patch adding a line to file i (the word BROKEN in it when `broken`). */
const patchFor = (i: number, line: string) =>
  [
    `diff --git a/${file(i)} b/${file(i)}`,
    `--- a/${file(i)}`,
    `+++ b/${file(i)}`,
    "@@ -1 +1,2 @@",
    ` file ${i}`,
    `+${line}`,
    "",
  ].join("\n");

async function submitAll(lines: string[]) {
  return submitChanges(
    world.db,
    lines.map((line, i) => ({
      repo: "t",
      patch: patchFor(i, line),
      summary: `change ${i}`,
      author: { name: "A", email: "a@example.test" },
      checks: ["clean"],
    })),
    config,
  );
}

async function runLane() {
  const opts = { ...defaultLoopOptions({}), backoffBaseMs: 0, backoffMaxMs: 0, drain: true };
  const ctx: ProcessContext = { db: world.db, config, owner: "lane", opts, stores: new Map() };
  const first = await claimNext(world.db, "lane", opts);
  if (!first) throw new Error("nothing to claim");
  const settings = config.repositories[0]?.policy?.queue?.pipeline;
  if (!settings) throw new Error("no pipeline");
  try {
    return await runPipeline(ctx, first, settings);
  } finally {
    for (const s of ctx.stores.values()) s.close();
  }
}

const entries = async () =>
  await world.db.select().from(queueEntries).orderBy(asc(queueEntries.id));
const firstParents = async () =>
  (await git(["rev-list", "--first-parent", "main"], { cwd: repo.bare })).trim().split("\n");

describe("the speculative pipeline", () => {
  it("lands a lane of good changes in one move: one commit per change, in order, checked once on the top", async () => {
    await submitAll(Array.from({ length: N }, (_, i) => `good ${i}`));
    const report = await runLane();
    const all = await entries();
    expect(all.map((e) => e.state)).toEqual(Array(N).fill("merged"));
    // Each change its own commit, in submission order, each the parent of the next.
    const chain = (await firstParents()).slice(0, N).reverse();
    expect(chain).toEqual(all.map((e) => e.mergedCommit));
    const log = await git(["log", "--format=%B", "main"], { cwd: repo.bare });
    for (const e of all) expect(log).toContain(`Hyperion-Change-Request: ${e.changeRequestId}`);
    // One check run, on the top commit — the branch as it now stands — recorded for every change.
    expect(report.checkRuns).toBe(1);
    const runs = await world.db.select().from(checkRuns);
    expect(new Set(runs.map((r) => r.commit))).toEqual(new Set([all.at(-1)?.mergedCommit]));
    expect(runs.map((r) => r.entryId).sort()).toEqual(all.map((e) => e.id).sort());
    expect(report.rounds).toHaveLength(1);
  });

  it("finds the one broken change of a batch of 8 in at most ⌈log₂ 8⌉ + 1 rounds, quarantines it with the output and lands the rest", async () => {
    const bad = 5;
    await submitAll(Array.from({ length: N }, (_, i) => (i === bad ? "BROKEN" : `good ${i}`)));
    const report = await runLane();
    const all = await entries();
    expect(all.map((e, i) => [i, e.state])).toEqual(
      all.map((_, i) => [i, i === bad ? "quarantined" : "merged"]),
    );
    expect(all[bad]?.lastError).toMatchObject({ kind: "check_failed" });
    expect(all[bad]?.lastError?.message).toContain("clean");
    // Found (and quarantined) within ⌈log₂ 8⌉ + 1 = 4 rounds; what was left landed after.
    const foundBy = report.rounds.findIndex((r, i) => i > 0 && r.batches.includes(1)) + 1;
    expect(foundBy).toBeGreaterThan(0);
    expect(foundBy).toBeLessThanOrEqual(Math.ceil(Math.log2(N)) + 1);
    // No commit on the branch carries the broken line.
    const tree = await git(["grep", "-c", "BROKEN", "main", "--", "src"], { cwd: repo.bare }).catch(
      () => "",
    );
    expect(tree).toBe("");
    // Every landed change is on the branch exactly once.
    const log = await git(["log", "--format=%B", "main"], { cwd: repo.bare });
    for (const e of all.filter((x) => x.state === "merged"))
      expect(log.split(`Hyperion-Change-Request: ${e.changeRequestId}\n`)).toHaveLength(2);
  });

  it("keeps changes to a common path in submission order, and stacks rather than probes them", async () => {
    config.repositories[0] = { ...config.repositories[0], policy: policyWith(2) } as never;
    // Changes 0 and 1 touch f0 (on top of each other); change 2 is broken.
    const [first] = await submitChanges(
      world.db,
      [
        { line: "one", base: "file 0\n" },
        { line: "two", base: "file 0\none\n" },
      ].map(({ line, base }, i) => ({
        repo: "t",
        patch: [
          `diff --git a/${file(0)} b/${file(0)}`,
          `--- a/${file(0)}`,
          `+++ b/${file(0)}`,
          `@@ -1,${base.split("\n").length - 1} +1,${base.split("\n").length} @@`,
          ...base
            .trimEnd()
            .split("\n")
            .map((l) => ` ${l}`),
          `+${line}`,
          "",
        ].join("\n"),
        summary: `change ${i}`,
        author: { name: "A", email: "a@example.test" },
        checks: ["clean"],
      })),
      config,
    );
    expect(first).toBeDefined();
    await submitChanges(
      world.db,
      [
        {
          repo: "t",
          patch: patchFor(2, "BROKEN"),
          summary: "change 2",
          author: { name: "A", email: "a@example.test" },
          checks: ["clean"],
        },
      ],
      config,
    );
    await runLane();
    // The second change to f0 waits for the first (claimed into a later lane, or this one after it).
    while ((await entries()).some((e) => e.state === "queued" || e.state === "retry_wait"))
      await runLane();
    const all = await entries();
    expect(all.map((e) => e.state)).toEqual(["merged", "merged", "quarantined"]);
    const chain = (await firstParents()).reverse();
    expect(chain.indexOf(all[0]?.mergedCommit ?? "")).toBeLessThan(
      chain.indexOf(all[1]?.mergedCommit ?? ""),
    );
    expect(await git(["show", `main:${file(0)}`], { cwd: repo.bare })).toBe("file 0\none\ntwo\n");
  });
});

describe("/queue's view of the pipeline", () => {
  it("shows where a round put an entry and when queued ones should land, from measured checks", async () => {
    await submitAll(["good 0", "good 1"]);
    await runLane();
    const median = await medianCheckMs(world.db, "t");
    expect(median).toBeGreaterThan(0);
    // Three more: one in a lane's round (as the pipeline notes it), two queued behind.
    await submitAll(["good 2", "good 3", "good 4"]);
    const opts = { ...defaultLoopOptions({}), backoffBaseMs: 0 };
    const held = await claimNext(world.db, "lane", opts);
    if (!held) throw new Error("nothing claimed");
    await notePipeline(world.db, [held.id], "lane", {
      round: 2,
      role: "probe",
      batch: 1,
      of: 2,
      size: 1,
      stackedOn: 2,
      window: 16,
    });
    const board = await queueBoard(world.db);
    const row = (id: number) => board.moving.find((e) => e.id === id);
    expect(row(held.id)?.pipeline).toMatchObject({ role: "probe", stackedOn: 2, round: 2 });
    const queued = board.moving.filter((e) => e.state === "queued");
    expect(queued.map((e) => e.etaMs)).toEqual([2 * (median ?? 0), 2 * (median ?? 0)]);
  });
});

describe("the pipeline's policy", () => {
  it("refuses a window of 0, a batch larger than the window and negative re-runs, naming the key", () => {
    const issues = (pipeline: unknown) => {
      const r = Policy.safeParse({ queue: { pipeline } });
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    };
    expect(issues({ window: 0 })).toEqual(["queue.pipeline.window: must be at least 1"]);
    expect(issues({ window: 4, batch: { max: 8 } })).toEqual([
      "queue.pipeline.batch.max: is 8, larger than the window (4): a batch must fit in it",
    ]);
    expect(issues({ flakyReruns: -1 })).toEqual([
      "queue.pipeline.flakyReruns: must not be negative",
    ]);
    expect(issues({ lanes: "areas" })).toHaveLength(1);
    expect(issues({ window: 8, batch: { max: 4 } })).toEqual([]);
  });
});
