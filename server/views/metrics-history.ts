import { type SQL, sql } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { jsonText, rawAll } from "@/server/db/sql";
import { ValidationError } from "@/server/errors";

/**
 * The metrics page's figures over the last hour, day or week, read from stored history (queue
 * entries and their log, check runs, agent runs), so a restart does not empty them. Bucketed in
 * SQL both engines speak: a bucket is `(time - since) / width` in integer arithmetic, and
 * percentiles are nearest-rank by ROW_NUMBER() over each bucket, so only a few rows per bucket
 * leave the database whatever the history's size.
 */

export const metricsRanges = ["hour", "day", "week"] as const;
export type MetricsRange = (typeof metricsRanges)[number];

/** Each range's buckets: how many, how wide. Ends on a multiple of the width (UTC). */
export const rangeBuckets: Record<MetricsRange, { count: number; widthMs: number }> = {
  hour: { count: 12, widthMs: 5 * 60_000 },
  day: { count: 24, widthMs: 60 * 60_000 },
  week: { count: 28, widthMs: 6 * 60 * 60_000 },
};

export type MetricsQuery = { range: MetricsRange; repo: string | null };

export type MetricsBucket = {
  /** The bucket's start (ms since the epoch); it covers [start, start + bucketMs). */
  start: number;
  landings: number;
  /** Entries that finished: landed, quarantined or rejected. */
  finished: number;
  failed: number;
  /** Finished entries that met a merge conflict on the way (landed or not). */
  conflicted: number;
  queueP50Ms: number | null;
  queueP95Ms: number | null;
  checks: number;
  checkFailures: number;
  checkP50Ms: number | null;
  checkP95Ms: number | null;
  /** Changes waiting for a reviewer's approval at the bucket's end (or now, for the last). */
  approvalsWaiting: number;
};

export type MetricsHistory = {
  range: MetricsRange;
  repo: string | null;
  since: number;
  until: number;
  bucketMs: number;
  buckets: MetricsBucket[];
  totals: {
    landings: number;
    finished: number;
    successRate: number | null;
    conflictRate: number | null;
    failureRate: number | null;
    queueP50Ms: number | null;
    queueP95Ms: number | null;
    checks: number;
    checkFailures: number;
    agentRuns: number;
    costUsd: number;
    approvalsWaitingNow: number;
    oldestWaitingMs: number | null;
  };
  /** The checks that ran most in the window, slowest p95 first among equals. */
  checks: {
    check: string;
    runs: number;
    failures: number;
    p50Ms: number | null;
    p95Ms: number | null;
  }[];
  agents: {
    agent: string;
    runs: number;
    submitted: number;
    noChange: number;
    failed: number;
    costUsd: number;
    tokens: number;
  }[];
};

/** At most this many check names and waiting spells are read (bounded cost on a big history). */
const MAX_CHECKS = 20;
const MAX_SPELLS = 5_000;

/**
 * The page's and the procedure's input, checked: an unknown range or repository is refused with
 * the field named (a 400 through tRPC). A missing range is the day; a missing or empty
 * repository is every repository.
 */
export function metricsQuery(
  input: { range?: unknown; repo?: unknown },
  repositories: readonly string[],
): MetricsQuery {
  const issues: { path: string; message: string }[] = [];
  const range = input.range ?? "day";
  if (typeof range !== "string" || !(metricsRanges as readonly string[]).includes(range))
    issues.push({
      path: "range",
      message: `unknown range ${JSON.stringify(range)}: use hour, day or week`,
    });
  const repo = input.repo ?? "";
  if (typeof repo !== "string" || (repo !== "" && !repositories.includes(repo)))
    issues.push({
      path: "repo",
      message: `unknown repository ${JSON.stringify(repo)}: use one of ${repositories.join(", ") || "(none configured)"}, or leave it empty for all`,
    });
  if (issues.length) throw new ValidationError(issues);
  return { range: range as MetricsRange, repo: (repo as string) || null };
}

const int = (n: number) => sql.raw(String(Math.trunc(n)));
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const count = (v: unknown) => Number(v ?? 0);

/** Per key: how many values, and their nearest-rank p50 and p95 (as queueInsights computes). */
async function percentiles(
  db: DbLike,
  source: SQL,
): Promise<Map<string, { n: number; p50: number | null; p95: number | null }>> {
  const rows = await rawAll<{ k: unknown; n: unknown; p50: unknown; p95: unknown }>(
    db,
    sql`SELECT k, MAX(n) AS n,
          MAX(CASE WHEN rn = (n * 50) / 100 THEN v END) AS p50,
          MAX(CASE WHEN rn = (n * 95) / 100 THEN v END) AS p95
        FROM (
          SELECT k, v,
            ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) - 1 AS rn,
            COUNT(*) OVER (PARTITION BY k) AS n
          FROM (${source}) src
        ) ranked
        GROUP BY k`,
  );
  return new Map(
    rows.map((r) => [String(r.k), { n: count(r.n), p50: num(r.p50), p95: num(r.p95) }]),
  );
}

export async function metricsHistory(
  db: DbLike,
  query: MetricsQuery,
  now = Date.now(),
): Promise<MetricsHistory> {
  const { count: n, widthMs } = rangeBuckets[query.range];
  const until = Math.ceil((now + 1) / widthMs) * widthMs;
  const since = until - n * widthMs;
  const S = int(since);
  const U = int(until);
  const B = int(widthMs);
  const repoIs = (alias: string) =>
    query.repo === null ? sql`` : sql` AND ${sql.raw(alias)}.repo = ${query.repo}`;
  const finishedIn = sql`e.finished_at >= ${S} AND e.finished_at < ${U}
    AND e.state IN ('merged', 'rolled_back', 'quarantined', 'rejected')${repoIs("e")}`;
  const landed = sql`e.state IN ('merged', 'rolled_back')`;

  // Finished entries per bucket: landed, failed, and those whose log shows a conflict.
  const finishedRows = await rawAll<Record<string, unknown>>(
    db,
    sql`SELECT (e.finished_at - ${S}) / ${B} AS b,
          COUNT(*) AS finished,
          SUM(CASE WHEN ${landed} THEN 1 ELSE 0 END) AS landings,
          SUM(CASE WHEN e.state IN ('quarantined', 'rejected') THEN 1 ELSE 0 END) AS failed,
          SUM(CASE WHEN EXISTS (
            SELECT 1 FROM change_queue_logs l
            WHERE l.entry_id = e.id AND ${jsonText(sql.raw("l.event"), "error", "kind")} = 'conflict'
          ) THEN 1 ELSE 0 END) AS conflicted
        FROM queue_entries e
        WHERE ${finishedIn}
        GROUP BY (e.finished_at - ${S}) / ${B}`,
  );
  const queueTimes = sql`SELECT (e.finished_at - ${S}) / ${B} AS k, e.finished_at - e.created_at AS v
    FROM queue_entries e WHERE ${finishedIn} AND ${landed}`;
  const queueByBucket = await percentiles(db, queueTimes);
  const queueAll = await percentiles(db, sql`SELECT 0 AS k, v FROM (${queueTimes}) q`);

  // Check runs (at landing and in agents' workspaces) per bucket and per check.
  const checksIn = sql`c.at >= ${S} AND c.at < ${U}${repoIs("c")}`;
  const checkRows = await rawAll<Record<string, unknown>>(
    db,
    sql`SELECT (c.at - ${S}) / ${B} AS b, COUNT(*) AS runs,
          SUM(CASE WHEN c.outcome = 'passed' THEN 0 ELSE 1 END) AS failures
        FROM check_runs c WHERE ${checksIn}
        GROUP BY (c.at - ${S}) / ${B}`,
  );
  const checkByBucket = await percentiles(
    db,
    sql`SELECT (c.at - ${S}) / ${B} AS k, c.duration_ms AS v FROM check_runs c WHERE ${checksIn}`,
  );
  const byCheckRows = await rawAll<Record<string, unknown>>(
    db,
    sql`SELECT c."check" AS name, COUNT(*) AS runs,
          SUM(CASE WHEN c.outcome = 'passed' THEN 0 ELSE 1 END) AS failures
        FROM check_runs c WHERE ${checksIn}
        GROUP BY c."check" ORDER BY COUNT(*) DESC, c."check" LIMIT ${int(MAX_CHECKS)}`,
  );
  const checkNames = byCheckRows.map((r) => String(r.name));
  const byCheckTimes = checkNames.length
    ? await percentiles(
        db,
        sql`SELECT c."check" AS k, c.duration_ms AS v FROM check_runs c
          WHERE ${checksIn} AND c."check" IN (${sql.join(
            checkNames.map((c) => sql`${c}`),
            sql`, `,
          )})`,
      )
    : new Map();

  // Agent runs started in the window, by agent.
  const agentRows = await rawAll<Record<string, unknown>>(
    db,
    sql`SELECT r.agent AS agent, COUNT(*) AS runs,
          SUM(CASE WHEN r.state = 'submitted' THEN 1 ELSE 0 END) AS submitted,
          SUM(CASE WHEN r.state = 'no_change' THEN 1 ELSE 0 END) AS no_change,
          SUM(CASE WHEN r.state IN ('failed', 'stopped', 'lost') THEN 1 ELSE 0 END) AS failed,
          SUM(COALESCE(r.cost_usd, 0)) AS cost,
          SUM(r.input_tokens + r.output_tokens) AS tokens
        FROM agent_runs r WHERE r.created_at >= ${S} AND r.created_at < ${U}${repoIs("r")}
        GROUP BY r.agent ORDER BY COUNT(*) DESC, r.agent`,
  );

  // Spells of waiting for approval that overlap the window: from each move into
  // awaiting_approval to the entry's next move out of it (none: still waiting).
  const to = (alias: string) => jsonText(sql.raw(`${alias}.event`), "to");
  const spells = await rawAll<{ start: unknown; stop: unknown }>(
    db,
    sql`SELECT l.at AS start, (
          SELECT MIN(m.at) FROM change_queue_logs m
          WHERE m.entry_id = l.entry_id AND m.id > l.id AND ${to("m")} <> 'awaiting_approval'
        ) AS stop
        FROM queue_entries e JOIN change_queue_logs l ON l.entry_id = e.id
        WHERE (e.finished_at IS NULL OR e.finished_at >= ${S}) AND e.created_at < ${U}${repoIs("e")}
          AND ${to("l")} = 'awaiting_approval'
          AND COALESCE(${jsonText(sql.raw("l.event"), "from")}, '') <> 'awaiting_approval'
        ORDER BY l.id DESC LIMIT ${int(MAX_SPELLS)}`,
  );
  const waiting = spells.map((s) => ({ start: count(s.start), stop: num(s.stop) }));
  const waitingAt = (t: number) =>
    waiting.filter((w) => w.start <= t && (w.stop === null || w.stop > t)).length;
  const openSpells = waiting.filter((w) => w.stop === null && w.start <= now);

  const byBucket = (rows: Record<string, unknown>[]) => new Map(rows.map((r) => [String(r.b), r]));
  const finishedBy = byBucket(finishedRows);
  const checksBy = byBucket(checkRows);
  const buckets: MetricsBucket[] = Array.from({ length: n }, (_, i) => {
    const f = finishedBy.get(String(i));
    const c = checksBy.get(String(i));
    const q = queueByBucket.get(String(i));
    const ct = checkByBucket.get(String(i));
    const start = since + i * widthMs;
    return {
      start,
      landings: count(f?.landings),
      finished: count(f?.finished),
      failed: count(f?.failed),
      conflicted: count(f?.conflicted),
      queueP50Ms: q?.p50 ?? null,
      queueP95Ms: q?.p95 ?? null,
      checks: count(c?.runs),
      checkFailures: count(c?.failures),
      checkP50Ms: ct?.p50 ?? null,
      checkP95Ms: ct?.p95 ?? null,
      approvalsWaiting: waitingAt(Math.min(start + widthMs - 1, now)),
    };
  });

  const sum = (key: keyof MetricsBucket) =>
    buckets.reduce((acc, b) => acc + ((b[key] as number | null) ?? 0), 0);
  const finished = sum("finished");
  const rate = (k: number) => (finished ? k / finished : null);
  const agents = agentRows.map((r) => ({
    agent: String(r.agent),
    runs: count(r.runs),
    submitted: count(r.submitted),
    noChange: count(r.no_change),
    failed: count(r.failed),
    costUsd: Number(count(r.cost).toFixed(4)),
    tokens: count(r.tokens),
  }));
  return {
    range: query.range,
    repo: query.repo,
    since,
    until,
    bucketMs: widthMs,
    buckets,
    totals: {
      landings: sum("landings"),
      finished,
      successRate: rate(sum("landings")),
      conflictRate: rate(sum("conflicted")),
      failureRate: rate(sum("failed")),
      queueP50Ms: queueAll.get("0")?.p50 ?? null,
      queueP95Ms: queueAll.get("0")?.p95 ?? null,
      checks: sum("checks"),
      checkFailures: sum("checkFailures"),
      agentRuns: agents.reduce((a, r) => a + r.runs, 0),
      costUsd: Number(agents.reduce((a, r) => a + r.costUsd, 0).toFixed(4)),
      approvalsWaitingNow: openSpells.length,
      oldestWaitingMs: openSpells.length ? now - Math.min(...openSpells.map((w) => w.start)) : null,
    },
    checks: byCheckRows.map((r) => {
      const t = byCheckTimes.get(String(r.name));
      return {
        check: String(r.name),
        runs: count(r.runs),
        failures: count(r.failures),
        p50Ms: t?.p50 ?? null,
        p95Ms: t?.p95 ?? null,
      };
    }),
    agents,
  };
}
