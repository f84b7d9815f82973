import os from "node:os";
import { and, desc, eq, isNull } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import { workerHeartbeats } from "@/server/db/schema";
import { currentEnv } from "@/server/env.mjs";

export const HEARTBEAT_MS = 2000;

/** The name this host writes on its heartbeats: HYPERION_HOST, else the machine's host name. */
export function hostName(): string {
  return currentEnv().HYPERION_HOST ?? os.hostname();
}
/** A worker is shown as alive while its last beat is younger than this. */
export const ALIVE_WITHIN_MS = 3 * HEARTBEAT_MS;

export async function beat(db: Db, id: string, startedAt: number, now = Date.now()): Promise<void> {
  await db
    .insert(workerHeartbeats)
    .values({ id, pid: process.pid, host: hostName(), startedAt, beatAt: now })
    .onConflictDoUpdate({ target: workerHeartbeats.id, set: { beatAt: now, stoppedAt: null } });
}

export async function markStopped(db: Db, id: string, now = Date.now()): Promise<void> {
  await db.update(workerHeartbeats).set({ stoppedAt: now }).where(eq(workerHeartbeats.id, id));
}

export type WorkerStatus = {
  alive: boolean;
  id: string | null;
  pid: number | null;
  lastBeatAgoMs: number | null;
  /** The last beat's time (ms epoch, as the worker wrote it), for a browser to age it live. */
  beatAt: number | null;
  stopped: boolean;
  /** This answer's time (ms epoch, server clock): lets a browser correct for its own clock. */
  now: number;
};

export async function workerStatus(db: Db, now = Date.now()): Promise<WorkerStatus> {
  const [row] = await db
    .select()
    .from(workerHeartbeats)
    .where(and(eq(workerHeartbeats.role, "supervisor"), isNull(workerHeartbeats.parentId)))
    .orderBy(desc(workerHeartbeats.beatAt))
    .limit(1);
  if (!row)
    return {
      alive: false,
      id: null,
      pid: null,
      lastBeatAgoMs: null,
      beatAt: null,
      stopped: false,
      now,
    };
  const ago = now - row.beatAt;
  const stopped = row.stoppedAt !== null;
  return {
    alive: !stopped && ago <= ALIVE_WITHIN_MS,
    id: row.id,
    pid: row.pid,
    lastBeatAgoMs: ago,
    beatAt: row.beatAt,
    stopped,
    now,
  };
}

/**
 * Whether the worker behind a lease owner (`worker-…/dispatcher`, `worker-…/t0`) is alive: it
 * beat within ALIVE_WITHIN_MS and has not said it stopped.
 */
export async function ownerAlive(db: Db, owner: string, now = Date.now()): Promise<boolean> {
  const id = owner.split("/")[0] ?? owner;
  const [row] = await db
    .select()
    .from(workerHeartbeats)
    .where(eq(workerHeartbeats.id, id))
    .limit(1);
  return !!row && row.stoppedAt === null && now - row.beatAt <= ALIVE_WITHIN_MS;
}

/** How many lease lengths a live worker's lease may stay unrenewed before it counts as stalled. */
export const STALL_LEASES = 10;

/**
 * Whether a lease that ran out is lost — taken from its holder — judged by progress rather
 * than by the clock alone: its worker stopped beating (killed, or stopped), or the lease has
 * gone unrenewed for STALL_LEASES lease lengths (a thread stuck for good). A live worker that
 * is only slow — a busy machine delays its renewal timer — keeps what it holds.
 */
export async function leaseLost(
  db: Db,
  lease: { owner: string | null; expiresAt: number | null },
  leaseMs: number,
  now = Date.now(),
): Promise<boolean> {
  if (lease.expiresAt === null || lease.expiresAt >= now) return false;
  if (lease.owner === null) return true;
  return (
    !(await ownerAlive(db, lease.owner, now)) || now - lease.expiresAt > STALL_LEASES * leaseMs
  );
}
