import fs from "node:fs";
import { and, desc, eq, getTableColumns, inArray, type SQL } from "drizzle-orm";
import { z } from "zod";
import { AgentName } from "@/schemas/agents";
import { fieldIssues } from "@/schemas/issues";
import { runStates } from "@/schemas/run-state";
import type { Db } from "@/server/db/client";
import { agentRunEvents, agentRuns, events, queueEntries, runSteers } from "@/server/db/schema";
import { ValidationError } from "@/server/errors";
import { liveRunStates } from "../state/runs/states";

export const RunFilter = z
  .strictObject({
    state: z.enum(runStates).optional(),
    agent: AgentName.optional(),
    requestId: z.number().int().positive().optional(),
    limit: z.number().int().min(1).max(500).default(100),
  })
  .default({ limit: 100 });

/** Runs, newest first, filtered by state, agent or request. */
export async function listRuns(db: Db, input: unknown) {
  const parsed = RunFilter.safeParse(input ?? {});
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  const f = parsed.data;
  const where: SQL[] = [];
  if (f.state) where.push(eq(agentRuns.state, f.state));
  if (f.agent) where.push(eq(agentRuns.agent, f.agent));
  if (f.requestId) where.push(eq(agentRuns.requestId, f.requestId));
  return await db
    .select({ ...getTableColumns(agentRuns), entryId: queueEntries.id })
    .from(agentRuns)
    .leftJoin(queueEntries, eq(queueEntries.changeRequestId, agentRuns.changeRequestId))
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(agentRuns.id))
    .limit(f.limit);
}

/** Everything the run page shows: the run, its events, its steering, its prompt and its change. */
export async function runDetail(db: Db, id: number, opts: { afterEventId?: number } = {}) {
  const [run] = await db.select().from(agentRuns).where(eq(agentRuns.id, id)).limit(1);
  if (!run) return null;
  const log = (
    await db
      .select()
      .from(agentRunEvents)
      .where(eq(agentRunEvents.runId, id))
      .orderBy(agentRunEvents.id)
  )
    .filter((e) => e.id > (opts.afterEventId ?? 0))
    .slice(-2000);
  const steers = await db
    .select()
    .from(runSteers)
    .where(eq(runSteers.runId, id))
    .orderBy(runSteers.id);
  let prompt: string | null = null;
  try {
    prompt = run.promptPath ? fs.readFileSync(run.promptPath, "utf8") : null;
  } catch {
    prompt = null;
  }
  const entry = run.changeRequestId
    ? ((
        await db
          .select({
            id: queueEntries.id,
            state: queueEntries.state,
            mergedCommit: queueEntries.mergedCommit,
          })
          .from(queueEntries)
          .where(eq(queueEntries.changeRequestId, run.changeRequestId))
          .limit(1)
      )[0] ?? null)
    : null;
  return { run, events: log, steers, prompt, entry, moves: await runMoves(db, id) };
}

/** One step of a run's life: a move of the run or of the change it submitted. */
export type RunMove = {
  at: number;
  type: string;
  from: string | null;
  to: string;
  reason: string | null;
};

/**
 * The run's moves (started, checking, submitted, failed…) and, after it submitted, its change's
 * (queued, merged, quarantined…), oldest first, from the event log: the page's timeline, which
 * says what happened even when the agent itself printed nothing.
 */
async function runMoves(db: Db, id: number): Promise<RunMove[]> {
  return (
    await db
      .select({ at: events.createdAt, type: events.type, payload: events.payload })
      .from(events)
      .where(and(eq(events.topic, "run"), eq(events.entityId, id)))
      .orderBy(events.id)
  )
    .filter((e) => e.type !== "run.events" && !e.type.startsWith("run.steer"))
    .slice(-200)
    .map((e) => {
      const p = (e.payload ?? {}) as { from?: unknown; to?: unknown; reason?: unknown };
      return {
        at: e.at,
        type: e.type,
        from: typeof p.from === "string" ? p.from : null,
        to: typeof p.to === "string" ? p.to : e.type.split(".").slice(1).join("."),
        reason: typeof p.reason === "string" ? p.reason : null,
      };
    });
}
export type RunDetail = NonNullable<Awaited<ReturnType<typeof runDetail>>>;

export async function liveRuns(db: Db) {
  return await db
    .select()
    .from(agentRuns)
    .where(inArray(agentRuns.state, [...liveRunStates]));
}
