import fs from "node:fs";
import path from "node:path";
import type { AgentPolicy } from "@/schemas/agents";
import { sanitizeKept } from "@/server/confine/kept";
import type { RunDir } from "@/server/confine/run";
import type { Db } from "@/server/db/client";
import { keptWorkspaces } from "@/server/runs/queries";
import { noteRun } from "@/server/state/runs/store";

/**
 * A run's folder once the run is over: kept for inspection (a failure to look at) within the
 * policy's count and budget, or removed.
 */
export async function settleWorkspace(
  db: Db,
  runId: number,
  repo: string,
  policy: AgentPolicy,
  dir: RunDir,
  keep: boolean,
): Promise<void> {
  if (keep) {
    // Kept for inspection: never with a setuid or setgid bit, and counted against the budget.
    const { bytes } = sanitizeKept(dir.root);
    await noteRun(db, runId, { workspace: dir.root, workspaceBytes: bytes });
    await pruneKeptWorkspaces(db, repo, policy.keepFailedWorkspaces, policy.keptWorkspacesBytes);
  } else removeWorkspace(dir.root);
}

function removeWorkspace(root: string) {
  // The path comes back from the database: remove only what a run folder looks like.
  if (!path.isAbsolute(root) || !path.basename(root).startsWith("hyperion-agent-")) return;
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(`${root}.git`, { recursive: true, force: true });
}

/**
 * Failed runs' workspaces are kept for inspection: the newest `keep` per repository, and no
 * more than `budgetBytes` of disk between them. Older ones are removed first, and their runs
 * say so (workspace null, the reason unchanged).
 */
export async function pruneKeptWorkspaces(
  db: Db,
  repo: string,
  keep: number,
  budgetBytes = Infinity,
) {
  const kept = await keptWorkspaces(db, repo);
  let used = 0;
  for (const [i, r] of kept.entries()) {
    used += r.bytes ?? 0;
    if (i < keep && used <= budgetBytes) continue;
    removeWorkspace(r.workspace);
    await noteRun(db, r.id, { workspace: null });
  }
}
