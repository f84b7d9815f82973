/**
 * `npm run bench:scale [-- --changes=54 --check-s=10 --hosts=3 --threads=3 --areas=64 --window=1]`:
 * the same load landed by one worker host and by several, in one run (the one host is the
 * baseline), on the multi-host cluster of test-support/cluster.ts: PostgreSQL and a git remote
 * on host db, each worker host a network namespace (loopback where namespaces are refused; the
 * output says which) running `hyperion worker --threads N` with its own data folder and mirror.
 *
 * The load: N changes to disjoint new files spread over `--areas` areas, each lane of its own
 * (policy queue.pipeline lanes "area"), each change with one check that sleeps S seconds,
 * confined like every check. With `--window=1` a thread checks one change at a time, so a host
 * lands at most `threads` changes at once — its capacity, as its CPUs would bound checks that
 * compute — and more hosts land more at once. Timed from the first claim to the last landing
 * (queue log); the workers are started, and their threads running, before the changes are
 * queued. Each run checks that every change landed exactly once (trailers on the remote).
 * Prints a table, then one JSON line.
 *
 * The hosts share this machine's CPUs: what the checks wait on (here, sleep) scales with hosts,
 * what they and the workers compute does not. So the defaults make checks dominate (10 s, as a
 * test suite would); with 2-second checks on 2 cores the three hosts are CPU-bound
 * (docs/benchmarks.md has figures). 54 changes are whole rounds for 3 and for 9 threads, and 64
 * areas give each change a lane of its own, so no thread waits for another's lane.
 */
import { sql } from "drizzle-orm";
import { wholeArg as arg, makeCluster } from "@/test-support/cluster";

const CHANGES = arg("changes", 54);
const CHECK_S = arg("check-s", 10);
const HOSTS = arg("hosts", 3);
const THREADS = arg("threads", 3);
const AREAS = arg("areas", 64);
const WINDOW = arg("window", 1);
/** A run fails when no queue move was written for this long. */
const STALLED_MS = 120_000;

type Run = {
  hosts: number;
  seconds: number;
  merged: number;
  checkRuns: number;
  landedOnce: boolean;
  mode: string;
};

async function landWith(hosts: number): Promise<Run> {
  const cluster = await makeCluster({
    workers: hosts,
    threads: THREADS,
    checkSeconds: CHECK_S,
    areas: AREAS,
    window: WINDOW,
  });
  try {
    process.stderr.write(`${hosts} host${hosts === 1 ? "" : "s"}: ${cluster.describe}\n`);
    const one = async (q: ReturnType<typeof sql>) =>
      Number(Object.values((await cluster.rows<Record<string, unknown>>(q))[0] ?? {})[0] ?? 0);
    await Promise.all(cluster.workers.map((w) => cluster.start(w.name)));
    // Every thread running before anything is queued: their start is not what is measured.
    await poll("the queue threads to start", one, async () => {
      const n = await one(
        sql`SELECT count(*) FROM worker_heartbeats WHERE role = 'thread' AND stopped_at IS NULL`,
      );
      return n >= hosts * THREADS;
    });
    const changes = await cluster.submit(CHANGES);
    await poll(`${CHANGES} changes to land`, one, async () => {
      if (cluster.crashes.length) throw new Error(cluster.crashes.join("\n"));
      const ended = await one(
        sql`SELECT count(*) FROM queue_entries WHERE state IN ('merged', 'quarantined')`,
      );
      return ended === CHANGES;
    });
    const span = (
      await cluster.rows<{ first: number; last: number }>(
        sql`SELECT min(at) FILTER (WHERE (event::jsonb ->> 'to') = 'applying') AS first,
                   max(at) FILTER (WHERE (event::jsonb ->> 'to') IN ('merged', 'quarantined')) AS last
              FROM change_queue_logs`,
      )
    )[0];
    const trailers = await cluster.trailers();
    return {
      hosts,
      seconds: (Number(span?.last) - Number(span?.first)) / 1000,
      merged: await one(sql`SELECT count(*) FROM queue_entries WHERE state = 'merged'`),
      checkRuns: await one(sql`SELECT count(*) FROM check_runs`),
      landedOnce: trailers.size === CHANGES && changes.every((c) => trailers.get(c.id) === 1),
      mode: cluster.mode,
    };
  } finally {
    await cluster.stop();
  }
}

/** Polls until `probe` holds; fails once no queue move was written for STALLED_MS. */
async function poll(
  what: string,
  one: (q: ReturnType<typeof sql>) => Promise<number>,
  probe: () => Promise<boolean>,
): Promise<void> {
  const progress = () =>
    one(
      sql`SELECT (SELECT coalesce(max(id), 0) FROM change_queue_logs) + (SELECT count(*) FROM worker_heartbeats)`,
    );
  let seen = await progress();
  let deadline = Date.now() + STALLED_MS;
  while (!(await probe())) {
    const now = await progress();
    if (now !== seen) {
      seen = now;
      deadline = Date.now() + STALLED_MS;
    }
    if (Date.now() > deadline)
      throw new Error(`no progress for ${STALLED_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const runs: Run[] = [];
for (const hosts of HOSTS === 1 ? [1] : [1, HOSTS]) {
  const r = await landWith(hosts);
  process.stderr.write(`  ${r.seconds.toFixed(1)} s, ${r.merged} merged\n`);
  runs.push(r);
}
const base = runs[0] as Run;
const last = runs.at(-1) as Run;
const ratio = base.seconds / last.seconds;

console.log(
  `\n${CHANGES} changes to disjoint files in ${AREAS} areas (a lane each), one check of ${CHECK_S} s each, ${THREADS} threads a host, window ${WINDOW}; hosts: ${last.mode}\n`,
);
console.log(
  "| hosts | threads | seconds | changes/s | check runs / landed | merged | landed once |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const r of runs)
  console.log(
    `| ${r.hosts} | ${r.hosts * THREADS} | ${r.seconds.toFixed(1)} | ${(r.merged / r.seconds).toFixed(2)} | ${(r.checkRuns / Math.max(1, r.merged)).toFixed(2)} | ${r.merged} | ${r.landedOnce ? "yes" : "NO"} |`,
  );
console.log(`\n${last.hosts} hosts / 1 host: ${ratio.toFixed(2)}× (target ≥ 2.5×)`);
console.log(
  JSON.stringify({
    changes: CHANGES,
    check_s: CHECK_S,
    threads_per_host: THREADS,
    areas: AREAS,
    window: WINDOW,
    mode: last.mode,
    one_host_s: Number(base.seconds.toFixed(2)),
    hosts: last.hosts,
    hosts_s: Number(last.seconds.toFixed(2)),
    ratio: Number(ratio.toFixed(2)),
    check_runs_per_landed: Number((last.checkRuns / Math.max(1, last.merged)).toFixed(2)),
    landed_once: runs.every((r) => r.landedOnce && r.merged === CHANGES),
  }),
);
if (!runs.every((r) => r.landedOnce && r.merged === CHANGES)) process.exitCode = 1;
