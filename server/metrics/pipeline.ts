import { sql } from "drizzle-orm";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Db } from "@/server/db/client";
import { queueEntries } from "@/server/db/schema";
import { jsonText, rawAll } from "@/server/db/sql";
import { bucketed, StoredHistogram } from "./histogram";

// The speculative pipeline's families of the Prometheus metrics (collect.ts).

const BATCH_BOUNDS = [1, 2, 4, 8, 16, 32, 64];

const num = (v: unknown) => Number(v ?? 0);

/**
 * The speculative pipeline keeps, per entry, the place its last round gave it (queue_entries.
 * pipeline: its batch's size, the lane's window, stacked or probed); rounds are not stored one by
 * one, so batch sizes and bisection probes are counted per landed change.
 */
export async function pipelineMetrics(db: Db, registry: Registry, repos: Set<string>) {
  const registers = [registry];
  const windows = await rawAll<{ repo: string; w: unknown }>(
    db,
    sql`SELECT ${queueEntries.repo} AS repo, max(CAST(${jsonText(queueEntries.pipeline, "window")} AS BIGINT)) AS w
        FROM ${queueEntries}
        WHERE ${queueEntries.inLane} = 1 AND ${queueEntries.pipeline} IS NOT NULL
          AND ${queueEntries.state} IN ('applying', 'checking', 'ready')
        GROUP BY 1`,
  );
  const window = new Gauge({
    name: "hyperion_pipeline_window",
    help: "The speculative pipeline's window now: how many changes its lane checks at once (0 when no lane runs).",
    labelNames: ["repo"],
    registers,
  });
  for (const repo of repos) window.set({ repo }, 0);
  for (const w of windows) window.set({ repo: w.repo }, num(w.w));

  const landedInLane = sql`${queueEntries} WHERE ${queueEntries.pipeline} IS NOT NULL
    AND ${queueEntries.state} IN ('merged', 'rolled_back')`;
  new StoredHistogram(
    "hyperion_pipeline_batch_size",
    "Size of the last speculative-pipeline batch each landed change was checked in (changes per batch).",
    BATCH_BOUNDS,
    await bucketed(db, {
      labels: { repo: sql`${queueEntries.repo}` },
      value: sql`CAST(${jsonText(queueEntries.pipeline, "size")} AS BIGINT)`,
      from: landedInLane,
      bounds: BATCH_BOUNDS,
      scale: 1,
    }),
  ).register(registry);
  const probes = await rawAll<{ repo: string; n: unknown }>(
    db,
    sql`SELECT ${queueEntries.repo} AS repo, count(*) AS n FROM ${landedInLane}
        AND ${jsonText(queueEntries.pipeline, "role")} = 'probe' GROUP BY 1`,
  );
  const probed = new Counter({
    name: "hyperion_pipeline_bisection_landings_total",
    help: "Changes that landed as a bisection probe: checked alone on the clean stack after a batch of their lane failed.",
    labelNames: ["repo"],
    registers,
  });
  for (const repo of repos) probed.inc({ repo }, 0);
  for (const p of probes) probed.inc({ repo: p.repo }, num(p.n));
}
