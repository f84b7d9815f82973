import { and, eq, isNull, type SQL, sql } from "drizzle-orm";
import { clipReason } from "@/schemas/bounded";
import type { TaskState } from "@/schemas/task-state";
import type { DbLike } from "@/server/db/client";
import { tasks } from "@/server/db/schema";
import { appendEvent } from "@/server/events/log";
import { IllegalTaskMove, leasedTaskState, taskMachine } from "./states";

export { IllegalTaskMove };

export type TaskRow = typeof tasks.$inferSelect;
type TaskInsert = typeof tasks.$inferInsert;

/** Inserts one row at a time: a plan of any size is never one statement. */
async function insertTasks(tx: DbLike, rows: readonly TaskInsert[]): Promise<void> {
  for (const row of rows) await tx.insert(tasks).values(row);
}

/** The Orchestrator's tasks for a planned request, in `pending`, in the caller's transaction. */
export async function createPlannedTasks(
  tx: DbLike,
  rows: readonly Omit<TaskInsert, "state" | "source">[],
): Promise<void> {
  await insertTasks(
    tx,
    rows.map((row) => ({ ...row, source: "planner" as const, state: "pending" as const })),
  );
}

/**
 * The task a change submitted without one gets, so every change stays traceable: `done`, as it
 * has nothing to dispatch; its change's outcome is the queue's.
 */
export async function createAdhocTask(
  tx: DbLike,
  row: Pick<TaskInsert, "id" | "repo" | "title" | "createdAt">,
): Promise<void> {
  await insertTasks(tx, [{ ...row, requestId: null, source: "adhoc", state: "done" }]);
}

/** Copies tasks as they are into another database (`hyperion replay`'s fresh one): not a move. */
export async function copyTasks(tx: DbLike, rows: readonly TaskRow[]): Promise<void> {
  await insertTasks(tx, rows);
}

/**
 * The task was not where the caller thought: another writer moved it first, or (for a leased
 * task) the lease expired and another worker holds it now. Nothing was written; drop the task.
 */
export class TaskMoveConflict extends Error {
  override name = "TaskMoveConflict";
  constructor(
    readonly taskId: string,
    readonly from: TaskState,
    readonly to: TaskState,
    found: Pick<TaskRow, "state" | "leaseOwner" | "attempts"> | undefined,
  ) {
    super(
      found
        ? `task ${taskId}: expected ${from}, found ${found.state} (owner ${found.leaseOwner ?? "none"}, attempt ${found.attempts}); ${from} → ${to} not made`
        : `task ${taskId}: no such task; ${from} → ${to} not made`,
    );
  }
}

export type TaskMove = {
  id: string;
  from: TaskState;
  to: TaskState;
  /** The lease holder: checked when leaving `claimed`, recorded when entering it. */
  owner?: string | null;
  /** The lease's attempt: checked when leaving `claimed`; on a claim, the new attempt number. */
  attempt?: number;
  set?: Partial<
    Pick<
      TaskRow,
      "blockedReason" | "changeRequestId" | "leaseExpiresAt" | "noChangeReason" | "agent"
    >
  >;
  event: { reason?: string; data?: Record<string, unknown> };
  now?: number;
};

function leaseCheck(move: TaskMove, label: string): { owner: string | null; attempt: number } {
  if (move.owner === undefined || move.attempt === undefined)
    throw new IllegalTaskMove(`task ${move.id}: ${label} needs the lease owner and attempt`);
  return { owner: move.owner, attempt: move.attempt };
}

/**
 * The one way a task changes state, through `taskMachine.move`: checks the move against the
 * table, then updates the row only if it is still in `from` — and, for a leased task, still held
 * by `owner` on `attempt` — and appends the `task.<to>` event in the same transaction. Leaving `claimed` drops the
 * lease; entering it takes one (`owner`, `attempt` = the row's attempts + 1, `leaseExpiresAt`).
 */
export async function moveTask(db: DbLike, move: TaskMove): Promise<TaskRow> {
  const { id, from, to } = move;
  taskMachine.assert(from, to);
  const now = move.now ?? Date.now();
  const where: SQL[] = [eq(tasks.id, id), eq(tasks.state, from)];
  let lease: Partial<TaskRow> = {};
  if (from === leasedTaskState) {
    const held = leaseCheck(move, `leaving ${from}`);
    where.push(
      held.owner === null ? isNull(tasks.leaseOwner) : eq(tasks.leaseOwner, held.owner),
      eq(tasks.attempts, held.attempt),
    );
    lease = { leaseOwner: null, leaseExpiresAt: null };
  }
  if (to === leasedTaskState) {
    const taken = leaseCheck(move, `entering ${to}`);
    if (taken.owner === null || move.set?.leaseExpiresAt == null)
      throw new IllegalTaskMove(`task ${id}: a claim needs an owner and a lease expiry`);
    where.push(eq(tasks.attempts, taken.attempt - 1));
    lease = { leaseOwner: taken.owner, attempts: taken.attempt, heartbeatAt: now };
  }
  // Reasons are bounded here, at their one writer: no caller can store one of any length.
  const set = {
    ...move.set,
    ...(typeof move.set?.blockedReason === "string"
      ? { blockedReason: clipReason(move.set.blockedReason) }
      : {}),
    ...(typeof move.set?.noChangeReason === "string"
      ? { noChangeReason: clipReason(move.set.noChangeReason) }
      : {}),
  };
  return taskMachine.move(db, {
    from,
    to,
    swap: async (tx) =>
      (
        await tx
          .update(tasks)
          .set({ ...set, ...lease, state: to, updatedAt: now })
          .where(and(...where))
          .returning()
      )[0],
    refused: async (tx) => new TaskMoveConflict(id, from, to, await current(tx, id)),
    record: async (tx, row) =>
      appendEvent(tx, {
        topic: "request",
        type: `task.${to}`,
        entityId: row.requestId ?? 0,
        payload: {
          task: id,
          from,
          to,
          ...(move.owner ? { owner: move.owner, attempt: move.attempt } : {}),
          ...(move.event.reason !== undefined ? { reason: clipReason(move.event.reason) } : {}),
          ...move.event.data,
        },
      }),
  });
}

/**
 * Records why a task cannot be dispatched yet, without moving it: CAS on its state, with a
 * `task.blocked` event, so this file stays the only one that writes tasks.
 */
export async function blockTask(
  tx: DbLike,
  block: { id: string; state: TaskState; reason: string; now?: number },
): Promise<TaskRow> {
  const reason = clipReason(block.reason);
  const [row] = await tx
    .update(tasks)
    .set({ blockedReason: reason, updatedAt: block.now ?? Date.now() })
    .where(and(eq(tasks.id, block.id), eq(tasks.state, block.state)))
    .returning();
  if (!row)
    throw new TaskMoveConflict(block.id, block.state, block.state, await current(tx, block.id));
  await appendEvent(tx, {
    topic: "request",
    type: "task.blocked",
    entityId: row.requestId ?? 0,
    payload: { task: block.id, state: block.state, reason },
  });
  return row;
}

async function current(tx: DbLike, id: string) {
  return (
    await tx
      .select({ state: tasks.state, leaseOwner: tasks.leaseOwner, attempts: tasks.attempts })
      .from(tasks)
      .where(eq(tasks.id, id))
      .limit(1)
  )[0];
}

/**
 * Extends a claimed task's lease for the run that holds it: compare-and-swap on the state, the
 * owner and the attempt, so a run whose lease already lapsed (and whose task another worker
 * took) learns it here and stops. A heartbeat is not a move: no event, or the log would fill
 * with them; the move that ends the claim writes one.
 */
export async function renewLease(
  tx: DbLike,
  lease: { id: string; owner: string; attempt: number; until: number; now?: number },
): Promise<void> {
  const changed = (
    await tx
      .update(tasks)
      .set({ leaseExpiresAt: lease.until, heartbeatAt: lease.now ?? Date.now() })
      .where(
        and(
          eq(tasks.id, lease.id),
          eq(tasks.state, leasedTaskState),
          eq(tasks.leaseOwner, lease.owner),
          eq(tasks.attempts, lease.attempt),
        ),
      )
      .returning({ one: sql`1` })
  ).length;
  if (changed === 0)
    throw new TaskMoveConflict(
      lease.id,
      leasedTaskState,
      leasedTaskState,
      await current(tx, lease.id),
    );
}
