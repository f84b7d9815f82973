import type { Db } from "@/server/db/client";

// What a run's supervisor reads of runs besides their moves (those are in store.ts): how many
// events a run stored, the agent session it resumes, its state, and the workspaces kept.

/** Events stored for a run so far, every session's. */
export function countRunEvents(db: Db, runId: number): number {
  return db.$client
    .prepare("SELECT count(*) FROM agent_run_events WHERE run_id = ?")
    .pluck()
    .get(runId) as number;
}

/** The agent's own session id a run adopted (the one a resume names), or null. */
export function runSessionId(db: Db, runId: number): string | null {
  return db.$client.prepare("SELECT session_id FROM agent_runs WHERE id = ?").pluck().get(runId) as
    | string
    | null;
}

/** A live run's state, as stored now. */
export function liveRunState(db: Db, runId: number): "starting" | "running" | "checking" {
  return db.$client.prepare("SELECT state FROM agent_runs WHERE id = ?").pluck().get(runId) as
    | "starting"
    | "running"
    | "checking";
}

/** The runs of a repository whose workspace is kept, newest first, with its size. */
export function keptWorkspaces(
  db: Db,
  repo: string,
): { id: number; workspace: string; bytes: number | null }[] {
  return db.$client
    .prepare(
      `SELECT id, workspace, workspace_bytes AS bytes FROM agent_runs
       WHERE repo = ? AND workspace IS NOT NULL ORDER BY id DESC`,
    )
    .all(repo) as { id: number; workspace: string; bytes: number | null }[];
}
