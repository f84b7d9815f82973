import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { execa } from "execa";
import type { ShippingConfig } from "@/schemas/config";
import { parseSegmentName, STREAMS, type Stream } from "@/server/backup/shipping";
import type { Db } from "@/server/db/client";
import { changeQueueLogs, events } from "@/server/db/schema";
import { rawValue } from "@/server/db/sql";
import type { TestWorld } from "./fixtures";

// What the log shipping tests share, whatever the target (server/backup/shipping.test.ts, a
// folder; shipping-s3.test.ts, a bucket): rows for the logs, the cursors, a segment's ids read
// back, and workers started, waited on by their progress, and killed at the end.

const BIN = path.resolve("bin/hyperion.mjs");

export const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** `n` rows in each log. */
export async function addLogRows(db: Db, n: number): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    await db
      .insert(events)
      .values({ topic: "test", type: "shipped", entityId: i, payload: { i }, createdAt: now });
    await db.insert(changeQueueLogs).values({
      entryId: 1,
      event: { entryId: 1, from: null, to: "queued", worker: null, attempt: 0 },
      at: now,
    });
  }
}

export const maxLogId = async (db: Db, stream: Stream) =>
  Number(
    await rawValue(
      db,
      stream === "events"
        ? sql`SELECT coalesce(max(id), 0) FROM events`
        : sql`SELECT coalesce(max(id), 0) FROM change_queue_logs`,
    ),
  );

/** The last id shipped of a log (0 before its first segment). */
export const shippedUpTo = async (db: Db, stream: Stream) =>
  Number(
    (await rawValue(db, sql`SELECT last_id FROM log_shipments WHERE stream = ${stream}`)) ?? 0,
  );

/** Whether every log's cursor reached its `target` id. */
export async function caughtUp(db: Db, target: Record<Stream, number>): Promise<boolean> {
  for (const s of STREAMS) if ((await shippedUpTo(db, s)) < target[s]) return false;
  return true;
}

/**
 * A segment's stream and the ids of its rows, in order; null for a name that is not a segment's.
 * Throws when the rows do not start and end at the ids its name gives.
 */
export function segmentIds(name: string, body: string): { stream: Stream; ids: number[] } | null {
  const seg = parseSegmentName(name);
  if (!seg) return null;
  const ids = body
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: number }).id);
  if (ids[0] !== seg.first || ids.at(-1) !== seg.last)
    throw new Error(`${name} holds ids ${ids[0]} to ${ids.at(-1)}`);
  return { stream: seg.stream, ids };
}

/** The world's config ships to `shipping` from now on (a worker reads it each round). */
export function configureShipping(world: TestWorld, shipping: ShippingConfig): void {
  const raw = JSON.parse(fs.readFileSync(world.env.configPath, "utf8"));
  raw.shipping = shipping;
  fs.writeFileSync(world.env.configPath, JSON.stringify(raw, null, 2));
}

// No SIGKILL after execa's 5 s once stopped: a worker stopped by SIGTERM a moment after its
// start takes a few seconds (its queue threads finish starting, then stop).
const spawnWorker = (env: Record<string, string>) =>
  execa("node", [BIN, "worker"], { env, reject: false, forceKillAfterDelay: false });
export type WorkerProcess = ReturnType<typeof spawnWorker>;

const FAILED_ROUND = "log shipping round failed";
/** Failed shipping rounds one wait lets pass: a blip is tried again, a fault is not. */
const FAILED_ROUNDS = 3;

/**
 * `hyperion worker` processes a test starts: their stderr kept (all of them, in order), and
 * those still running killed by `killAll` at the end.
 */
export function shippingWorkers() {
  const running = new Set<WorkerProcess>();
  let stderr = "";
  return {
    get stderr() {
      return stderr;
    },
    start(env: Record<string, string>): WorkerProcess {
      const child = spawnWorker(env);
      running.add(child);
      child.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      void child.finally(() => running.delete(child));
      return child;
    },
    /**
     * Until `check` holds, bounded by the worker's progress rather than a time: the wait ends
     * when the worker exits, or when FAILED_ROUNDS of its shipping rounds failed since it began
     * (each logs why, and the worker would try again for ever).
     */
    async until(worker: WorkerProcess, check: () => Promise<boolean>): Promise<void> {
      let exited: string | null = null;
      void worker.then((r) => {
        exited = `exit ${r.exitCode}\n${r.stderr}`;
      });
      const from = stderr.length;
      for (;;) {
        if (await check()) return;
        if (exited !== null) throw new Error(`the worker stopped: ${exited}`);
        const failed = stderr
          .slice(from)
          .split("\n")
          .filter((l) => l.includes(FAILED_ROUND));
        if (failed.length >= FAILED_ROUNDS)
          throw new Error(`its shipping rounds fail: ${failed.at(-1)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async killAll(): Promise<void> {
      for (const child of running) {
        child.kill("SIGKILL");
        await child.catch(() => undefined);
      }
    },
  };
}
