import { sql } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { rawAll, rawValue } from "@/server/db/sql";

// What a run's supervisor reads of runs besides their moves (those are in store.ts): how many
// events a run stored, the agent session it resumes, its state, and the workspaces kept.

/** Events stored for a run so far, every session's. */
export async function countRunEvents(db: DbLike, runId: number): Promise<number> {
  return Number(
    (await rawValue(db, sql`SELECT count(*) AS n FROM agent_run_events WHERE run_id = ${runId}`)) ??
      0,
  );
}

/** The agent's own session id a run adopted (the one a resume names), or null. */
export async function runSessionId(db: DbLike, runId: number): Promise<string | null> {
  return (
    (await rawValue<string | null>(
      db,
      sql`SELECT session_id FROM agent_runs WHERE id = ${runId}`,
    )) ?? null
  );
}

/** A live run's state, as stored now. */
export async function liveRunState(
  db: DbLike,
  runId: number,
): Promise<"starting" | "running" | "checking"> {
  return (await rawValue(db, sql`SELECT state FROM agent_runs WHERE id = ${runId}`)) as
    | "starting"
    | "running"
    | "checking";
}

/** The runs of a repository whose workspace is kept, newest first, with its size. */
export async function keptWorkspaces(
  db: DbLike,
  repo: string,
): Promise<{ id: number; workspace: string; bytes: number | null }[]> {
  return rawAll(
    db,
    sql`SELECT id, workspace, workspace_bytes AS bytes FROM agent_runs
         WHERE repo = ${repo} AND workspace IS NOT NULL ORDER BY id DESC`,
  );
}
