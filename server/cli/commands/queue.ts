import os from "node:os";
import path from "node:path";
import { remoteFailureWords } from "@/schemas/labels";
import { replayInto } from "@/server/queue/replay";
import { quarantined, retryEntry } from "@/server/queue/retry";
import { rollbackEntry } from "@/server/queue/rollback";
import { submitChanges } from "@/server/queue/submit";
import { shutPlanGates } from "@/server/views/plans";
import { queueStatus } from "@/server/views/queue-status";
import { backToTriage, waitingToStart } from "@/server/views/waiting-to-start";
import { cliConfig, cliEnv, withCliDb } from "../context";
import { CliError, printTable, readJsonInput } from "../io";

function entryId(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new CliError(`entry id must be a number, not '${raw}'`, 2);
  return Number(raw);
}

/** `hyperion submit <file|->`: validate and queue change requests; print their ids. */
export async function submitCommand(source: string, opts: { json?: boolean }) {
  const maxPatchBytes = cliEnv().HYPERION_MAX_PATCH_BYTES;
  const input = await readJsonInput(source, maxPatchBytes * 2 + 1024 * 1024);
  return withCliDb(async (db, env) => {
    const config = cliConfig(env.configPath);
    const submitted = await submitChanges(db, input, config, { maxPatchBytes });
    if (opts.json) console.log(JSON.stringify(submitted, null, 2));
    else
      for (const s of submitted)
        console.log(
          `change ${s.id}\tentry ${s.entryId}\tqueued\ttask ${s.taskId}\t${s.paths.length} path(s)`,
        );
  });
}

export function statusCommand(opts: { json?: boolean }) {
  return withCliDb(async (db, env) => {
    const status = await queueStatus(db);
    // Repositories whose plan gate holds their tasks (none when the configuration is unreadable:
    // the queue's own figures are still worth printing).
    let config: ReturnType<typeof cliConfig> | null = null;
    try {
      config = cliConfig(env.configPath);
    } catch {}
    const planGates = config ? await shutPlanGates(db, config) : [];
    // Why tasks wait, in the dispatcher's words (a lock conflict names its holder and keys).
    const waiting = await waitingToStart(db);
    const triaged = await backToTriage(db);
    if (opts.json) {
      console.log(
        JSON.stringify(
          {
            ...status,
            planGates,
            waitingToStart: waiting.tasks.map((t) => ({
              task: t.id,
              repo: t.request.repo,
              reason: t.reason,
            })),
            backToTriage: triaged,
          },
          null,
          2,
        ),
      );
      return;
    }
    for (const g of planGates)
      console.log(
        `plan gate ${g.repo}: shut, no task is dispatched. ${g.reason}. To open it: ${g.fix}`,
      );
    for (const t of waiting.tasks)
      console.log(`task R${t.id} (${t.request.repo}) waits: ${t.reason}`);
    if (waiting.total > waiting.tasks.length)
      console.log(`  … ${waiting.total - waiting.tasks.length} more waiting (see /queue)`);
    for (const t of triaged) console.log(`task R${t.task} (${t.repo}) back to triage: ${t.reason}`);
    const rows = Object.entries(status.counts).map(([state, n]) => ({ state, entries: n }));
    printTable(rows, ["state", "entries"]);
    for (const h of status.hosts) {
      console.log(`host ${h.host}: ${h.alive ? "alive" : "not seen"}`);
      for (const w of h.workers) {
        const held = [
          w.holds.entries.length
            ? `entries ${w.holds.entries.map((id) => `Q${id}`).join(" ")}`
            : "",
          w.holds.tasks.length ? `tasks ${w.holds.tasks.map((id) => `R${id}`).join(" ")}` : "",
          w.holds.runs.length ? `runs ${w.holds.runs.join(" ")}` : "",
        ].filter(Boolean);
        console.log(
          `  ${w.id} pid ${w.pid}  ${w.stopped ? "stopped" : w.alive ? "alive" : "silent"}  beat ${Math.round(w.beatAgeMs / 100) / 10}s ago  ${w.threads.length} thread${w.threads.length === 1 ? "" : "s"}  holds ${held.join(", ") || "nothing"}`,
        );
      }
    }
    console.log(`threads alive: ${status.threadsAlive}`);
    for (const t of status.threads)
      console.log(
        `  ${t.id}  entry ${t.currentEntryId ?? "-"}  beat ${Math.round(t.heartbeatAgeMs / 100) / 10}s ago`,
      );
    console.log(
      `oldest pending entry: ${status.oldestPendingAgeMs === null ? "none" : `${Math.round(status.oldestPendingAgeMs / 1000)}s old`}`,
    );
    for (const r of status.remotes) {
      const seen = Math.max(r.fetchedAt ?? 0, r.pushedAt ?? 0);
      console.log(
        `remote ${r.repo}: ${r.url}  tip ${r.tip?.slice(0, 12) ?? "-"}  last reached ${seen ? `${Math.round((Date.now() - seen) / 1000)}s ago` : "never"}`,
      );
      if (r.failure)
        console.log(
          `  ${remoteFailureWords[r.failure]} ${r.failedAt ? `${Math.round((Date.now() - r.failedAt) / 1000)}s ago` : ""}: ${r.failureMessage ?? ""}`,
        );
    }
  });
}

export function retryCommand(id: string) {
  return withCliDb(async (db) => {
    await retryEntry(db, entryId(id), `cli:${os.userInfo().username}`);
    console.log(`entry ${id} queued again`);
  });
}

export function quarantineListCommand(opts: { json?: boolean }) {
  return withCliDb(async (db) => {
    const rows = await quarantined(db);
    if (opts.json) {
      console.log(JSON.stringify(rows, null, 2));
      return;
    }
    if (rows.length === 0) {
      console.log("no quarantined entries");
      return;
    }
    printTable(
      rows.map((e) => ({
        entry: e.id,
        change: e.changeRequestId,
        kind: e.lastError?.kind ?? "",
        paths: e.lastError?.paths.join(",") ?? "",
        reason: e.lastError?.message ?? "",
      })),
      ["entry", "change", "kind", "paths", "reason"],
    );
    console.log("\nFix the cause, then: hyperion retry <entry>");
  });
}

export function rollbackCommand(id: string) {
  return withCliDb(async (db, env) => {
    const submitted = await rollbackEntry(db, cliConfig(env.configPath), entryId(id));
    console.log(
      `revert queued: change ${submitted?.id}, entry ${submitted?.entryId} (reverts entry ${id})`,
    );
  });
}

export function replayCommand(opts: { out?: string; json?: boolean }) {
  return withCliDb(async (db) => {
    const out = path.resolve(
      opts.out ?? path.join(os.tmpdir(), `hyperion-replay-${Date.now()}.db`),
    );
    const result = await replayInto(db, out);
    if (opts.json) console.log(JSON.stringify({ out, ...result }, null, 2));
    else {
      console.log(`replayed ${result.entries} entries from change_queue_logs into ${out}`);
      if (result.divergences.length === 0)
        console.log("no divergence: the log reproduces the live queue");
      for (const d of result.divergences)
        console.log(
          `  entry ${d.entryId}: ${d.field} live=${String(d.live)} replayed=${String(d.replayed)}`,
        );
    }
    if (result.divergences.length > 0) process.exitCode = 1;
  });
}
