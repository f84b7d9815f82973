import { type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "@/server/db/client";
import { rawValue } from "@/server/db/sql";
import type { HistogramRow } from "./histogram";

/** One label set's numbers in an aggregate: counts and sums, added up part by part. */
export type Part = { labels: Record<string, string>; values: number[] };
/** An aggregate's parts by the name of the figure they make. */
export type Parts = Record<string, Part[]>;

/**
 * Rows of an append-only table are settled once they are this old: a row committed later with a
 * lower id (PostgreSQL hands out ids before commit) would have to come from a transaction open
 * this long, which no move of Hyperion's is.
 */
const SETTLE_MS = 5 * 60_000;
/** Ids folded per query when catching up on a long history, the event loop free in between. */
const CHUNK = 20_000;

type Tally = { upTo: number; acc: Map<string, Map<string, Part>>; busy: Promise<void> };

const slot = globalThis as unknown as { __hyperionTallies?: WeakMap<Db, Map<string, Tally>> };

const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels));

function addInto(into: Map<string, Map<string, Part>>, parts: Parts) {
  for (const [name, rows] of Object.entries(parts)) {
    let m = into.get(name);
    if (!m) {
      m = new Map();
      into.set(name, m);
    }
    for (const r of rows) {
      const had = m.get(keyOf(r.labels));
      if (had) had.values = had.values.map((v, i) => v + (r.values[i] ?? 0));
      else m.set(keyOf(r.labels), { labels: r.labels, values: [...r.values] });
    }
  }
}

/**
 * An aggregate over an append-only table (change_queue_logs, check_runs) at bounded cost: the
 * rows settled since the last scrape are folded once into totals this process keeps, and only
 * the rows newer than that (the last few minutes) are read at every scrape. The totals are the
 * database's, not the process's: every process that answers a scrape folds the same rows and
 * reports the same figures. A process's first scrape reads the history in chunks of ids.
 *
 * `read(range)` aggregates the rows `range` selects; its figures must add up (counts, sums).
 */
export async function tallied(
  db: Db,
  name: string,
  table: { self: SQL; id: SQLiteColumn; at: SQLiteColumn },
  read: (range: SQL) => Promise<Parts>,
  now: number,
): Promise<Parts> {
  slot.__hyperionTallies ??= new WeakMap();
  let byName = slot.__hyperionTallies.get(db);
  if (!byName) {
    byName = new Map();
    slot.__hyperionTallies.set(db, byName);
  }
  let tally = byName.get(name);
  if (!tally) {
    tally = { upTo: 0, acc: new Map(), busy: Promise.resolve() };
    byName.set(name, tally);
  }
  const t = tally;
  const range = (lo: number, hi: number | null) =>
    hi === null ? sql`${table.id} > ${lo}` : sql`${table.id} > ${lo} AND ${table.id} <= ${hi}`;
  // One fold at a time per table, so two scrapes at once never add the same rows twice.
  const fold = t.busy.then(async () => {
    const settled = Number(
      (await rawValue(
        db,
        sql`SELECT max(${table.id}) FROM ${table.self}
            WHERE ${table.id} > ${t.upTo} AND ${table.at} < ${now - SETTLE_MS}`,
      )) ?? 0,
    );
    while (t.upTo < settled) {
      const hi = Math.min(settled, t.upTo + CHUNK);
      addInto(t.acc, await read(range(t.upTo, hi)));
      t.upTo = hi;
      if (t.upTo < settled) await new Promise((resolve) => setImmediate(resolve));
    }
  });
  t.busy = fold.catch(() => {});
  await fold;
  const total = new Map<string, Map<string, Part>>();
  for (const [n, m] of t.acc)
    total.set(n, new Map([...m].map(([k, p]) => [k, { labels: p.labels, values: [...p.values] }])));
  addInto(total, await read(range(t.upTo, null)));
  return Object.fromEntries([...total].map(([n, m]) => [n, [...m.values()]]));
}

/** A histogram's rows as parts (buckets…, count, sum), and back. */
export const histogramParts = (rows: HistogramRow[]): Part[] =>
  rows.map((r) => ({ labels: r.labels, values: [...r.buckets, r.count, r.sum] }));

export function histogramRows(
  parts: Part[] | undefined,
  bounds: readonly number[],
): HistogramRow[] {
  return (parts ?? []).map((p) => ({
    labels: p.labels,
    buckets: p.values.slice(0, bounds.length),
    count: p.values[bounds.length] ?? 0,
    sum: p.values[bounds.length + 1] ?? 0,
  }));
}
