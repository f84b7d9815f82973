import { and, asc, eq, gt, isNull } from "drizzle-orm";
import type { ShippingConfig } from "@/schemas/config";
import type { Db } from "@/server/db/client";
import { changeQueueLogs, currentDialect, events, logShipments } from "@/server/db/schema";
import { currentEnv } from "@/server/env.mjs";
import { log } from "@/server/log";
import { ownerAlive } from "@/server/workers/heartbeat";
import { type S3Credentials, s3Credentials, s3Target, s3Where } from "./s3";
import { folderTarget, type ShippingTarget } from "./targets";

// Log shipping: the audit log (change_queue_logs and events) copied, as it grows, into a
// folder of NDJSON segments named by their first and last ids, to an S3-compatible bucket
// under the same names, or both. A segment is stored in every target (a folder's written to a
// temp file, fsynced and renamed, the folder fsynced too; a bucket's uploaded and
// acknowledged) before the cursor in log_shipments moves past it: a crash before that ships
// the rows again under the same name, a crash between the store and the cursor finds the
// segment starting after the cursor (in the folder, or listed in the bucket), completes any
// target that lacks it, and moves the cursor past it. So no row is shipped twice and none is
// lost. One worker host ships each log at a time: it holds a lease in the cursor's row, which
// another host takes once it ran out or its holder stopped beating.

export const STREAMS = ["change_queue_logs", "events"] as const;
export type Stream = (typeof STREAMS)[number];

/** Rows per segment at most. */
export const SEGMENT_ROWS = 1000;
const DIGITS = 12;
const pad = (n: number) => String(n).padStart(DIGITS, "0");
export const segmentName = (stream: Stream, first: number, last: number) =>
  `${stream}-${pad(first)}-${pad(last)}.ndjson`;
const SEGMENT = /^(change_queue_logs|events)-(\d{12})-(\d{12})\.ndjson$/;

/** A segment's stream and ids, from its name; null for anything else in the folder. */
export function parseSegmentName(
  name: string,
): { stream: Stream; first: number; last: number } | null {
  const m = SEGMENT.exec(name);
  return m ? { stream: m[1] as Stream, first: Number(m[2]), last: Number(m[3]) } : null;
}

export type Shipped = {
  stream: Stream;
  segment: string;
  first: number;
  last: number;
  rows: number;
};

export type ShipOptions = {
  /** Who ships (a worker's `worker-…/shipping`: its heartbeat says whether it is alive). */
  owner: string;
  leaseMs: number;
  now?: number;
  rows?: number;
  /**
   * PostgreSQL only: rows younger than this are left for the next round. Writers there may
   * commit out of id order (the queue's claims run beside each other), so a row just written
   * could still have a smaller id committing after it.
   */
  settleMs?: number;
  /** A bucket's credentials (s3Credentials(env)); needed when the config names `s3`. */
  credentials?: S3Credentials | { problem: string } | null;
};

async function readRows(db: Db, stream: Stream, after: number, limit: number) {
  if (stream === "change_queue_logs") {
    const rows = await db
      .select()
      .from(changeQueueLogs)
      .where(gt(changeQueueLogs.id, after))
      .orderBy(asc(changeQueueLogs.id))
      .limit(limit);
    return rows.map((r) => ({ row: r as Record<string, unknown>, id: r.id, at: r.at }));
  }
  const rows = await db
    .select()
    .from(events)
    .where(gt(events.id, after))
    .orderBy(asc(events.id))
    .limit(limit);
  return rows.map((r) => ({ row: r as Record<string, unknown>, id: r.id, at: r.createdAt }));
}

/** Takes (or renews) the stream's lease; false while another live host holds it. */
async function takeLease(db: Db, stream: Stream, o: Required<ShipOptions>): Promise<boolean> {
  await db
    .insert(logShipments)
    .values({ stream, lastId: 0, updatedAt: o.now })
    .onConflictDoNothing();
  const [row] = await db.select().from(logShipments).where(eq(logShipments.stream, stream));
  if (!row) return false;
  const free =
    row.owner === null ||
    row.owner === o.owner ||
    (row.leaseExpiresAt ?? 0) < o.now ||
    !(await ownerAlive(db, row.owner, o.now));
  if (!free) return false;
  const taken = await db
    .update(logShipments)
    .set({ owner: o.owner, leaseExpiresAt: o.now + o.leaseMs, updatedAt: o.now })
    .where(
      and(
        eq(logShipments.stream, stream),
        row.owner === null ? isNull(logShipments.owner) : eq(logShipments.owner, row.owner),
      ),
    )
    .returning({ stream: logShipments.stream });
  return taken.length === 1;
}

/** Moves the cursor from `from` to `to` if this owner still holds it there. */
async function advance(
  db: Db,
  stream: Stream,
  owner: string,
  from: number,
  to: number,
  segment: string,
  now: number,
): Promise<boolean> {
  const moved = await db
    .update(logShipments)
    .set({ lastId: to, segment, updatedAt: now })
    .where(
      and(
        eq(logShipments.stream, stream),
        eq(logShipments.lastId, from),
        eq(logShipments.owner, owner),
      ),
    )
    .returning({ stream: logShipments.stream });
  return moved.length === 1;
}

/**
 * The segment that starts right after the cursor, if a crash left one in a target, and which
 * target holds it.
 */
async function segmentStartingAt(targets: ShippingTarget[], stream: Stream, first: number) {
  for (const target of targets) {
    const name = await target.find(`${stream}-${pad(first)}-`);
    const s = name ? parseSegmentName(name) : null;
    if (name && s && s.stream === stream && s.first === first) return { name, target, ...s };
  }
  return null;
}

/** Where a config ships to: its folder, its bucket, or both (the folder first). */
export async function shippingTargets(
  config: ShippingConfig,
  credentials: S3Credentials | { problem: string } | null,
): Promise<ShippingTarget[]> {
  const targets: ShippingTarget[] = [];
  if (config.folder) targets.push(folderTarget(config.folder));
  if (config.s3) {
    if (!credentials) throw new Error("shipping.s3 needs credentials");
    if ("problem" in credentials) throw new Error(credentials.problem);
    targets.push(await s3Target(config.s3, credentials));
  }
  return targets;
}

/** The problem with a shipping config in this environment (a bucket without credentials). */
export function shippingProblem(
  config: { shipping?: ShippingConfig },
  env: Parameters<typeof s3Credentials>[0],
): string | null {
  if (!config.shipping?.s3) return null;
  const credentials = s3Credentials(env);
  return "problem" in credentials ? credentials.problem : null;
}

/** Where a config ships to, for logs. */
export function shippingWhere(config: ShippingConfig): string {
  return [config.folder, config.s3 && s3Where(config.s3)].filter(Boolean).join(" and ");
}

/**
 * One round: for each log, while there are rows past its cursor, a segment written and the
 * cursor moved. Returns the segments written (or found and adopted after a crash).
 */
export async function shipOnce(
  db: Db,
  config: ShippingConfig,
  opts: ShipOptions,
): Promise<Shipped[]> {
  const o: Required<ShipOptions> = {
    now: Date.now(),
    rows: SEGMENT_ROWS,
    settleMs: currentDialect() === "postgres" ? 10_000 : 0,
    credentials: null,
    ...opts,
  } as Required<ShipOptions>;
  const targets = await shippingTargets(config, o.credentials);
  try {
    return await shipTo(db, targets, o);
  } finally {
    for (const t of targets) t.close();
  }
}

async function shipTo(
  db: Db,
  targets: ShippingTarget[],
  o: Required<ShipOptions>,
): Promise<Shipped[]> {
  const out: Shipped[] = [];
  for (const stream of STREAMS) {
    if (!(await takeLease(db, stream, o))) continue;
    for (const target of targets) await target.prepare(stream);
    for (;;) {
      const [cursor] = await db.select().from(logShipments).where(eq(logShipments.stream, stream));
      if (!cursor || cursor.owner !== o.owner) break;
      const from = cursor.lastId;
      const left = await segmentStartingAt(targets, stream, from + 1);
      if (left) {
        // Stored before a crash, the cursor not yet moved: it is shipped once every target has
        // it (a crash between the folder and the bucket left the bucket without it).
        let body: string | null = null;
        for (const target of targets) {
          if (target === left.target || (await target.has(left.name))) continue;
          body ??= await left.target.read(left.name);
          await target.write(left.name, body);
        }
        if (!(await advance(db, stream, o.owner, from, left.last, left.name, o.now))) break;
        out.push({ stream, segment: left.name, first: left.first, last: left.last, rows: 0 });
        continue;
      }
      let rows = await readRows(db, stream, from, o.rows);
      if (o.settleMs > 0) {
        const young = rows.findIndex((r) => r.at > o.now - o.settleMs);
        if (young >= 0) rows = rows.slice(0, young);
      }
      const first = rows[0]?.id;
      const last = rows.at(-1)?.id;
      if (first === undefined || last === undefined) break;
      const name = segmentName(stream, first, last);
      const body = `${rows.map((r) => JSON.stringify(r.row)).join("\n")}\n`;
      for (const target of targets) await target.write(name, body);
      if (!(await advance(db, stream, o.owner, from, last, name, o.now))) break;
      out.push({ stream, segment: name, first, last, rows: rows.length });
      if (rows.length < o.rows) break;
    }
  }
  return out;
}

/** Gives the leases back (a worker stopping): another host may ship at once. */
export async function releaseShipping(db: Db, owner: string): Promise<void> {
  await db
    .update(logShipments)
    .set({ owner: null, leaseExpiresAt: null, updatedAt: Date.now() })
    .where(eq(logShipments.owner, owner));
}

/**
 * The worker's shipping loop: a round every `intervalSeconds` of the config in force (read
 * each time, so shipping can be turned on, off or moved without a restart). A round that fails
 * (the folder unwritable, the bucket unreachable or refusing the credentials, the database
 * away) is logged and the next one tries again.
 */
export function startShipping(
  db: Db,
  config: () => { shipping?: ShippingConfig },
  owner: string,
  credentials: () => S3Credentials | { problem: string } = () => s3Credentials(currentEnv()),
): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let round: Promise<void> = Promise.resolve();
  const schedule = (ms: number) => {
    if (!stopped) timer = setTimeout(run, ms);
  };
  const run = () => {
    let shipping: ShippingConfig | undefined;
    try {
      shipping = config().shipping;
    } catch {
      shipping = undefined;
    }
    if (!shipping) return schedule(10_000);
    const every = shipping.intervalSeconds * 1000;
    const where = shippingWhere(shipping);
    round = Promise.resolve()
      .then(() =>
        shipOnce(db, shipping, {
          owner,
          leaseMs: Math.max(3 * every, 30_000),
          ...(shipping.s3 ? { credentials: credentials() } : {}),
        }),
      )
      .then((shipped) => {
        for (const s of shipped)
          log.info({ stream: s.stream, segment: s.segment, rows: s.rows }, "audit log shipped");
      })
      .catch((err: Error) => log.error({ where, error: err.message }, "log shipping round failed"))
      .finally(() => schedule(every));
  };
  schedule(0);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await round;
      await releaseShipping(db, owner).catch(() => undefined);
    },
  };
}
