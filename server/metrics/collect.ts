import { and, count, eq, isNull, max, min, type SQL, sql } from "drizzle-orm";
import { Counter, Gauge, Registry } from "prom-client";
import { entryStates } from "@/schemas/queue";
import { requestStatuses } from "@/schemas/request-status";
import type { Db } from "@/server/db/client";
import {
  agentRuns,
  changeQueueLogs,
  checkRuns,
  githubDeliveries,
  queueEntries,
  requests,
  workerHeartbeats,
} from "@/server/db/schema";
import { jsonText, rawAll } from "@/server/db/sql";
import { liveRunStates } from "@/server/state/runs/states";
import { ALIVE_WITHIN_MS } from "@/server/workers/heartbeat";
import { bucketed, StoredHistogram } from "./histogram";
import { pipelineMetrics } from "./pipeline";
import { histogramParts, histogramRows, type Parts, tallied } from "./tally";

// Hyperion's Prometheus metrics (docs/operations.md, "Metrics"), computed from the database when
// scraped, into a fresh prom-client Registry each time. Nothing is counted in a process's memory:
// every worker, queue thread and web host writes its share of the work to the one database
// (each landing is one change_queue_logs row, each check run one check_runs row, …), so any
// process that answers a scrape reports the whole install, and each process's share is counted
// exactly once however many processes or hosts there are. For the same reason no per-process
// metrics (Node's heap, event loop) are exported: they would differ from host to host.
//
// Bounded cost: every family is an aggregate query (COUNT/SUM/MAX, and CASE-per-bucket for the
// histograms, GROUP BY a few labels), so only aggregates leave the database and a scrape's memory
// is bounded by labels × buckets. The two tables that grow with every move and check
// (change_queue_logs, check_runs) are append-only: their settled rows are folded once into
// totals kept per process (tally.ts), so a scrape reads only the rows of the last minutes there;
// the other tables hold a row per change, run, request or host, and are aggregated whole.

/** Time from submission to landing, in seconds. */
const QUEUE_TIME_BOUNDS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];
/** One landing attempt, from applying to merged, in seconds. */
const LANDING_BOUNDS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const CHECK_BOUNDS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const RUN_BOUNDS = [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

const num = (v: unknown) => Number(v ?? 0);

/** One of the queue's moves, as its log tallies them: per repository, state and error kind. */
type Move = { repo: string; to: string; kind: string | null; n: number };

/** The queue's counters of moves: each counts, per repository, the moves it matches. */
const MOVE_COUNTERS: { name: string; help: string; match: (m: Move) => boolean }[] = [
  {
    name: "hyperion_landings_total",
    help: "Changes landed on their target branch by the merge queue (moves to merged).",
    match: (m) => m.to === "merged",
  },
  {
    name: "hyperion_conflicts_total",
    help: "Landing attempts that met a merge conflict with the branch's tip.",
    match: (m) => m.kind === "conflict",
  },
  {
    name: "hyperion_quarantines_total",
    help: "Entries quarantined: out of attempts or failing for good, waiting for an operator.",
    match: (m) => m.to === "quarantined",
  },
  {
    name: "hyperion_retries_total",
    help: "Landing attempts that failed and were scheduled to be tried again (moves to retry_wait).",
    match: (m) => m.to === "retry_wait",
  },
  {
    name: "hyperion_lease_takeovers_total",
    help: "Entries taken back from a worker whose lease expired or whose queue thread crashed, to be landed by another.",
    match: (m) => m.kind === "lease_expired",
  },
];

/** Every metric, read from the database now: the text exposition format and its content type. */
export async function collectMetrics(
  db: Db,
  now = Date.now(),
): Promise<{ text: string; contentType: string }> {
  const registry = new Registry();
  // One after another: the families come out in this order on every scrape.
  await queueMetrics(db, registry, now);
  await checkMetrics(db, registry, now);
  await agentMetrics(db, registry);
  await workerMetrics(db, registry, now);
  await requestMetrics(db, registry);
  await deliveryMetrics(db, registry);
  return { text: await registry.metrics(), contentType: registry.contentType };
}

async function queueMetrics(db: Db, registry: Registry, now: number) {
  const registers = [registry];
  // Entries by state, every state shown (0 too) for each repository that has entries.
  const byState = await db
    .select({ repo: queueEntries.repo, state: queueEntries.state, n: count() })
    .from(queueEntries)
    .groupBy(queueEntries.repo, queueEntries.state);
  const entries = new Gauge({
    name: "hyperion_queue_entries",
    help: "Merge queue entries in each state now (queued, applying, checking, ready, merged, quarantined, …).",
    labelNames: ["repo", "state"],
    registers,
  });
  for (const repo of new Set(byState.map((r) => r.repo)))
    for (const state of entryStates) entries.set({ repo, state }, 0);
  for (const r of byState) entries.set({ repo: r.repo, state: r.state }, num(r.n));

  // The queue's moves and landing times, from its append-only log (one row per move, so the
  // counters only ever grow), tallied at bounded cost (tally.ts).
  const log = await tallied(
    db,
    "change_queue_logs",
    { self: sql`${changeQueueLogs}`, id: changeQueueLogs.id, at: changeQueueLogs.at },
    (range) => queueLogParts(db, range),
    now,
  );
  const moves: Move[] = (log.moves ?? []).map((p) => ({
    repo: p.labels.repo ?? "",
    to: p.labels.to ?? "",
    kind: p.labels.kind || null,
    n: p.values[0] ?? 0,
  }));
  const repos = new Set([...byState.map((r) => r.repo), ...moves.map((m) => m.repo)]);
  for (const { name, help, match } of MOVE_COUNTERS) {
    const c = new Counter({ name, help, labelNames: ["repo"], registers });
    for (const repo of repos) c.inc({ repo }, 0);
    for (const m of moves) if (match(m)) c.inc({ repo: m.repo }, m.n);
  }
  const errors = new Counter({
    name: "hyperion_queue_errors_total",
    help: "Failed landing attempts by kind of error (conflict, check_failed, check_timeout, lease_expired, …).",
    labelNames: ["repo", "kind"],
    registers,
  });
  for (const m of moves) if (m.kind) errors.inc({ repo: m.repo, kind: m.kind }, m.n);

  new StoredHistogram(
    "hyperion_queue_time_seconds",
    "Time from a change's submission to the queue until it landed, in seconds.",
    QUEUE_TIME_BOUNDS,
    histogramRows(log.queueTime, QUEUE_TIME_BOUNDS),
  ).register(registry);
  new StoredHistogram(
    "hyperion_landing_duration_seconds",
    "Time a landing attempt that succeeded took, from applying the patch to moving the branch, in seconds.",
    LANDING_BOUNDS,
    histogramRows(log.landing, LANDING_BOUNDS),
  ).register(registry);

  // Approvals: entries waiting for a reviewer, and how long the oldest has waited.
  const waiting = await db
    .select({ repo: queueEntries.repo, n: count(), since: min(queueEntries.updatedAt) })
    .from(queueEntries)
    .where(eq(queueEntries.state, "awaiting_approval"))
    .groupBy(queueEntries.repo);
  const approvals = new Gauge({
    name: "hyperion_approvals_waiting",
    help: "Changes waiting for a reviewer's approval now.",
    labelNames: ["repo"],
    registers,
  });
  const oldest = new Gauge({
    name: "hyperion_approval_oldest_wait_seconds",
    help: "How long the change that has waited longest for approval has waited, in seconds (0 when none waits).",
    labelNames: ["repo"],
    registers,
  });
  for (const repo of repos) {
    approvals.set({ repo }, 0);
    oldest.set({ repo }, 0);
  }
  for (const w of waiting) {
    approvals.set({ repo: w.repo }, num(w.n));
    oldest.set({ repo: w.repo }, Math.max(0, (now - num(w.since)) / 1000));
  }

  await pipelineMetrics(db, registry, repos);
}

/** The log rows `range` selects, aggregated: moves by repository, state and error kind, and the
 * landings' times in buckets. */
async function queueLogParts(db: Db, range: SQL): Promise<Parts> {
  const joined = sql`${changeQueueLogs} JOIN ${queueEntries} ON ${queueEntries.id} = ${changeQueueLogs.entryId}`;
  const moves = await rawAll<{ repo: string; to: string; kind: string | null; n: unknown }>(
    db,
    sql`SELECT ${queueEntries.repo} AS repo, ${jsonText(changeQueueLogs.event, "to")} AS "to",
          ${jsonText(changeQueueLogs.event, "error", "kind")} AS kind, count(*) AS n
        FROM ${joined} WHERE ${range}
        GROUP BY 1, 2, 3`,
  );
  const landed = sql`${joined} WHERE ${range} AND ${jsonText(changeQueueLogs.event, "to")} = 'merged'`;
  const queueTime = await bucketed(db, {
    labels: { repo: sql`${queueEntries.repo}` },
    value: sql`(${changeQueueLogs.at} - ${queueEntries.createdAt})`,
    from: landed,
    bounds: QUEUE_TIME_BOUNDS,
  });
  const landing = await bucketed(db, {
    labels: { repo: sql`${queueEntries.repo}` },
    value: sql`CAST(${jsonText(changeQueueLogs.event, "durationMs")} AS BIGINT)`,
    from: sql`${landed} AND ${jsonText(changeQueueLogs.event, "durationMs")} IS NOT NULL`,
    bounds: LANDING_BOUNDS,
  });
  return {
    moves: moves.map((m) => ({
      labels: { repo: m.repo, to: m.to ?? "", kind: m.kind ?? "" },
      values: [num(m.n)],
    })),
    queueTime: histogramParts(queueTime),
    landing: histogramParts(landing),
  };
}

async function checkMetrics(db: Db, registry: Registry, now: number) {
  const registers = [registry];
  const parts = await tallied(
    db,
    "check_runs",
    { self: sql`${checkRuns}`, id: checkRuns.id, at: checkRuns.at },
    async (range) => {
      const runs = await db
        .select({
          repo: checkRuns.repo,
          place: checkRuns.place,
          check: checkRuns.check,
          outcome: checkRuns.outcome,
          n: count(),
        })
        .from(checkRuns)
        .where(range)
        .groupBy(checkRuns.repo, checkRuns.place, checkRuns.check, checkRuns.outcome);
      const durations = await bucketed(db, {
        labels: { repo: sql`${checkRuns.repo}`, place: sql`${checkRuns.place}` },
        value: sql`${checkRuns.durationMs}`,
        from: sql`${checkRuns} WHERE ${range}`,
        bounds: CHECK_BOUNDS,
      });
      return {
        runs: runs.map(({ n, ...labels }) => ({ labels, values: [num(n)] })),
        durations: histogramParts(durations),
      };
    },
    now,
  );
  const total = new Counter({
    name: "hyperion_check_runs_total",
    help: "Check runs by check and outcome (passed, failed, timed_out); place is landing (on what lands) or workspace (an agent's own).",
    labelNames: ["repo", "place", "check", "outcome"],
    registers,
  });
  const failures = new Counter({
    name: "hyperion_check_failures_total",
    help: "Check runs that failed or timed out.",
    labelNames: ["repo", "place", "check"],
    registers,
  });
  for (const { labels, values } of parts.runs ?? []) {
    const { outcome = "", ...where } = labels;
    const n = values[0] ?? 0;
    total.inc({ ...where, outcome }, n);
    failures.inc(where, outcome === "passed" ? 0 : n);
  }
  new StoredHistogram(
    "hyperion_check_run_duration_seconds",
    "Time a check run took, in seconds.",
    CHECK_BOUNDS,
    histogramRows(parts.durations, CHECK_BOUNDS),
  ).register(registry);
}

async function agentMetrics(db: Db, registry: Registry) {
  const registers = [registry];
  const rows = await db
    .select({
      repo: agentRuns.repo,
      agent: agentRuns.agent,
      state: agentRuns.state,
      n: count(),
      input: sql<unknown>`sum(${agentRuns.inputTokens})`,
      output: sql<unknown>`sum(${agentRuns.outputTokens})`,
      cost: sql<unknown>`sum(${agentRuns.costUsd})`,
    })
    .from(agentRuns)
    .groupBy(agentRuns.repo, agentRuns.agent, agentRuns.state);
  const finished = new Counter({
    name: "hyperion_agent_runs_total",
    help: "Agent runs that ended, by agent and outcome (submitted, no_change, failed, stopped, lost).",
    labelNames: ["repo", "agent", "outcome"],
    registers,
  });
  const live = new Gauge({
    name: "hyperion_agent_runs_active",
    help: "Agent runs under way now, by agent and state (starting, running, checking).",
    labelNames: ["repo", "agent", "state"],
    registers,
  });
  const tokens = new Counter({
    name: "hyperion_agent_tokens_total",
    help: "Tokens agents read (direction=input) and wrote (direction=output), as their CLIs reported.",
    labelNames: ["repo", "agent", "direction"],
    registers,
  });
  const cost = new Counter({
    name: "hyperion_agent_cost_usd_total",
    help: "What agent runs cost, in US dollars, as their CLIs reported (runs that report no cost add 0).",
    labelNames: ["repo", "agent"],
    registers,
  });
  for (const r of rows) {
    const who = { repo: r.repo, agent: r.agent };
    if (liveRunStates.includes(r.state)) live.set({ ...who, state: r.state }, num(r.n));
    else finished.inc({ ...who, outcome: r.state }, num(r.n));
    tokens.inc({ ...who, direction: "input" }, num(r.input));
    tokens.inc({ ...who, direction: "output" }, num(r.output));
    cost.inc(who, num(r.cost));
  }
  new StoredHistogram(
    "hyperion_agent_run_duration_seconds",
    "Time an agent run took from its start to its end, in seconds (runs that ended).",
    RUN_BOUNDS,
    await bucketed(db, {
      labels: { repo: sql`${agentRuns.repo}`, agent: sql`${agentRuns.agent}` },
      value: sql`(${agentRuns.endedAt} - coalesce(${agentRuns.startedAt}, ${agentRuns.createdAt}))`,
      from: sql`${agentRuns} WHERE ${agentRuns.endedAt} IS NOT NULL`,
      bounds: RUN_BOUNDS,
    }),
  ).register(registry);
}

async function workerMetrics(db: Db, registry: Registry, now: number) {
  const hosts = await db
    .select({
      host: workerHeartbeats.host,
      beat: max(workerHeartbeats.beatAt),
      // Alive as the rest of Hyperion judges it (workers/heartbeat.ts): beat lately.
      alive: sql<unknown>`sum(CASE WHEN ${workerHeartbeats.beatAt} >= ${now - ALIVE_WITHIN_MS} THEN 1 ELSE 0 END)`,
    })
    .from(workerHeartbeats)
    .where(and(isNull(workerHeartbeats.stoppedAt), eq(workerHeartbeats.role, "supervisor")))
    .groupBy(workerHeartbeats.host);
  const age = new Gauge({
    name: "hyperion_worker_heartbeat_age_seconds",
    help: "Seconds since the last heartbeat of a worker on this host that has not stopped (grows while a host is down).",
    labelNames: ["host"],
    registers: [registry],
  });
  const workers = new Gauge({
    name: "hyperion_workers",
    help: "Worker processes alive on this host now: not stopped, and their heartbeat is recent.",
    labelNames: ["host"],
    registers: [registry],
  });
  for (const h of hosts) {
    age.set({ host: h.host }, Math.max(0, (now - num(h.beat)) / 1000));
    workers.set({ host: h.host }, num(h.alive));
  }
}

async function requestMetrics(db: Db, registry: Registry) {
  const rows = await db
    .select({ repo: requests.repo, status: requests.status, n: count() })
    .from(requests)
    .groupBy(requests.repo, requests.status);
  const gauge = new Gauge({
    name: "hyperion_requests",
    help: "Requests in each status now (received, planned, in_progress, done, failed, …).",
    labelNames: ["repo", "status"],
    registers: [registry],
  });
  for (const repo of new Set(rows.map((r) => r.repo)))
    for (const status of requestStatuses) gauge.set({ repo, status }, 0);
  for (const r of rows) gauge.set({ repo: r.repo, status: r.status }, num(r.n));
}

async function deliveryMetrics(db: Db, registry: Registry) {
  const rows = await db
    .select({ event: githubDeliveries.event, state: githubDeliveries.state, n: count() })
    .from(githubDeliveries)
    .groupBy(githubDeliveries.event, githubDeliveries.state);
  const done = new Counter({
    name: "hyperion_github_deliveries_total",
    help: "GitHub webhook deliveries the worker has dealt with, by event and outcome (handled, ignored, failed).",
    labelNames: ["event", "outcome"],
    registers: [registry],
  });
  const queued = new Gauge({
    name: "hyperion_github_deliveries_waiting",
    help: "GitHub webhook deliveries received and not yet dealt with by the worker.",
    registers: [registry],
  });
  queued.set(0);
  for (const r of rows)
    if (r.state === "queued") queued.inc(num(r.n));
    else done.inc({ event: r.event, outcome: r.state }, num(r.n));
}
