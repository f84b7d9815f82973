import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import type { LoadedConfig } from "@/server/config/load";
import { checkRuns, queueEntries } from "@/server/db/schema";
import { defaultLoopOptions } from "@/server/queue/loop";
import { runPipeline } from "@/server/queue/pipeline";
import type { ProcessContext } from "@/server/queue/process";
import { submitChanges } from "@/server/queue/submit";
import { claimNext } from "@/server/state/queue/claim";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { makeRepoPair } from "@/test-support/git-fixtures";
import { collectMetrics } from "./collect";

// The speculative pipeline's figures, after a real lane of 8 changes, one of them broken, was
// bisected: batch sizes and the changes that landed as probes, from what the pipeline stored.

const N = 8;
let world: TestWorld;
let repo: Awaited<ReturnType<typeof makeRepoPair>>;
const file = (i: number) => `src/f${i}.txt`;

beforeAll(async () => {
  world = await makeWorld();
  repo = await makeRepoPair(
    Object.fromEntries(Array.from({ length: N }, (_, i) => [file(i), `file ${i}\n`])),
  );
  const policy = Policy.parse({
    checks: { clean: "sh -c '! grep -rq BROKEN src'" },
    queue: { pipeline: { window: 16, batch: { max: 8 }, flakyReruns: 1 } },
  });
  const config: LoadedConfig = {
    file: "test",
    repositories: [{ name: "t", path: repo.bare, targetBranch: "main", policy }],
  };
  await submitChanges(
    world.db,
    Array.from({ length: N }, (_, i) => ({
      repo: "t",
      patch: [
        `diff --git a/${file(i)} b/${file(i)}`,
        `--- a/${file(i)}`,
        `+++ b/${file(i)}`,
        "@@ -1 +1,2 @@",
        ` file ${i}`,
        `+${i === 5 ? "BROKEN" : `good ${i}`}`,
        "",
      ].join("\n"),
      summary: `change ${i}`,
      author: { name: "A", email: "a@example.test" },
      checks: ["clean"],
    })),
    config,
  );
  const opts = { ...defaultLoopOptions({}), backoffBaseMs: 0, backoffMaxMs: 0, drain: true };
  const ctx: ProcessContext = { db: world.db, config, owner: "lane", opts, stores: new Map() };
  const first = await claimNext(world.db, "lane", opts);
  if (!first) throw new Error("nothing to claim");
  const settings = policy.queue?.pipeline;
  if (!settings) throw new Error("no pipeline");
  try {
    await runPipeline(ctx, first, settings);
  } finally {
    for (const s of ctx.stores.values()) s.close();
  }
}, 180_000);

afterAll(async () => {
  await world?.cleanup();
  repo?.cleanup();
});

function sample(body: string, series: string): number | undefined {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("the speculative pipeline's metrics", () => {
  it("counts the landed changes' batches and the ones that landed as bisection probes", async () => {
    const rows = await world.db.select().from(queueEntries);
    const landed = rows.filter((r) => r.state === "merged");
    expect(landed).toHaveLength(N - 1);
    const { text } = await collectMetrics(world.db);
    expect(sample(text, 'hyperion_landings_total{repo="t"}')).toBe(N - 1);
    expect(sample(text, 'hyperion_pipeline_batch_size_count{repo="t"}')).toBe(N - 1);
    expect(sample(text, 'hyperion_pipeline_batch_size_sum{repo="t"}')).toBe(
      landed.reduce((n, r) => n + (r.pipeline?.size ?? 0), 0),
    );
    const probes = landed.filter((r) => r.pipeline?.role === "probe").length;
    // The first batch of 8 failed, so the lane bisected: some landed as probes.
    expect(probes).toBeGreaterThan(0);
    expect(sample(text, 'hyperion_pipeline_bisection_landings_total{repo="t"}')).toBe(probes);
    expect(sample(text, 'hyperion_pipeline_window{repo="t"}')).toBe(0);
    const failed = (await world.db.select().from(checkRuns)).filter(
      (r) => r.outcome !== "passed",
    ).length;
    expect(failed).toBeGreaterThan(0);
    expect(
      sample(text, 'hyperion_check_failures_total{repo="t",place="landing",check="clean"}'),
    ).toBe(failed);
    expect(sample(text, 'hyperion_queue_entries{repo="t",state="quarantined"}')).toBe(1);
  });
});
