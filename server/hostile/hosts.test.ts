import { type SQL, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { leasedStates } from "@/server/state/queue/states";
import { type Change, type Cluster, makeCluster } from "@/test-support/cluster";
import { findPostgresBin, POSTGRES_MISSING } from "@/test-support/postgres";
import { mulberry32 } from "@/test-support/seeded";

// Several hosts on one machine (issue 21): PostgreSQL and the git remote on host db, three
// worker hosts with three queue threads each, in network namespaces (or on loopback where
// namespaces are refused: the test says which). 300 changes with 1-second checks land while
// workers are SIGKILLed at seeded moments of the progress and restarted, and one host is cut off
// by taking its link down and, once its entries were taken over, brought back. Afterwards:
// - every change landed exactly once: its trailer counted on the remote's main;
// - nothing is left claimed: no entry leased, every entry merged;
// - every entry a host held when it was killed or cut off was taken over, and nothing was taken
//   from a host before anything hit it. A takeover is the `lease_expired` move that takes an
//   entry from a dead or cut-off owner (change_queue_logs: the row's `worker` is the owner it was
//   taken from, `at` the moment the taker judged the lease lost). Its delay — that `at` minus
//   the moment the test sent SIGKILL or took the link down — and when the test saw it committed
//   are printed, not asserted: they measure the machine as much as Hyperion (a cut host's open
//   transaction keeps its row locks until PostgreSQL ends its session, 30 s).
// Waits are for progress (queue moves written), with a deadline that moves on while progress is
// made; the chaos is placed by counts of merged changes, not by the clock.

/**
 * 300 unless HOSTS_CHANGES says otherwise (`npm test` runs 120). Every kill and cut hits a host
 * that holds an entry at that moment, at a mark below half of the changes, and waits for at most
 * the changes that are left: a short run once failed with all its changes landed, still waiting
 * for a chosen host to hold an entry, or for more changes to land than there were.
 */
const N = Number(process.env.HOSTS_CHANGES ?? 300);
const CHECK_S = 1;
const WORKERS = 3;
const THREADS = 3;
const LEASE_MS = 5000;
const SEED = 2121;
/** A wait fails when no queue move was written for this long. */
const STALLED_MS = 90_000;

const missing = findPostgresBin() === null;

type ChaosEvent = {
  kind: "kill" | "cut";
  host: string;
  /** When SIGKILL was sent or the link went down (ms epoch). */
  at: number;
  /** The supervisor of the worker it hit: its threads' leases are `${supervisor}/tN`. */
  supervisor: string;
  /** The entries its threads held at that moment. */
  held: number[];
  /** Merged changes when it happened. */
  merged: number;
  /**
   * When this test first saw each held entry's takeover committed (polling every 100 ms): a
   * bound on the log's `at`, which the taker writes before its commit.
   */
  seen: Map<number, number>;
};

let cluster: Cluster;
let changes: Change[] = [];
const events: ChaosEvent[] = [];
const leased = sql.raw(leasedStates.map((s) => `'${s}'`).join(", "));

const one = async (query: SQL): Promise<number> => {
  const [row] = await cluster.rows<Record<string, unknown>>(query);
  return Number(Object.values(row ?? {})[0] ?? 0);
};
const merged = () => one(sql`SELECT count(*) FROM queue_entries WHERE state = 'merged'`);
/** Every queue move and every worker start adds to this. */
const progress = () =>
  one(
    sql`SELECT (SELECT coalesce(max(id), 0) FROM change_queue_logs) + (SELECT count(*) FROM worker_heartbeats)`,
  );

/**
 * Polls `probe` until it returns something truthy. The deadline only turns a hang into a
 * failure: it runs from the last queue move, so a slow machine that keeps landing is waited for.
 */
async function until<T>(what: string, probe: () => Promise<T>): Promise<NonNullable<T>> {
  let seen = await progress();
  let deadline = Date.now() + STALLED_MS;
  for (;;) {
    // A worker must survive what the test does to it, but SIGKILL.
    if (cluster.crashes.length) throw new Error(`a worker crashed:\n${cluster.crashes.join("\n")}`);
    const value = await probe();
    if (value) return value as NonNullable<T>;
    const now = await progress();
    if (now !== seen) {
      seen = now;
      deadline = Date.now() + STALLED_MS;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: no queue move for ${STALLED_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The entries the threads of `supervisor` hold now. */
const heldBy = async (supervisor: string) =>
  (
    await cluster.rows<{ id: number }>(
      sql`SELECT id FROM queue_entries
           WHERE state IN (${leased}) AND lease_owner LIKE ${`${supervisor}/%`} ORDER BY id`,
    )
  ).map((r) => Number(r.id));

/** The takeovers from `supervisor`'s threads: entry, when, and by whom the move was logged. */
const takeoversFrom = async (supervisor: string) =>
  (
    await cluster.rows<{ entry_id: number; at: number }>(
      sql`SELECT entry_id, at FROM change_queue_logs
           WHERE (event::jsonb #>> '{error,kind}') = 'lease_expired'
             AND (event::jsonb ->> 'worker') LIKE ${`${supervisor}/%`}
           ORDER BY id`,
    )
  ).map((r) => ({ entry: Number(r.entry_id), at: Number(r.at) }));

describe.skipIf(missing)(
  `workers on three hosts, killed and cut off${missing ? ` (skipped: ${POSTGRES_MISSING})` : ""}`,
  () => {
    beforeAll(async () => {
      cluster = await makeCluster({
        workers: WORKERS,
        threads: THREADS,
        checkSeconds: CHECK_S,
        leaseMs: LEASE_MS,
      });
      console.log(`${cluster.describe}; seed ${SEED}`);
    }, 120_000);

    afterAll(async () => {
      await cluster?.stop();
    }, 120_000);

    it(
      `lands ${N} changes exactly once while workers are SIGKILLed and a host is cut off`,
      async () => {
        onTestFailed(async () => {
          for (const w of cluster.workers)
            console.error(`--- ${w.name}'s worker log ---\n${cluster.logTail(w.name, 30)}`);
          console.error(
            JSON.stringify(
              await cluster.rows(
                sql`SELECT state, count(*) AS n FROM queue_entries GROUP BY state ORDER BY state`,
              ),
            ),
          );
          console.error(JSON.stringify(events));
        });
        const started = Date.now();
        const rnd = mulberry32(SEED);
        const names = cluster.workers.map((w) => w.name);

        changes = await cluster.submit(N);
        await Promise.all(names.map((h) => cluster.start(h)));

        // The chaos: four kills and one cut, in a seeded order, each at a seeded count of merged
        // changes between 10% and 50% of N (the takeovers between them land more).
        const kinds: ChaosEvent["kind"][] = ["kill", "kill", "kill", "kill", "cut"];
        if (!cluster.hosts.canCut) {
          kinds.pop();
          console.log("loopback mode: no host is cut off, only killed");
        }
        for (let i = kinds.length - 1; i > 0; i--) {
          const j = Math.floor(rnd() * (i + 1));
          [kinds[i], kinds[j]] = [kinds[j] as ChaosEvent["kind"], kinds[i] as ChaosEvent["kind"]];
        }
        const marks = kinds.map(() => Math.floor(N * (0.1 + 0.4 * rnd()))).sort((a, b) => a - b);

        for (const [i, kind] of kinds.entries()) {
          const pick = rnd();
          const mark = marks[i] as number;
          await until(`${mark} changes merged`, async () => (await merged()) >= mark);
          // A host that holds something at that moment, so that there is something to take over:
          // the seeded pick among the hosts holding entries.
          const { host, supervisor } = await until(`a host to hold an entry`, async () => {
            if ((await merged()) === N)
              throw new Error(
                `all ${N} changes landed before the ${kind} (${i + 1} of ${kinds.length}): too few changes for the chaos (HOSTS_CHANGES)`,
              );
            const holding: { host: string; supervisor: string }[] = [];
            for (const name of names) {
              const s = await cluster.supervisor(name);
              if (s && (await heldBy(s)).length > 0) holding.push({ host: name, supervisor: s });
            }
            return holding[Math.floor(pick * holding.length)];
          });
          const at = kind === "kill" ? await cluster.kill(host) : await cluster.cut(host);
          const event: ChaosEvent = {
            kind,
            host,
            at,
            supervisor,
            held: await heldBy(supervisor),
            merged: await merged(),
            seen: new Map(),
          };
          events.push(event);
          console.log(
            `${kind} ${host} at ${event.merged} merged (${Math.round((at - started) / 1000)} s): it held ${event.held.map((e) => `Q${e}`).join(" ")}`,
          );
          // Back once what it held was taken over and a few more changes landed: for a cut, the
          // host comes back to find its leases gone; for a kill, a new worker starts on the host.
          const more = Math.min(N, event.merged + 3 + Math.floor(rnd() * 10));
          await until(`${host}'s entries to be taken over`, async () => {
            const taken = (await takeoversFrom(supervisor)).filter((t) => t.at >= at);
            for (const t of taken)
              if (!event.seen.has(t.entry)) event.seen.set(t.entry, Date.now());
            return event.held.every((e) => event.seen.has(e)) && (await merged()) >= more;
          });
          if (kind === "kill") await cluster.start(host);
          else await cluster.heal(host);
        }

        await until(`all ${N} changes to end`, async () => {
          const quarantined = await cluster.rows<{ id: number; last_error: string }>(
            sql`SELECT id, last_error FROM queue_entries WHERE state = 'quarantined'`,
          );
          if (quarantined.length)
            throw new Error(`quarantined, not landed: ${JSON.stringify(quarantined)}`);
          return (await merged()) === N;
        });
        const seconds = Math.round((Date.now() - started) / 1000);

        // Every change exactly once on the remote's main, and nothing else of ours there.
        const trailers = await cluster.trailers();
        const counts = changes.map((c) => trailers.get(c.id) ?? 0);
        expect(
          counts.filter((n) => n !== 1).length,
          "changes whose trailer is not there once",
        ).toBe(0);
        expect([...trailers.keys()].sort((a, b) => a - b)).toEqual(
          changes.map((c) => c.id).sort((a, b) => a - b),
        );

        // Nothing left claimed.
        expect(
          await cluster.rows(
            sql`SELECT id, state, lease_owner FROM queue_entries
               WHERE state <> 'merged' OR lease_owner IS NOT NULL OR state IN (${leased})`,
          ),
        ).toEqual([]);

        // Takeovers: each is put down to the last event that hit its owner's worker before it
        // (a worker cut off and healed may be killed later); one before any event was taken from a
        // live worker. Every entry held at an event was taken over after it.
        const report: string[] = [];
        const supervisors = [...new Set(events.map((e) => e.supervisor))];
        const fromOthers = await cluster.rows<{ entry_id: number; worker: string }>(
          sql`SELECT entry_id, event::jsonb ->> 'worker' AS worker FROM change_queue_logs
               WHERE (event::jsonb #>> '{error,kind}') = 'lease_expired'
                 AND split_part(event::jsonb ->> 'worker', '/', 1) NOT IN (${sql.join(
                   supervisors.map((id) => sql`${id}`),
                   sql`, `,
                 )})`,
        );
        expect(fromOthers, "leases taken from workers nothing had hit").toEqual([]);
        for (const supervisor of supervisors) {
          const hits = events.filter((e) => e.supervisor === supervisor);
          const taken = await takeoversFrom(supervisor);
          const cause = (t: { at: number }) => hits.filter((e) => e.at <= t.at).at(-1);
          expect(
            taken.filter((t) => !cause(t)),
            `taken from ${supervisor} while nothing had hit it`,
          ).toEqual([]);
          for (const e of hits) {
            const mine = taken.filter((t) => cause(t) === e);
            const delays = mine.map((t) => t.at - e.at);
            report.push(
              `${e.kind} ${e.host} (${e.supervisor}) holding ${e.held.length}: taken over after ${delays.map((d) => `${d} ms`).join(", ") || "-"} (seen committed after ${e.held.map((id) => `${(e.seen.get(id) ?? Number.NaN) - e.at} ms`).join(", ")})`,
            );
            expect(
              e.held.filter((id) => !mine.some((t) => t.entry === id)),
              `${e.kind} of ${e.host}: held entries never taken over`,
            ).toEqual([]);
            // How soon is not asserted: that is a clock, and on a busy CI machine a worker
            // starved of CPU renews, claims and commits late without any fault (a takeover seen
            // 30 s after a cut, once, when the cut host left a transaction open until PostgreSQL
            // ended its session: idle_in_transaction_session_timeout, server/db/client.ts). The
            // delays are in the report printed below; that every held entry was taken over,
            // after the event, and landed once is what must hold at any speed.
          }
        }
        console.log(
          `${N} changes landed once each in ${seconds} s on ${WORKERS} hosts (${cluster.mode}); lease ${LEASE_MS} ms\n${report.join("\n")}`,
        );
        console.log(await cluster.status("w1"));
      },
      30 * 60_000,
    );
  },
);
