import { and, asc, eq, inArray } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import { changeQueueLogs, changeRequests, events } from "@/server/db/schema";
import { NotFoundError } from "@/server/errors";
import { type Trace, traceOf } from "./trace";

/** Lines added and removed per file in a git patch (binary files count no lines). */
export function patchStats(patch: string): { path: string; added: number; removed: number }[] {
  const files: { path: string; added: number; removed: number }[] = [];
  let current: (typeof files)[number] | null = null;
  for (const line of patch.split("\n")) {
    const header = /^diff --git a\/(.+) b\/(.+)$/.exec(line);
    if (header) {
      current = { path: header[2] ?? "", added: 0, removed: 0 };
      files.push(current);
      continue;
    }
    if (!current || line.startsWith("+++ ") || line.startsWith("--- ")) continue;
    if (line.startsWith("+")) current.added++;
    else if (line.startsWith("-")) current.removed++;
  }
  return files;
}

const minutes = (ms: number) =>
  ms < 1000
    ? `${ms} ms`
    : ms < 120_000
      ? `${Math.round(ms / 1000)} s`
      : `${Math.round(ms / 60_000)} min`;

/**
 * What a finished request changed and how it was verified: the files with lines added and
 * removed (of what landed), the checks each change passed, the approvals, and the time spent in
 * each stage — on the request page, and as markdown to download.
 */
export async function requestSummary(db: Db, requestId: number, given?: Trace) {
  const trace = given ?? (await traceOf(db, { requestId, taskId: null }));
  if (!trace.request) throw new NotFoundError(`no request R${requestId}`);
  const landed = trace.tasks.flatMap((t) =>
    t.changes.filter((c) => c.entry && ["merged", "rolled_back"].includes(c.entry.state)),
  );
  const patches = new Map(
    landed.length
      ? (
          await db
            .select({ id: changeRequests.id, patch: changeRequests.patch })
            .from(changeRequests)
            .where(
              inArray(
                changeRequests.id,
                landed.map((c) => c.id),
              ),
            )
        ).map((c) => [c.id, c.patch])
      : [],
  );
  const files = new Map<string, { added: number; removed: number }>();
  for (const c of landed)
    for (const f of patchStats(patches.get(c.id) ?? "")) {
      const sum = files.get(f.path) ?? { added: 0, removed: 0 };
      files.set(f.path, { added: sum.added + f.added, removed: sum.removed + f.removed });
    }
  // Stages of the request, from its status events; the queue's from its entries' moves.
  const statusEvents = await db
    .select({ payload: events.payload, at: events.createdAt })
    .from(events)
    .where(
      and(
        eq(events.topic, "request"),
        eq(events.type, "request.status"),
        eq(events.entityId, requestId),
      ),
    )
    .orderBy(asc(events.id));
  const stages: { stage: string; ms: number }[] = [];
  let since = trace.request.createdAt;
  let stage = "received";
  for (const e of statusEvents) {
    stages.push({ stage, ms: e.at - since });
    since = e.at;
    stage = (e.payload as { status?: string }).status ?? stage;
  }
  const entryIds = landed.flatMap((c) => (c.entry ? [c.entry.id] : []));
  const queueTime = new Map<string, number>();
  if (entryIds.length) {
    const logs = await db
      .select({
        entryId: changeQueueLogs.entryId,
        event: changeQueueLogs.event,
        at: changeQueueLogs.at,
      })
      .from(changeQueueLogs)
      .where(inArray(changeQueueLogs.entryId, entryIds))
      .orderBy(asc(changeQueueLogs.id));
    const last = new Map<number, { state: string; at: number }>();
    for (const l of logs) {
      const prev = last.get(l.entryId);
      if (prev) queueTime.set(prev.state, (queueTime.get(prev.state) ?? 0) + (l.at - prev.at));
      last.set(l.entryId, { state: l.event.to, at: l.at });
    }
  }
  const totals = [...files.values()].reduce(
    (s, f) => ({ added: s.added + f.added, removed: s.removed + f.removed }),
    { added: 0, removed: 0 },
  );
  const approvalsGiven = landed.flatMap((c) => c.approvals.filter((a) => !a.voidedReason));
  const r = trace.request;
  const markdown = [
    `# R${r.id} ${r.title}`,
    "",
    `Repository ${r.repo} · filed by ${r.requester} · ${r.status.replaceAll("_", " ")}`,
    "",
    "## What changed",
    "",
    files.size
      ? [
          "| file | added | removed |",
          "| --- | ---: | ---: |",
          ...[...files].map(([p, f]) => `| \`${p}\` | ${f.added} | ${f.removed} |`),
          `| **total** | **${totals.added}** | **${totals.removed}** |`,
        ].join("\n")
      : "Nothing landed.",
    "",
    "## How it was verified",
    "",
    ...(landed.length
      ? landed.map(
          (c) =>
            `- C${c.id} (${c.risk} risk): ${c.entry?.state === "merged" ? "checks passed, landed" : c.entry?.state.replaceAll("_", " ")} as ${c.entry?.mergedCommit?.slice(0, 12) ?? "—"}`,
        )
      : ["- No change landed."]),
    ...(trace.spec?.checks.length ? ["", `Checks: ${trace.spec.checks.join(", ")}`] : []),
    "",
    "## Approvals",
    "",
    ...(approvalsGiven.length
      ? approvalsGiven.map(
          (a) =>
            `- ${a.decision} by ${a.reviewer}${a.diffShown ? " (diff shown)" : ""}${a.comment ? `: ${a.comment}` : ""}`,
        )
      : ["- None needed."]),
    "",
    "## Time in each stage",
    "",
    ...stages.map((s) => `- ${s.stage.replaceAll("_", " ")}: ${minutes(s.ms)}`),
    ...[...queueTime].map(([s, ms]) => `- queue, ${s.replaceAll("_", " ")}: ${minutes(ms)}`),
    "",
  ].join("\n");
  return { files: [...files].map(([path, f]) => ({ path, ...f })), totals, stages, markdown };
}
