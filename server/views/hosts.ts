import { and, desc, eq, gt, inArray, isNotNull, isNull, or } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import { agentRuns, queueEntries, tasks, workerHeartbeats } from "@/server/db/schema";
import { liveRunStates } from "@/server/state/runs/states";
import { ALIVE_WITHIN_MS } from "@/server/workers/heartbeat";
import { leasedStates } from "../state/queue/states";

// Every host's workers, as their heartbeats say, with what each holds now: the queue entries
// its threads lease, the tasks its dispatcher claimed, the agent runs it supervises. Leases
// name their owner (`worker-…/t0`, `worker-…/dispatcher`), so what a host holds is read from the
// rows themselves, never from what the host says about itself.

export type WorkerLine = {
  id: string;
  pid: number;
  alive: boolean;
  stopped: boolean;
  beatAgeMs: number;
  startedAt: number;
  threads: { id: string; currentEntryId: number | null; beatAgeMs: number; alive: boolean }[];
  holds: { entries: number[]; tasks: string[]; runs: number[] };
};

export type HostLine = { host: string; alive: boolean; workers: WorkerLine[] };

/** Workers stopped longer ago than this are left out (their rows stay, for the record). */
const SHOWN_FOR_MS = 60 * 60 * 1000;

const ownerOf = (lease: string | null) => (lease ? (lease.split("/")[0] ?? lease) : null);

export async function hostsStatus(db: Db, now = Date.now()): Promise<HostLine[]> {
  const beats = await db
    .select()
    .from(workerHeartbeats)
    .where(
      or(isNull(workerHeartbeats.stoppedAt), gt(workerHeartbeats.stoppedAt, now - SHOWN_FOR_MS)),
    )
    .orderBy(desc(workerHeartbeats.beatAt));
  const entries = await db
    .select({ id: queueEntries.id, owner: queueEntries.leaseOwner })
    .from(queueEntries)
    .where(and(inArray(queueEntries.state, [...leasedStates]), isNotNull(queueEntries.leaseOwner)));
  const claimed = await db
    .select({ id: tasks.id, owner: tasks.leaseOwner })
    .from(tasks)
    .where(eq(tasks.state, "claimed"));
  const runs = await db
    .select({ id: agentRuns.id, owner: agentRuns.owner })
    .from(agentRuns)
    .where(inArray(agentRuns.state, [...liveRunStates]));
  const alive = (b: typeof workerHeartbeats.$inferSelect) =>
    b.stoppedAt === null && now - b.beatAt <= ALIVE_WITHIN_MS;
  const workers = new Map<string, WorkerLine & { host: string }>();
  for (const b of beats.filter((b) => b.role === "supervisor"))
    workers.set(b.id, {
      host: b.host,
      id: b.id,
      pid: b.pid,
      alive: alive(b),
      stopped: b.stoppedAt !== null,
      beatAgeMs: now - b.beatAt,
      startedAt: b.startedAt,
      threads: [],
      holds: { entries: [], tasks: [], runs: [] },
    });
  for (const t of beats.filter((b) => b.role === "thread" && b.parentId))
    workers.get(t.parentId as string)?.threads.push({
      id: t.id,
      currentEntryId: t.currentEntryId,
      beatAgeMs: now - t.beatAt,
      alive: alive(t),
    });
  for (const e of entries) workers.get(ownerOf(e.owner) ?? "")?.holds.entries.push(e.id);
  for (const t of claimed) workers.get(ownerOf(t.owner) ?? "")?.holds.tasks.push(t.id);
  for (const r of runs) workers.get(ownerOf(r.owner) ?? "")?.holds.runs.push(r.id);
  const hosts = new Map<string, HostLine>();
  for (const { host, ...w } of workers.values()) {
    const line = hosts.get(host) ?? { host, alive: false, workers: [] };
    line.workers.push(w);
    line.alive ||= w.alive;
    hosts.set(host, line);
  }
  return [...hosts.values()].sort((a, b) => a.host.localeCompare(b.host));
}
