import type { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EntryError, EntryState } from "@/schemas/queue";
import {
  agentRuns,
  changeQueueLogs,
  changeRequests,
  checkRuns,
  queueEntries,
  tasks,
} from "@/server/db/schema";
import { ValidationError } from "@/server/errors";
import { type Context, createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { metricsHistory, metricsQuery } from "./metrics-history";

const MIN = 60_000;
const HOUR = 60 * MIN;
// 12:30 UTC: the day's buckets are the hours from 13:00 yesterday; the last is 12:00–13:00.
const NOON = Date.UTC(2026, 0, 7, 12, 0, 0);
const NOW = NOON + 30 * MIN;

let world: TestWorld;
let made = 0;

/** A queue entry with its log: each move is [from, to, at, error kind?]. */
async function entry(e: {
  repo?: string;
  state: EntryState;
  created: number;
  finished?: number;
  moves?: [EntryState | null, EntryState, number, EntryError["kind"]?][];
}) {
  made++;
  const [cr] = await world.db
    .insert(changeRequests)
    .values({
      taskId: "t-metrics",
      repo: e.repo ?? "demo",
      targetBranch: "main",
      patch: "",
      summary: `change ${made}`,
      authorName: "A",
      authorEmail: "a@example.test",
      checks: [],
      risk: "low",
      dryRun: false,
      createdAt: e.created,
    })
    .returning();
  const [row] = await world.db
    .insert(queueEntries)
    .values({
      changeRequestId: cr?.id ?? 0,
      repo: e.repo ?? "demo",
      targetBranch: "main",
      state: e.state,
      maxAttempts: 2,
      nextAttemptAt: e.created,
      createdAt: e.created,
      updatedAt: e.finished ?? e.created,
      finishedAt: e.finished ?? null,
    })
    .returning();
  const id = row?.id ?? 0;
  for (const [from, to, at, kind] of e.moves ?? [])
    await world.db.insert(changeQueueLogs).values({
      entryId: id,
      at,
      event: {
        entryId: id,
        from,
        to,
        worker: "w",
        attempt: 1,
        ...(kind ? { error: { kind, message: kind, paths: [] } } : {}),
      },
    });
  return id;
}

const landed = (finished: number, minutes: number, repo = "demo") =>
  entry({ repo, state: "merged", created: finished - minutes * MIN, finished });

beforeAll(async () => {
  world = await makeWorld();
  await world.db.insert(tasks).values({
    id: "t-metrics",
    repo: "demo",
    title: "metrics",
    source: "adhoc",
    createdAt: NOON - 3 * 24 * HOUR,
  });
}, 60_000);
afterAll(() => world.cleanup());

describe("metricsHistory", () => {
  it("an empty history: every bucket at zero, no rates, no percentiles", async () => {
    const h = await metricsHistory(world.db, { range: "day", repo: null }, NOW);
    expect(h.buckets).toHaveLength(24);
    expect(h.bucketMs).toBe(HOUR);
    expect(h.until).toBe(NOON + HOUR);
    expect(h.since).toBe(NOON + HOUR - 24 * HOUR);
    expect(h.buckets.every((b) => b.landings === 0 && b.queueP50Ms === null)).toBe(true);
    expect(h.totals).toMatchObject({
      landings: 0,
      finished: 0,
      successRate: null,
      conflictRate: null,
      failureRate: null,
      queueP50Ms: null,
      approvalsWaitingNow: 0,
      oldestWaitingMs: null,
    });
    expect(h.checks).toEqual([]);
    expect(h.agents).toEqual([]);
  });

  it("buckets landings, time in queue (p50, p95), rates, checks, agents and approvals", async () => {
    // 12:10: twenty landings that waited 1..20 minutes; the first met a conflict on the way.
    for (let m = 1; m <= 20; m++) {
      if (m === 1)
        await entry({
          state: "merged",
          created: NOON + 9 * MIN,
          finished: NOON + 10 * MIN,
          moves: [
            ["applying", "retry_wait", NOON + 9 * MIN, "conflict"],
            ["applying", "merged", NOON + 10 * MIN],
          ],
        });
      else await landed(NOON + 10 * MIN, m);
    }
    // 12:20: one quarantined after a conflict.
    await entry({
      state: "quarantined",
      created: NOON + 15 * MIN,
      finished: NOON + 20 * MIN,
      moves: [["applying", "quarantined", NOON + 20 * MIN, "conflict"]],
    });
    // 11:30 in another repository; two days ago (outside the day, inside the week).
    await landed(NOON - 30 * MIN, 5, "other");
    await landed(NOON - 48 * HOUR, 7);
    // Waiting for approval: one since 11:55 (still), one from 10:10 to 12:05.
    await entry({
      state: "awaiting_approval",
      created: NOON - 10 * MIN,
      moves: [["checking", "awaiting_approval", NOON - 5 * MIN]],
    });
    await entry({
      state: "ready",
      created: NOON - 2 * HOUR,
      moves: [
        ["checking", "awaiting_approval", NOON - 110 * MIN],
        ["awaiting_approval", "awaiting_approval", NOON - 100 * MIN],
        ["awaiting_approval", "ready", NOON + 5 * MIN],
      ],
    });
    // Checks at 12:15: test 100..400 ms (one failed), lint 50 ms.
    const check = (name: string, ms: number, outcome: "passed" | "failed" = "passed") =>
      world.db.insert(checkRuns).values({
        place: "landing",
        repo: "demo",
        commit: "c",
        check: name,
        outcome,
        durationMs: ms,
        at: NOON + 15 * MIN,
      });
    for (const ms of [100, 200, 300]) await check("test", ms);
    await check("test", 400, "failed");
    await check("lint", 50);
    // Agent runs started at 12:05.
    const run = (
      agent: "claude" | "codex",
      state: "submitted" | "failed" | "no_change",
      cost: number | null,
    ) =>
      world.db.insert(agentRuns).values({
        taskId: "t-metrics",
        repo: "demo",
        agent,
        state,
        owner: "w",
        taskAttempt: 1,
        inputTokens: 100,
        outputTokens: 20,
        costUsd: cost,
        createdAt: NOON + 5 * MIN,
      });
    await run("claude", "submitted", 0.5);
    await run("claude", "failed", 0.25);
    await run("codex", "no_change", null);

    const day = await metricsHistory(world.db, { range: "day", repo: null }, NOW);
    const last = day.buckets[23];
    expect(last).toMatchObject({
      start: NOON,
      landings: 20,
      finished: 21,
      failed: 1,
      conflicted: 2,
      queueP50Ms: 11 * MIN,
      queueP95Ms: 20 * MIN,
      checks: 5,
      checkFailures: 1,
      checkP50Ms: 200,
      checkP95Ms: 400,
      approvalsWaiting: 1,
    });
    expect(day.buckets[22]).toMatchObject({
      landings: 1,
      queueP50Ms: 5 * MIN,
      approvalsWaiting: 2,
    });
    expect(day.buckets[21]?.approvalsWaiting).toBe(1);
    expect(day.buckets[20]?.approvalsWaiting).toBe(0);
    expect(day.totals).toMatchObject({
      landings: 21,
      finished: 22,
      successRate: 21 / 22,
      conflictRate: 2 / 22,
      failureRate: 1 / 22,
      // 1..20 and 5 minutes, sorted: the 11th and the 20th.
      queueP50Ms: 10 * MIN,
      queueP95Ms: 19 * MIN,
      checks: 5,
      checkFailures: 1,
      agentRuns: 3,
      costUsd: 0.75,
      approvalsWaitingNow: 1,
      oldestWaitingMs: 35 * MIN,
    });
    expect(day.checks).toEqual([
      { check: "test", runs: 4, failures: 1, p50Ms: 300, p95Ms: 400 },
      { check: "lint", runs: 1, failures: 0, p50Ms: 50, p95Ms: 50 },
    ]);
    expect(day.agents).toEqual([
      {
        agent: "claude",
        runs: 2,
        submitted: 1,
        noChange: 0,
        failed: 1,
        costUsd: 0.75,
        tokens: 240,
      },
      { agent: "codex", runs: 1, submitted: 0, noChange: 1, failed: 0, costUsd: 0, tokens: 120 },
    ]);

    // One repository: only its history.
    const other = await metricsHistory(world.db, { range: "day", repo: "other" }, NOW);
    expect(other.totals).toMatchObject({ landings: 1, finished: 1, checks: 0, agentRuns: 0 });
    expect(other.buckets[22]?.landings).toBe(1);
    expect(other.totals.approvalsWaitingNow).toBe(0);

    // The last hour in 5-minute buckets (11:35–12:35); the week in 6-hour ones.
    const hour = await metricsHistory(world.db, { range: "hour", repo: null }, NOW);
    expect(hour.buckets).toHaveLength(12);
    expect(hour.since).toBe(NOON - 25 * MIN);
    expect(hour.totals.landings).toBe(20);
    expect(hour.buckets[7]).toMatchObject({ start: NOON + 10 * MIN, landings: 20 });
    const week = await metricsHistory(world.db, { range: "week", repo: "demo" }, NOW);
    expect(week.buckets).toHaveLength(28);
    expect(week.bucketMs).toBe(6 * HOUR);
    expect(week.totals.landings).toBe(21);
  });
});

describe("metricsQuery", () => {
  const repos = ["demo", "other"];
  it("defaults to the day and every repository", () => {
    expect(metricsQuery({}, repos)).toEqual({ range: "day", repo: null });
    expect(metricsQuery({ range: "week", repo: "other" }, repos)).toEqual({
      range: "week",
      repo: "other",
    });
    expect(metricsQuery({ range: "hour", repo: "" }, repos)).toEqual({ range: "hour", repo: null });
  });

  it("refuses an unknown range or repository, naming the field", () => {
    const refused = (input: { range?: unknown; repo?: unknown }) => {
      try {
        metricsQuery(input, repos);
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        return (e as ValidationError).issues;
      }
      throw new Error("accepted");
    };
    expect(refused({ range: "month" })).toEqual([
      { path: "range", message: 'unknown range "month": use hour, day or week' },
    ]);
    expect(refused({ repo: "nope" })[0]?.path).toBe("repo");
    expect(refused({ repo: "nope" })[0]?.message).toContain("demo, other");
    expect(refused({ range: 3, repo: "x" }).map((i) => i.path)).toEqual(["range", "repo"]);
  });
});

describe("metrics.history procedure", () => {
  const caller = (user: Context["user"]) =>
    createCallerFactory(appRouter)({
      db: world.db,
      env: world.env,
      user,
      crossOrigin: false,
      via: "session",
    } as Context);
  const error = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => e as TRPCError,
    );

  it("answers an operator; refuses a requester (403) and bad input (400, naming the field)", async () => {
    const operator = await world.userWith("operator");
    const h = await caller(operator).metrics.history({ range: "hour" });
    expect(h.buckets).toHaveLength(12);
    expect(h.repositories).toContain("demo");
    const requester = await world.userWith("requester");
    expect((await error(caller(requester).metrics.history({})))?.code).toBe("FORBIDDEN");
    const bad = await error(caller(operator).metrics.history({ range: "year" }));
    expect(bad?.code).toBe("BAD_REQUEST");
    expect(bad?.message).toContain("range: unknown range");
    const repo = await error(caller(operator).metrics.history({ repo: "missing" }));
    expect(repo?.code).toBe("BAD_REQUEST");
    expect(repo?.message).toContain("repo: unknown repository");
  });
});
