import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logShipments } from "@/server/db/schema";
import { rawValue } from "@/server/db/sql";
import { beat, markStopped } from "@/server/workers/heartbeat";
import { makeWorld, type TestWorld, tempDir, worldEnv } from "@/test-support/fixtures";
import {
  addLogRows,
  caughtUp,
  configureShipping,
  maxLogId,
  range,
  segmentIds,
  shippedUpTo,
  shippingWorkers,
} from "@/test-support/shipping";
import { STREAMS, type Stream, shipOnce } from "./shipping";

// Log shipping: segments named by their ids, written durably before the cursor moves, so a
// crash between the two ships nothing twice; one owner at a time; and, end to end, a worker
// SIGKILLed while it ships and started again leaves every row shipped exactly once.

const BIN = path.resolve("bin/hyperion.mjs");
let world: TestWorld;
let folder: string;
const workers = shippingWorkers();

beforeAll(async () => {
  world = await makeWorld();
  folder = tempDir("hyperion-shipped-");
}, 60_000);
afterAll(async () => {
  await workers.killAll();
  await world.cleanup();
  fs.rmSync(folder, { recursive: true, force: true });
});

/** Every row shipped to `dir`, by stream: ids in file order, each segment's rows checked. */
function shippedIds(dir: string): Record<Stream, number[]> {
  const out: Record<Stream, number[]> = { change_queue_logs: [], events: [] };
  const names = fs.readdirSync(dir).sort();
  expect(names.filter((n) => n.endsWith(".tmp"))).toEqual([]);
  for (const name of names) {
    const seg = segmentIds(name, fs.readFileSync(path.join(dir, name), "utf8"));
    if (seg) out[seg.stream].push(...seg.ids);
  }
  return out;
}

const maxId = (stream: Stream) => maxLogId(world.db, stream);
const cursor = (stream: Stream) => shippedUpTo(world.db, stream);

describe("log shipping", () => {
  it("ships both logs in segments named by their ids; a crash after the rename ships nothing twice; one owner at a time", async () => {
    const dir = path.join(folder, "unit");
    const config = { folder: dir, intervalSeconds: 1 };
    await beat(world.db, "worker-a", Date.now());
    await addLogRows(world.db, 25);
    // settleMs 0: on PostgreSQL too, the rows just written are shipped at once.
    const a = { owner: "worker-a/shipping", leaseMs: 60_000, rows: 10, settleMs: 0 };
    const first = await shipOnce(world.db, config, a);
    expect(first.filter((s) => s.stream === "change_queue_logs").map((s) => s.rows)).toEqual([
      10, 10, 5,
    ]);
    expect(await shipOnce(world.db, config, a)).toEqual([]);

    // A crash between the rename and the cursor: the cursor is where it was before the last
    // segment; the next round finds the segment and moves past it, writing nothing again.
    const lastLog = first.filter((s) => s.stream === "change_queue_logs").at(-1);
    await world.db
      .update(logShipments)
      .set({ lastId: (lastLog?.first ?? 1) - 1 })
      .where(sql`${logShipments.stream} = 'change_queue_logs'`);
    const adopted = await shipOnce(world.db, config, a);
    expect(adopted).toEqual([{ ...lastLog, rows: 0 }]);

    // Another host finds the logs' lease held by a live worker, and ships nothing.
    await addLogRows(world.db, 3);
    const b = { owner: "worker-b/shipping", leaseMs: 60_000, settleMs: 0 };
    expect(await shipOnce(world.db, config, b)).toEqual([]);
    // Once that worker stopped, it takes over from the cursor.
    await markStopped(world.db, "worker-a");
    expect((await shipOnce(world.db, config, b)).map((s) => s.rows)).toEqual([3, 3]);

    const shipped = shippedIds(dir);
    for (const stream of STREAMS) expect(shipped[stream]).toEqual(range(await maxId(stream)));
  });

  it("a worker SIGKILLed while it ships, then started again: every row shipped once, ids contiguous", async () => {
    const dir = path.join(folder, "worker");
    configureShipping(world, { folder: dir, intervalSeconds: 1 });
    // Short leases, as in server/hostile/sigkill-path.test.ts: what the killed worker held is
    // taken over soon after.
    const env = {
      ...worldEnv(world),
      HYPERION_POLL_MS: "20",
      HYPERION_DISPATCH_MS: "50",
      HYPERION_LEASE_MS: "1500",
      HYPERION_TASK_LEASE_MS: "3000",
      HYPERION_BACKOFF_MS: "20",
      HYPERION_BACKOFF_MAX_MS: "100",
      HYPERION_MAX_ATTEMPTS: "50",
    };
    const file = (from: number) =>
      execa("node", [BIN, "request", "-", "--allow-new-files"], {
        env: worldEnv(world),
        reject: false,
        input: JSON.stringify(
          [0, 1, 2].map((k) => ({
            title: `Shipped note ${from + k}`,
            description: `A note in docs/shipped-${from + k}.md.`,
            repo: "demo",
            files: [`docs/shipped-${from + k}.md`],
          })),
        ),
      });

    let worker = workers.start(env);
    expect((await file(0)).exitCode).toBe(0);
    // Killed once it has shipped past where the first test left off, while requests land.
    const before = await cursor("events");
    await workers.until(worker, async () => (await cursor("events")) > before);
    worker.kill("SIGKILL");
    await worker;

    expect((await file(3)).exitCode).toBe(0);
    worker = workers.start(env);
    const done = async () =>
      Number(await rawValue(world.db, sql`SELECT count(*) FROM requests WHERE status = 'done'`));
    await workers.until(worker, async () => (await done()) === 6);
    const target = { change_queue_logs: 0, events: 0 };
    for (const s of STREAMS) target[s] = await maxId(s);
    await workers.until(worker, () => caughtUp(world.db, target));
    worker.kill("SIGTERM");
    expect((await worker).exitCode).toBe(0);

    // The unit test's folder shipped ids up to its own rows; this folder holds the rest, up to
    // the cursor: contiguous, none twice.
    const unit = shippedIds(path.join(folder, "unit"));
    const here = shippedIds(dir);
    for (const stream of STREAMS) {
      const upTo = await cursor(stream);
      expect(upTo).toBeGreaterThanOrEqual(target[stream]);
      expect([...unit[stream], ...here[stream]]).toEqual(range(upTo));
    }
  }, 600_000);
});
