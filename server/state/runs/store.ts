import { and, eq, sql } from "drizzle-orm";
import type { AgentEvent } from "@/schemas/agent-event";
import { clipReason, clipText, REASON_BRIEF } from "@/schemas/bounded";
import type { RunState } from "@/schemas/run-state";
import type { DbLike } from "@/server/db/client";
import { agentRunEvents, agentRuns } from "@/server/db/schema";
import { appendEvent } from "@/server/events/log";
import { RunMoveConflict, runMachine } from "./states";

export { RunMoveConflict };

export type RunRow = typeof agentRuns.$inferSelect;

/** The stderr tail is cut to 4 KiB where it is read; this bounds any caller's text all the same. */
const STDERR_TAIL_CHARS = 4096;

type RunFields = Partial<
  Pick<
    RunRow,
    | "pid"
    | "sandbox"
    | "cliVersion"
    | "baseCommit"
    | "promptHash"
    | "promptPath"
    | "workspace"
    | "workspaceBytes"
    | "sessionId"
    | "reason"
    | "stderrTail"
    | "changeRequestId"
    | "fallback"
    | "startedAt"
    | "endedAt"
  >
>;

/** Creates a run in `starting`, with its event, in the caller's transaction. */
export async function createRun(
  tx: DbLike,
  run: Pick<RunRow, "taskId" | "requestId" | "repo" | "agent" | "owner" | "taskAttempt">,
  now = Date.now(),
): Promise<RunRow> {
  const [row] = await tx
    .insert(agentRuns)
    .values({ ...run, state: "starting", createdAt: now })
    .returning();
  if (!row) throw new Error("run not created");
  await announce(tx, row, null, "starting");
  return row;
}

/**
 * The one way a run changes state, through `runMachine.move`: checks the move against
 * ./states.ts, updates the row only if it is still in `from` (compare-and-swap), and appends
 * its events in the same transaction.
 */
export async function moveRun(
  db: DbLike,
  move: { id: number; from: RunState; to: RunState; set?: RunFields; now?: number },
): Promise<RunRow> {
  const now = move.now ?? Date.now();
  const ending = !["starting", "running", "checking"].includes(move.to);
  // Bounded here, at its one writer, so no caller can store a reason of any length.
  const set =
    typeof move.set?.reason === "string"
      ? { ...move.set, reason: clipReason(move.set.reason) }
      : move.set;
  return runMachine.move(db, {
    from: move.from,
    to: move.to,
    swap: async (tx) =>
      (
        await tx
          .update(agentRuns)
          .set({
            ...set,
            state: move.to,
            ...(ending ? { endedAt: now } : {}),
            ...(move.to === "running" && move.from !== "running"
              ? { sessions: sql`${agentRuns.sessions} + 1` }
              : {}),
          })
          .where(and(eq(agentRuns.id, move.id), eq(agentRuns.state, move.from)))
          .returning()
      )[0],
    refused: async (tx) => {
      const [found] = await tx
        .select({ state: agentRuns.state })
        .from(agentRuns)
        .where(eq(agentRuns.id, move.id))
        .limit(1);
      return new RunMoveConflict(
        `run ${move.id}: expected ${move.from}, found ${found?.state ?? "no run"}; ${move.from} → ${move.to} not made`,
      );
    },
    record: async (tx, row) => announce(tx, row, move.from, move.to),
  });
}

/** Facts about a live run that are not moves (its pid, session id), without an event. */
export async function noteRun(tx: DbLike, id: number, set: RunFields): Promise<void> {
  const bounded =
    typeof set.stderrTail === "string"
      ? { ...set, stderrTail: clipText(set.stderrTail, STDERR_TAIL_CHARS) }
      : set;
  await tx.update(agentRuns).set(bounded).where(eq(agentRuns.id, id));
}

/** Rows per INSERT of run events: a statement's parameters stay bounded whatever the batch. */
const EVENT_ROWS_PER_INSERT = 100;

/**
 * Stores a batch of the run's normalised events and folds their counters into the run row
 * (turns, tokens, cost, last activity). One `run.events` live event per batch, not per line.
 * Inserted in chunks of EVENT_ROWS_PER_INSERT rows: a batch of any size is never one statement.
 *
 * The run's session id is never taken from the batch: a `session` event is stored like any
 * other, and only `adoptSession` (the first one its session reported, chosen by the supervisor)
 * becomes the id a resume names. A later one, which a tool writing into the CLI's stdout could
 * forge, is kept as an event and nothing more.
 */
export async function recordRunEvents(
  tx: DbLike,
  run: Pick<RunRow, "id" | "requestId">,
  batch: readonly AgentEvent[],
  opts: { now?: number; adoptSession?: string } = {},
): Promise<void> {
  const now = opts.now ?? Date.now();
  if (batch.length === 0 && !opts.adoptSession) return;
  for (let i = 0; i < batch.length; i += EVENT_ROWS_PER_INSERT) {
    const rows = [];
    for (const event of batch.slice(i, i + EVENT_ROWS_PER_INSERT))
      rows.push({ runId: run.id, at: now, event });
    await tx.insert(agentRunEvents).values(rows);
  }
  let turns = 0;
  let input = 0;
  let output = 0;
  let cost: number | null = null;
  for (const e of batch) {
    if (e.kind === "turn_end") turns++;
    if (e.kind === "usage") {
      input += e.inputTokens ?? 0;
      output += e.outputTokens ?? 0;
      if (e.costUsd !== undefined) cost = (cost ?? 0) + e.costUsd;
    }
  }
  await tx
    .update(agentRuns)
    .set({
      lastEventAt: now,
      turns: sql`${agentRuns.turns} + ${turns}`,
      inputTokens: sql`${agentRuns.inputTokens} + ${input}`,
      outputTokens: sql`${agentRuns.outputTokens} + ${output}`,
      ...(cost !== null ? { costUsd: sql`coalesce(${agentRuns.costUsd}, 0) + ${cost}` } : {}),
      ...(opts.adoptSession ? { sessionId: opts.adoptSession } : {}),
    })
    .where(eq(agentRuns.id, run.id));
  if (batch.length)
    await appendEvent(tx, {
      topic: "run",
      type: "run.events",
      entityId: run.id,
      payload: { id: run.id, count: batch.length },
    });
}

/** Output lines that were not the CLI's JSON. */
export async function countUnparsed(tx: DbLike, id: number, n: number): Promise<void> {
  if (n > 0)
    await tx
      .update(agentRuns)
      .set({ unparsed: sql`${agentRuns.unparsed} + ${n}` })
      .where(eq(agentRuns.id, id));
}

async function announce(tx: DbLike, row: RunRow, from: RunState | null, to: RunState) {
  const payload = {
    id: row.id,
    task: row.taskId,
    agent: row.agent,
    from,
    to,
    ...(row.reason ? { reason: row.reason } : {}),
  };
  await appendEvent(tx, { topic: "run", type: `run.${to}`, entityId: row.id, payload });
  // The request page follows its runs through its own entity-filtered stream. The reason is
  // stored once, on the run (and its run event): this copy carries only its short form.
  if (row.requestId)
    await appendEvent(tx, {
      topic: "request",
      type: `run.${to}`,
      entityId: row.requestId,
      payload: row.reason ? { ...payload, reason: clipText(row.reason, REASON_BRIEF) } : payload,
    });
}
