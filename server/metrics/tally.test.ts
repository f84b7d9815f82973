import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkRuns } from "@/server/db/schema";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { collectMetrics } from "./collect";

// The append-only tables' figures are folded into per-process totals once their rows settle:
// whatever the moment of the scrape, and however the rows fell between folds, the figures are
// the table's own.

let world: TestWorld;
const T0 = 1_800_000_000_000;
const MIN = 60_000;

beforeAll(async () => {
  world = await makeWorld();
});
afterAll(async () => {
  await world?.cleanup();
});

async function addRuns(n: number, at: number, outcome: "passed" | "failed", ms: number) {
  await world.db.insert(checkRuns).values(
    Array.from({ length: n }, () => ({
      place: "landing" as const,
      repo: "r",
      commit: "c",
      check: "unit",
      outcome,
      durationMs: ms,
      at,
    })),
  );
}

function sample(body: string, series: string): number | undefined {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const figures = async (now: number) => {
  const { text } = await collectMetrics(world.db, now);
  return {
    passed: sample(
      text,
      'hyperion_check_runs_total{repo="r",place="landing",check="unit",outcome="passed"}',
    ),
    failed: sample(text, 'hyperion_check_failures_total{repo="r",place="landing",check="unit"}'),
    count: sample(text, 'hyperion_check_run_duration_seconds_count{repo="r",place="landing"}'),
    sum: sample(text, 'hyperion_check_run_duration_seconds_sum{repo="r",place="landing"}'),
    le1: sample(
      text,
      'hyperion_check_run_duration_seconds_bucket{repo="r",place="landing",le="1"}',
    ),
  };
};

describe("tallies of append-only tables", () => {
  it("gives the table's figures before, across and after folds", async () => {
    await addRuns(3, T0, "passed", 500);
    // Nothing settled yet: all read live.
    expect(await figures(T0 + MIN)).toEqual({ passed: 3, failed: 0, count: 3, sum: 1.5, le1: 3 });
    // Settled: folded into the totals, and read no more.
    expect(await figures(T0 + 10 * MIN)).toEqual({
      passed: 3,
      failed: 0,
      count: 3,
      sum: 1.5,
      le1: 3,
    });
    // New rows on top of the folded ones: live until they settle, then folded too.
    await addRuns(2, T0 + 9 * MIN, "failed", 2000);
    expect(await figures(T0 + 10 * MIN)).toEqual({
      passed: 3,
      failed: 2,
      count: 5,
      sum: 5.5,
      le1: 3,
    });
    expect(await figures(T0 + 20 * MIN)).toEqual({
      passed: 3,
      failed: 2,
      count: 5,
      sum: 5.5,
      le1: 3,
    });
    // Two scrapes at once fold the same rows once.
    await addRuns(4, T0 + 21 * MIN, "passed", 100);
    const [a, b] = await Promise.all([figures(T0 + 40 * MIN), figures(T0 + 40 * MIN)]);
    expect(a).toEqual({ passed: 7, failed: 2, count: 9, sum: 5.9, le1: 7 });
    expect(b).toEqual(a);
    expect(await figures(T0 + 60 * MIN)).toEqual(a);
  });
});
