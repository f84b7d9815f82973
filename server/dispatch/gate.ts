import { taskRef } from "@/schemas/ids";
import type { Policy } from "@/schemas/policy";

export type LockHolder = {
  id: string;
  repo: string;
  area: string | null;
  lockScope: "area" | "files" | null;
  neededFiles: string[];
  lockKeys: string[];
};

/** The seed's rule 6: "Missing `Area` means not runnable — issue returns to triage/spec completion". */
const BACK_TO_TRIAGE = "not runnable; back to triage for spec completion";

export type GateResult = { ok: true } | { ok: false; reason: string; triage?: boolean };

/**
 * The active task whose locks the candidate would break, if any — the seed's exclusion rules:
 * one holder per key (1); different areas run in parallel (2); low-risk areas (`docs`, `ci`)
 * share when their files differ (3); overlapping files always conflict (5); other repositories
 * never do.
 */
export function lockConflict(
  candidate: LockHolder,
  active: LockHolder[],
  policy: Policy,
): LockHolder | null {
  const files = new Set(candidate.neededFiles);
  for (const other of active) {
    if (other.id === candidate.id || other.repo !== candidate.repo) continue;
    if (other.neededFiles.some((f) => files.has(f))) return other;
    if (other.area !== candidate.area) continue;
    const areaLocked = other.lockScope === "area" || candidate.lockScope === "area";
    if (areaLocked && !sharesByFile(policy, candidate.area)) return other;
  }
  return null;
}

/** The seed's low-risk areas: `docs` and `ci` by name, and any area whose policy says low risk. */
const SHARED_AREAS = ["docs", "ci"];

/**
 * Rule 3: tasks in a low-risk area run at once when their files differ — its area lock does
 * not exclude another's; their file locks still do (rule 5).
 */
export function sharesByFile(policy: Policy, area: string | null): boolean {
  if (area === null) return false;
  return SHARED_AREAS.includes(area) || policy.areas.find((a) => a.name === area)?.risk === "low";
}

/**
 * The pre-dispatch gate: the repository's plan gate open, dependencies done, an area the policy
 * knows (else back to triage, rule 6), and no lock conflict. A blocked task says why.
 */
export function gate(
  task: LockHolder & { dependsOn: string[] },
  ctx: {
    done: Set<string>;
    active: LockHolder[];
    policy: Policy;
    /** Why the repository's plan gate is shut (server/plan), or nothing: it is open. */
    planShut?: string;
  },
): GateResult {
  // The repository's own plan gate first: while it is shut, none of its tasks starts.
  if (ctx.planShut) return { ok: false, reason: `Plan gate: ${ctx.planShut}` };
  const waiting = task.dependsOn.filter((d) => !ctx.done.has(d));
  if (waiting.length) return { ok: false, reason: `Waiting on ${waiting.map(taskRef).join(", ")}` };
  // Rule 6: without an area the policy knows, a task is not runnable and its request goes back
  // to triage (needs_attention) for its spec to be completed.
  if (!task.area)
    return {
      ok: false,
      triage: true,
      reason: `Missing Area: ${BACK_TO_TRIAGE} (no area of the policy covers ${task.neededFiles.join(", ") || "its files"})`,
    };
  if (!ctx.policy.areas.some((a) => a.name === task.area))
    return {
      ok: false,
      triage: true,
      reason: `Area '${task.area}' is not in the policy: ${BACK_TO_TRIAGE} (areas: ${ctx.policy.areas.map((a) => a.name).join(", ")})`,
    };
  const holder = lockConflict(task, ctx.active, ctx.policy);
  if (holder) {
    // The keys both want, in the seed's words: the files both need when they overlap (even
    // where both hold their area's key), else the keys both hold; an area lock of another
    // scope shares no key, so name the holder's.
    const files = holder.neededFiles.filter((f) => task.neededFiles.includes(f));
    const overlap = files.length
      ? files.map((f) => `${task.repo}:file:${f}`)
      : holder.lockKeys.filter((k) => task.lockKeys.includes(k));
    return {
      ok: false,
      reason: `Lock conflict: ${taskRef(holder.id)} currently holds overlapping lock key(s) ${(overlap.length ? overlap : holder.lockKeys).join(", ")}`,
    };
  }
  return { ok: true };
}
