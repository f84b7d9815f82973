import { eq, like } from "drizzle-orm";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { agentRuns, changeRequests, queueEntries, requests, tasks } from "@/server/db/schema";
import { NotFoundError, ValidationError } from "@/server/errors";
import { Repo } from "@/server/git/repo";
import { patchHash } from "@/server/queue/approval-gate";
import { changeRequestOfMessage } from "@/server/queue/commit";
import { type ChangeWithEntry, type Work, workOf } from "./work";

/**
 * The whole chain of one request, from its words to its commits: request → spec → tasks →
 * runs (agent, prompt hash) → change requests (patch hash) → approvals → queue entries →
 * commits → rollbacks. `hyperion trace` and the trace page print it from any id in it.
 */
export type Trace = {
  request: {
    id: number;
    title: string;
    status: string;
    repo: string;
    requester: string;
    createdAt: number;
    /** The GitHub issue it came from, if it did. */
    issue: { githubRepo: string; number: number; url: string } | null;
  } | null;
  spec: {
    kind: string | null;
    risk: string | null;
    areas: string[];
    files: string[];
    checks: string[];
    engineer: string;
    engineerFallback: string | null;
  } | null;
  tasks: TraceTask[];
};

export type TraceChange = {
  id: number;
  patchHash: string;
  risk: string;
  summary: string;
  runId: number | null;
  revertOf: number | null;
  createdAt: number;
  entry: {
    id: number;
    state: string;
    attempts: number;
    mergedCommit: string | null;
    lastError: string | null;
  } | null;
  approvals: {
    reviewer: string;
    decision: string;
    comment: string;
    diffShown: boolean;
    voidedReason: string | null;
    at: number;
  }[];
  /** The change that reverted this one, when it was rolled back. */
  revertedBy: { id: number; entryId: number | null; mergedCommit: string | null } | null;
};

export type TraceTask = {
  id: string;
  title: string;
  state: string;
  area: string | null;
  runs: {
    id: number;
    agent: string;
    state: string;
    promptHash: string | null;
    reason: string | null;
  }[];
  changes: TraceChange[];
};

/** What an id names: a request (R12 or 12), a task (R12.1), an entry (Q7), a change (C5), a run (run 3), a commit. */
export type TraceRef =
  | { kind: "request"; id: number }
  | { kind: "task"; id: string }
  | { kind: "entry"; id: number }
  | { kind: "change"; id: number }
  | { kind: "run"; id: number }
  | { kind: "commit"; sha: string };

export function parseTraceRef(raw: string): TraceRef {
  const s = raw.trim();
  const match = (re: RegExp) => re.exec(s)?.[1];
  const request = match(/^R?(\d{1,9})$/i);
  if (request) return { kind: "request", id: Number(request) };
  const task = match(/^R?(\d{1,9}\.\d{1,4})$/i) ?? match(/^(adhoc-[0-9a-f]{8})$/);
  if (task) return { kind: "task", id: task };
  const entry = match(/^Q(\d{1,9})$/i);
  if (entry) return { kind: "entry", id: Number(entry) };
  const change = match(/^C(\d{1,9})$/i);
  if (change) return { kind: "change", id: Number(change) };
  const run = match(/^run[:#\s]?(\d{1,9})$/i);
  if (run) return { kind: "run", id: Number(run) };
  if (/^[0-9a-f]{7,40}$/i.test(s)) return { kind: "commit", sha: s.toLowerCase() };
  throw new ValidationError([
    {
      path: "id",
      message: `'${s.slice(0, 60)}' names nothing Hyperion knows: use a request (R12), task (R12.1), queue entry (Q7), change (C5), run (run 3) or a commit sha`,
    },
  ]);
}

/** The change request a commit on a target branch landed, by its trailer (or its merge record). */
async function changeOfCommit(db: Db, config: LoadedConfig, sha: string): Promise<number> {
  const recorded = await db
    .select({ change: queueEntries.changeRequestId })
    .from(queueEntries)
    .where(like(queueEntries.mergedCommit, `${sha}%`));
  if (recorded.length === 1 && recorded[0]) return recorded[0].change;
  if (recorded.length > 1)
    throw new ValidationError([{ path: "id", message: `${sha} is ambiguous; give more digits` }]);
  for (const repo of config.repositories) {
    const body = await Repo.at(repo.path)
      .commitMessage(sha)
      .catch(() => null);
    const n = body ? changeRequestOfMessage(body) : null;
    if (n !== null) return n;
  }
  throw new NotFoundError(
    `no commit ${sha} landed by Hyperion (no queue entry merged it, and no repository has it with a Hyperion-Change-Request trailer)`,
  );
}

/** The task (and so the request) an id leads to. */
export async function resolveTrace(
  db: Db,
  config: LoadedConfig,
  raw: string,
  as?: "commit",
): Promise<{ requestId: number | null; taskId: string | null }> {
  const ref: TraceRef = as ? { kind: "commit", sha: raw.trim() } : parseTraceRef(raw);
  const taskOfChange = async (id: number) => {
    const [row] = await db
      .select({ taskId: changeRequests.taskId, requestId: tasks.requestId })
      .from(changeRequests)
      .innerJoin(tasks, eq(tasks.id, changeRequests.taskId))
      .where(eq(changeRequests.id, id))
      .limit(1);
    if (!row) throw new NotFoundError(`no change request C${id}`);
    return row;
  };
  switch (ref.kind) {
    case "request": {
      if (
        (
          await db
            .select({ id: requests.id })
            .from(requests)
            .where(eq(requests.id, ref.id))
            .limit(1)
        )[0]
      )
        return { requestId: ref.id, taskId: null };
      // Seven digits or more may be a commit whose sha happens to hold no letter.
      if (raw.trim().length >= 7) return resolveTrace(db, config, `${raw.trim()}`, "commit");
      throw new NotFoundError(`no request R${ref.id}`);
    }
    case "task": {
      const [t] = await db.select().from(tasks).where(eq(tasks.id, ref.id)).limit(1);
      if (!t) throw new NotFoundError(`no task ${ref.id}`);
      return { requestId: t.requestId, taskId: t.id };
    }
    case "entry": {
      const [e] = await db.select().from(queueEntries).where(eq(queueEntries.id, ref.id)).limit(1);
      if (!e) throw new NotFoundError(`no queue entry Q${ref.id}`);
      return taskOfChange(e.changeRequestId);
    }
    case "change":
      return taskOfChange(ref.id);
    case "run": {
      const [r] = await db.select().from(agentRuns).where(eq(agentRuns.id, ref.id)).limit(1);
      if (!r) throw new NotFoundError(`no run ${ref.id}`);
      return { requestId: r.requestId, taskId: r.taskId };
    }
    case "commit": {
      const change = await changeOfCommit(db, config, ref.sha);
      // A revert's chain is the chain of the change it reverted.
      const [row] = await db
        .select()
        .from(changeRequests)
        .where(eq(changeRequests.id, change))
        .limit(1);
      return taskOfChange(row?.revertOf ?? change);
    }
  }
}

/** The chain of a request (all its tasks), or of an ad-hoc task that has no request. */
export async function traceOf(
  db: Db,
  target: { requestId: number | null; taskId: string | null },
): Promise<Trace> {
  return traceOfWork(await workOf(db, target));
}

/** The chain, shaped from a request's work. */
export function traceOfWork(work: Work): Trace {
  const toChange = ({ change, entry }: ChangeWithEntry): TraceChange => {
    const revert = work.reverts.find((r) => r.change.revertOf === change.id);
    return {
      id: change.id,
      patchHash: patchHash(change.patch),
      risk: change.risk,
      summary: change.summary,
      runId: change.runId,
      revertOf: change.revertOf,
      createdAt: change.createdAt,
      entry: entry
        ? {
            id: entry.id,
            state: entry.state,
            attempts: entry.attempts,
            mergedCommit: entry.mergedCommit,
            lastError: entry.lastError?.message ?? null,
          }
        : null,
      approvals: work.reviews
        .filter((d) => d.changeRequestId === change.id)
        .map((d) => ({
          reviewer: d.reviewer,
          decision: d.decision,
          comment: d.comment,
          diffShown: d.diffShown,
          voidedReason: d.voidedReason,
          at: d.createdAt,
        })),
      revertedBy: revert
        ? {
            id: revert.change.id,
            entryId: revert.entry?.id ?? null,
            mergedCommit: revert.entry?.mergedCommit ?? null,
          }
        : null,
    };
  };
  const { request, spec } = work;
  return {
    request: request
      ? {
          id: request.id,
          title: request.title,
          status: request.status,
          repo: request.repo,
          requester: request.requester,
          createdAt: request.createdAt,
          issue: work.issue,
        }
      : null,
    spec: spec
      ? {
          kind: spec.spec?.kind ?? null,
          risk: spec.spec?.risk ?? null,
          areas: spec.spec?.areas ?? [],
          files: spec.spec?.files ?? [],
          checks: spec.spec?.checks ?? [],
          engineer: spec.engineer,
          engineerFallback: spec.engineerFallback,
        }
      : null,
    tasks: work.tasks.map((t) => ({
      id: t.id,
      title: t.title,
      state: t.state,
      area: t.area,
      runs: work.runs
        .filter((r) => r.taskId === t.id)
        .map((r) => ({
          id: r.id,
          agent: r.agent,
          state: r.state,
          promptHash: r.promptHash,
          reason: r.reason,
        })),
      changes: work.changes.filter((c) => c.change.taskId === t.id).map(toChange),
    })),
  };
}

/** The chain as indented lines, for the CLI and the markdown summary. */
export function traceLines(trace: Trace): string[] {
  const out: string[] = [];
  const short = (s: string | null) => (s ? s.slice(0, 12) : "—");
  if (trace.request)
    out.push(
      `R${trace.request.id} ${trace.request.title} [${trace.request.status}] · ${trace.request.repo} · filed by ${trace.request.requester}${trace.request.issue ? ` from ${trace.request.issue.url}` : ""}`,
    );
  if (trace.spec)
    out.push(
      `  spec: ${trace.spec.kind ?? "?"}, risk ${trace.spec.risk ?? "?"}, areas ${trace.spec.areas.join(", ") || "—"}, files ${trace.spec.files.join(", ") || "—"}, checks ${trace.spec.checks.join(", ") || "none"}; scoped by ${trace.spec.engineer}${trace.spec.engineerFallback ? ` (${trace.spec.engineerFallback})` : ""}`,
    );
  for (const t of trace.tasks) {
    out.push(`  task ${t.id} ${t.title} [${t.state}]${t.area ? ` · area ${t.area}` : ""}`);
    for (const r of t.runs)
      out.push(
        `    run ${r.id} ${r.agent} [${r.state}] prompt sha256:${short(r.promptHash)}${r.reason ? ` — ${r.reason}` : ""}`,
      );
    for (const c of t.changes) {
      out.push(
        `    change C${c.id} patch sha256:${short(c.patchHash)} · risk ${c.risk}${c.runId ? ` · from run ${c.runId}` : ""}`,
      );
      for (const a of c.approvals)
        out.push(
          `      ${a.decision} by ${a.reviewer}${a.diffShown ? " (diff shown)" : ""}${a.comment ? `: ${a.comment}` : ""}${a.voidedReason ? ` — voided: ${a.voidedReason}` : ""}`,
        );
      if (c.entry)
        out.push(
          `      Q${c.entry.id} [${c.entry.state}]${c.entry.mergedCommit ? ` → commit ${c.entry.mergedCommit.slice(0, 12)}` : ""}${c.entry.lastError && c.entry.state !== "merged" ? ` — ${c.entry.lastError}` : ""}`,
        );
      if (c.revertedBy)
        out.push(
          `      rolled back by C${c.revertedBy.id}${c.revertedBy.entryId ? ` / Q${c.revertedBy.entryId}` : ""}${c.revertedBy.mergedCommit ? ` → commit ${c.revertedBy.mergedCommit.slice(0, 12)}` : ""}`,
        );
    }
  }
  return out;
}
